/**
 * The abort rule: once `minFinished` devices have a final result, the task aborts when the failed
 * ones reach `failedCount` or `failedPercent` of them. Cancelled devices are no evidence either way
 * and count in neither.
 */
import type { RolloutPolicy } from './definitions';

type Abort = NonNullable<RolloutPolicy['abort']>;

export interface FinishedCounts {
  succeeded: number;
  failed: number;
}

/** Why the task must abort, or undefined while it may go on. */
export function abortReason(abort: Abort | undefined, counts: FinishedCounts): string | undefined {
  if (!abort) return undefined;
  const finished = counts.succeeded + counts.failed;
  if (finished === 0 || finished < abort.minFinished) return undefined;
  const { failed } = counts;
  if (abort.failedCount !== undefined && failed >= abort.failedCount) {
    return `${failed} of ${finished} finished devices failed, the limit is ${abort.failedCount}`;
  }
  const percent = (failed * 100) / finished;
  if (abort.failedPercent !== undefined && percent >= abort.failedPercent) {
    return (
      `${failed} of ${finished} finished devices failed (${Math.round(percent * 10) / 10}%), ` +
      `the limit is ${abort.failedPercent}%`
    );
  }
  return undefined;
}
