import type { WorkflowClient, WorkflowExecutionInfo } from '@temporalio/client';

/**
 * One page of the runs a visibility query finds, newest first (Temporal's order for runs that do not
 * overlap, or that all still run), the cursor being the last run's start time.
 */
export async function runsByStartTime(
  temporal: { workflow: Pick<WorkflowClient, 'list'> },
  conditions: string[],
  page: { limit: number; cursor?: string },
): Promise<{ runs: WorkflowExecutionInfo[]; nextCursor?: string }> {
  const query = [...conditions, ...(page.cursor ? [`StartTime < ${quoted(page.cursor)}`] : [])].join(' AND ');
  const runs: WorkflowExecutionInfo[] = [];
  for await (const info of temporal.workflow.list({ query, pageSize: page.limit + 1 })) {
    runs.push(info);
    if (runs.length > page.limit) break;
  }
  const shown = runs.slice(0, page.limit);
  return {
    runs: shown,
    nextCursor: runs.length > page.limit ? shown.at(-1)?.startTime.toISOString() : undefined,
  };
}

/** A visibility query's string literal: the values come from the API's paths and queries. */
export function quoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
