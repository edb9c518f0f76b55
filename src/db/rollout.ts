/** What the rollout task workflow's activities read and write: targets in start order, attempts, task state. */
import type { DeviceUpgradeResult } from '../../workflows/definitions';
import type { TaskState, TaskTargetDevice } from '../../workflows/rollout/definitions';
import type { Database } from './database';
import { STEP_CHANGE_COLUMNS, type StepChange, type StepChangeRow, stepChange } from './tasks';

type Queryable = Pick<Database, 'query'>;

/** The task's devices still pending after `afterSeq`, in start order. */
export async function nextTaskDevices(
  db: Queryable,
  taskId: string,
  afterSeq: number,
  limit: number,
): Promise<TaskTargetDevice[]> {
  const { rows } = await db.query<{ device_id: string; protocol: 'mqtt' | 'lwm2m'; seq: number | string }>(
    `select td.device_id, d.protocol, td.seq from task_devices td join devices d on d.id = td.device_id
      where td.task_id = $1 and td.seq > $2 and td.step = 'pending' order by td.seq limit $3`,
    [taskId, afterSeq, limit],
  );
  return rows.map((row) => ({ deviceId: row.device_id, protocol: row.protocol, seq: Number(row.seq) }));
}

/**
 * A task being cancelled stays so until it finishes (the API set it; the workflow may not have seen
 * the cancellation yet); a finished task changes no more.
 */
export async function recordTaskState(
  db: Queryable,
  taskId: string,
  state: TaskState,
  reason: string | undefined,
): Promise<void> {
  await db.query(
    `update tasks set state = $2, state_reason = $3
      where id = $1 and finished_at is null and (state <> 'cancelling' or $2 = 'cancelling')`,
    [taskId, state, reason ?? null],
  );
}

/** A rollout task device's latest attempt, locked until the transaction ends. */
export interface DeviceAttempt {
  rollout: boolean;
  step: string;
  attempts: number;
  resultRunId: string | null;
  finished: boolean;
  /** When a retrying device's next attempt is due (ms since the epoch); undefined otherwise. */
  retryAt: number | undefined;
  /** The step the attempt is at, which its result ends; undefined once its result is in. */
  stepChange: StepChange | undefined;
}

export async function lockDeviceAttempt(
  db: Queryable,
  taskId: string,
  deviceId: string,
): Promise<DeviceAttempt | undefined> {
  const { rows } = await db.query<
    {
      rollout: boolean;
      step: string;
      attempts: number;
      result_run_id: string | null;
      finished: boolean;
      retry_at: Date | null;
    } & StepChangeRow
  >(
    `select t.rollout is not null as rollout, td.step, td.attempts, td.result_run_id,
            td.finished_at is not null as finished, td.retry_at, td.step_started_at,
            ${STEP_CHANGE_COLUMNS}
       from task_devices td join tasks t on t.id = td.task_id
      where td.task_id = $1 and td.device_id = $2 for update of td`,
    [taskId, deviceId],
  );
  const row = rows[0];
  return (
    row && {
      rollout: row.rollout,
      step: row.step,
      attempts: Number(row.attempts),
      resultRunId: row.result_run_id,
      finished: row.finished,
      retryAt: row.retry_at && !row.finished ? new Date(row.retry_at).getTime() : undefined,
      stepChange: row.finished ? undefined : stepChange(row),
    }
  );
}

/** A failed attempt that will be tried again: the row shows its cause and when the next attempt is due. */
export async function recordRetryingAttempt(
  db: Queryable,
  result: DeviceUpgradeResult,
  attempt: { attempts: number; runId: string; retryAt: Date },
  at: Date,
): Promise<void> {
  await db.query(
    `update task_devices set step = 'retrying', failure_cause = $3, failure_detail = $4,
       from_version = coalesce($5, from_version), attempts = $6, result_run_id = $7, retry_at = $8,
       progress = null, progress_description = null, started_at = coalesce(started_at, $9), updated_at = $9
     where task_id = $1 and device_id = $2 and finished_at is null`,
    [
      result.taskId,
      result.deviceId,
      result.cause ?? null,
      result.detail ?? null,
      result.fromVersion ?? null,
      attempt.attempts,
      attempt.runId,
      attempt.retryAt,
      at,
    ],
  );
}

/** A device the task ended without another attempt, as its `device.result` event reports it. */
export interface ClosedTaskDevice {
  deviceId: string;
  outcome: 'cancelled' | 'failed';
  failureCause: string | null;
  failureDetail: string | null;
  fromVersion: string | null;
  toVersion: string;
  attempts: number;
}

/**
 * Up to `limit` devices still pending after `afterSeq` end cancelled with `cause`, and the given
 * devices awaiting a retry end failed with their last attempt's cause. Rows already closed are left
 * alone, so a repeat closes nothing more.
 */
export async function closeUnstartedTaskDevices(
  db: Queryable,
  request: { taskId: string; afterSeq: number; awaitingRetry: string[]; cause: string },
  limit: number,
  at: Date,
): Promise<ClosedTaskDevice[]> {
  const { rows } = await db.query<{
    device_id: string;
    outcome: 'cancelled' | 'failed';
    failure_cause: string | null;
    failure_detail: string | null;
    from_version: string | null;
    to_version: string;
    attempts: number;
  }>(
    `update task_devices set
       step = case when step = 'retrying' then 'failed' else 'cancelled' end,
       outcome = case when step = 'retrying' then 'failed' else 'cancelled' end,
       failure_cause = case when step = 'retrying' then failure_cause else $4 end,
       retry_at = null, updated_at = $5, finished_at = $5
     where task_id = $1 and finished_at is null
       and (seq in (select seq from task_devices where task_id = $1 and step = 'pending' and seq > $2
                     order by seq limit $6)
            or (step = 'retrying' and device_id = any($3::text[])))
     returning device_id, outcome, failure_cause, failure_detail, from_version, to_version, attempts`,
    [request.taskId, request.afterSeq, request.awaitingRetry, request.cause, at, limit],
  );
  return rows.map((row) => ({
    deviceId: row.device_id,
    outcome: row.outcome,
    failureCause: row.failure_cause,
    failureDetail: row.failure_detail,
    fromVersion: row.from_version,
    toVersion: row.to_version,
    attempts: Number(row.attempts),
  }));
}
