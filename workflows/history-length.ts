import { workflowInfo } from '@temporalio/workflow';

/**
 * Whether a long-lived workflow (a rollout task, a cell limiter) should continue as new: Temporal
 * suggests it, or its history has reached `limit` events, well before the server's own limits.
 */
export function historyIsLong(limit: number): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= limit;
}
