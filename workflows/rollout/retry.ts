/**
 * Per-device retries: a failed attempt whose cause is worth retrying (by default the seed's
 * platform-side timeouts) is tried again after an exponential backoff, up to `maxAttempts` in all.
 * The device-result activity and the task workflow both decide with `isRetried`, so the row the API
 * shows and the workflow agree.
 */
import type { UpgradeOutcome } from '../definitions';
import { type FailureCause, PlatformCause } from '../failure-causes';
import type { RetryPolicy } from './definitions';

/** The timeouts of the seed's tables: the device was away, slow or silent, and may not be next time. */
export const defaultRetryCauses: readonly FailureCause[] = [
  PlatformCause.onlineTimeout,
  PlatformCause.resultTimeout,
  PlatformCause.versionTimeout,
  PlatformCause.cellIdTimeout,
  PlatformCause.updateAndVersionCheckTimeout,
  PlatformCause.downloadedTimeout,
  PlatformCause.startUpdateTimeout,
  PlatformCause.startDownloadTimeout,
];

/** True when the attempt that ended so, the `attempts`-th, gets another one. */
export function isRetried(
  retry: RetryPolicy | undefined,
  ended: { outcome: UpgradeOutcome; cause?: FailureCause | string },
  attempts: number,
): boolean {
  if (!retry || ended.outcome !== 'failed' || ended.cause === undefined) return false;
  const causes: readonly string[] = retry.causes ?? defaultRetryCauses;
  return causes.includes(ended.cause) && attempts < retry.maxAttempts;
}

/** How long after its `attempts`-th attempt failed a device is tried again. */
export function retryDelayMs(retry: RetryPolicy, attempts: number): number {
  const seconds = retry.initialIntervalSeconds * retry.backoffCoefficient ** Math.max(0, attempts - 1);
  return Math.min(seconds, retry.maxIntervalSeconds) * 1000;
}
