/** What the limiter scenario's requester workflows and their worker share. */
import { defineSignal } from '@temporalio/workflow';

export const LIMITER_REQUESTER_TASK_QUEUE = 'otaflow-bench-limiter';

export interface LimiterRequesterInput {
  deviceId: string;
  cellId: string;
  /** The cell's permits as the device sees them (`PermitRequest.limit`). */
  limit: number;
  /** How long the permit is held once granted. */
  holdMs: number;
  /**
   * Holds the permit until `releaseHoldSignal` instead of for `holdMs`: the scenario's blockers take
   * every permit so that the other requesters all queue before the first grant to them.
   */
  holdUntilReleased?: boolean;
}

export const releaseHoldSignal = defineSignal('releaseHold');
