import type { DeviceUpgradeResult, UpgradeOutcome, UpgradeStep } from '../../workflows/definitions';
import type { Database } from './database';
import { type Page, type PageRequest, toPage } from './paging';

type Queryable = Pick<Database, 'query'>;

export type TaskState = 'running' | 'completed' | 'cancelling' | 'cancelled';

/** A device's step in a task: 'pending' until its workflow records the first one. */
export type TaskDeviceStep = 'pending' | UpgradeStep;

export interface Task {
  id: string;
  packageId: string;
  state: TaskState;
  callbackUrl: string | null;
  deviceCount: number;
  createdAt: Date;
  finishedAt: Date | null;
}

export interface TaskDevice {
  deviceId: string;
  step: TaskDeviceStep;
  outcome: UpgradeOutcome | null;
  failureCause: string | null;
  failureDetail: string | null;
  progress: number | null;
  progressDescription: string | null;
  fromVersion: string | null;
  toVersion: string;
  startedAt: Date | null;
  updatedAt: Date;
  finishedAt: Date | null;
}

export interface TaskCounts {
  byStep: Record<string, number>;
  byOutcome: Record<string, number>;
  byFailureCause: Record<string, number>;
}

interface TaskRow {
  id: string;
  package_id: string;
  state: TaskState;
  callback_url: string | null;
  device_count: number;
  created_at: Date;
  finished_at: Date | null;
}

interface TaskDeviceRow {
  device_id: string;
  step: TaskDeviceStep;
  outcome: UpgradeOutcome | null;
  failure_cause: string | null;
  failure_detail: string | null;
  progress: number | null;
  progress_description: string | null;
  from_version: string | null;
  to_version: string;
  started_at: Date | null;
  updated_at: Date;
  finished_at: Date | null;
}

const taskColumns = 'id, package_id, state, callback_url, device_count, created_at, finished_at';
const taskDeviceColumns = `device_id, step, outcome, failure_cause, failure_detail, progress, progress_description,
  from_version, to_version, started_at, updated_at, finished_at`;

function toTask(row: TaskRow): Task {
  return {
    id: row.id,
    packageId: row.package_id,
    state: row.state,
    callbackUrl: row.callback_url,
    deviceCount: Number(row.device_count),
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

function toTaskDevice(row: TaskDeviceRow): TaskDevice {
  return {
    deviceId: row.device_id,
    step: row.step,
    outcome: row.outcome,
    failureCause: row.failure_cause,
    failureDetail: row.failure_detail,
    progress: row.progress,
    progressDescription: row.progress_description,
    fromVersion: row.from_version,
    toVersion: row.to_version,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}

export interface NewTask {
  id: string;
  packageId: string;
  callbackUrl?: string;
  deviceIds: string[];
  /** The package's version: what every device is upgraded to. */
  toVersion: string;
}

/** The task and one 'pending' row per device; run it in a transaction so both land or neither. */
export async function insertTask(db: Queryable, task: NewTask): Promise<Task> {
  const { rows } = await db.query<TaskRow>(
    `insert into tasks (id, package_id, state, callback_url, device_count) values ($1, $2, 'running', $3, $4)
     returning ${taskColumns}`,
    [task.id, task.packageId, task.callbackUrl ?? null, task.deviceIds.length],
  );
  await db.query(
    `insert into task_devices (task_id, device_id, step, to_version)
     select $1, device_id, 'pending', $3 from unnest($2::text[]) as device_id`,
    [task.id, task.deviceIds, task.toVersion],
  );
  const inserted = rows[0];
  if (!inserted) throw new Error(`task ${task.id} was not inserted`);
  return toTask(inserted);
}

/** Removes a task whose workflow could not be started. */
export async function deleteTask(db: Queryable, id: string): Promise<void> {
  await db.query('delete from tasks where id = $1', [id]);
}

export async function findTask(db: Queryable, id: string): Promise<Task | undefined> {
  const { rows } = await db.query<TaskRow>(`select ${taskColumns} from tasks where id = $1`, [id]);
  return rows[0] && toTask(rows[0]);
}

export async function countTaskDevices(db: Queryable, taskId: string): Promise<TaskCounts> {
  const { rows } = await db.query<{
    step: string;
    outcome: string | null;
    failure_cause: string | null;
    count: number | string;
  }>(
    `select step, outcome, failure_cause, count(*) as count from task_devices where task_id = $1
     group by step, outcome, failure_cause`,
    [taskId],
  );
  const counts: TaskCounts = { byStep: {}, byOutcome: {}, byFailureCause: {} };
  const add = (tally: Record<string, number>, key: string | null, count: number) => {
    if (key !== null) tally[key] = (tally[key] ?? 0) + count;
  };
  for (const row of rows) {
    const count = Number(row.count);
    add(counts.byStep, row.step, count);
    add(counts.byOutcome, row.outcome, count);
    add(counts.byFailureCause, row.failure_cause, count);
  }
  return counts;
}

export async function listTaskDevices(
  db: Queryable,
  taskId: string,
  page: PageRequest,
): Promise<Page<TaskDevice>> {
  const { rows } = await db.query<TaskDeviceRow>(
    `select ${taskDeviceColumns} from task_devices
     where task_id = $1 and ($2::text is null or device_id > $2) order by device_id limit $3`,
    [taskId, page.cursor ?? null, page.limit + 1],
  );
  return toPage(rows.map(toTaskDevice), page.limit, (device) => device.deviceId);
}

/** Undefined when the task is not running (finished, or already being cancelled). */
export async function markTaskCancelling(db: Queryable, id: string): Promise<Task | undefined> {
  const { rows } = await db.query<TaskRow>(
    `update tasks set state = 'cancelling' where id = $1 and state = 'running' returning ${taskColumns}`,
    [id],
  );
  return rows[0] && toTask(rows[0]);
}

/** A task being cancelled ends cancelled, any other completed; finishing twice changes nothing. */
export async function finishTask(db: Queryable, id: string, at: Date): Promise<Task | undefined> {
  const { rows } = await db.query<TaskRow>(
    `update tasks set
       state = case when state in ('cancelling', 'cancelled') then 'cancelled' else 'completed' end,
       finished_at = coalesce(finished_at, $2)
     where id = $1 returning ${taskColumns}`,
    [id, at],
  );
  return rows[0] && toTask(rows[0]);
}

/** Steps after a device's result is in are ignored, so a late activity retry cannot undo it. */
export async function recordStep(
  db: Queryable,
  taskId: string,
  deviceId: string,
  step: UpgradeStep,
  fromVersion: string | undefined,
  at: Date,
): Promise<void> {
  await db.query(
    `update task_devices set step = $3, from_version = coalesce($4, from_version),
       started_at = coalesce(started_at, $5), updated_at = $5
     where task_id = $1 and device_id = $2 and finished_at is null`,
    [taskId, deviceId, step, fromVersion ?? null, at],
  );
}

const finalStep: Record<UpgradeOutcome, UpgradeStep> = {
  succeeded: 'succeeded',
  'already-latest': 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** Idempotent: a retried write leaves the row as the first one did, apart from `updated_at`. */
export async function recordDeviceResult(
  db: Queryable,
  result: DeviceUpgradeResult,
  at: Date,
): Promise<void> {
  await db.query(
    `update task_devices set step = $3, outcome = $4, failure_cause = $5, failure_detail = $6,
       from_version = coalesce($7, from_version), to_version = $8,
       started_at = coalesce(started_at, $9), updated_at = $9, finished_at = coalesce(finished_at, $9)
     where task_id = $1 and device_id = $2`,
    [
      result.taskId,
      result.deviceId,
      finalStep[result.outcome],
      result.outcome,
      result.cause ?? null,
      result.detail ?? null,
      result.fromVersion ?? null,
      result.toVersion,
      at,
    ],
  );
}

/** Progress goes to the device's unfinished upgrade; with none in flight it is dropped. */
export async function recordProgress(
  db: Queryable,
  deviceId: string,
  progress: number,
  description: string | undefined,
  at: Date,
): Promise<void> {
  await db.query(
    `update task_devices set progress = $2, progress_description = $3, updated_at = $4
     where device_id = $1 and finished_at is null and step <> 'pending'`,
    [deviceId, progress, description ?? null, at],
  );
}

/**
 * MQTT devices whose upgrade waits for them to come online. A gateway starting up asks them for their
 * version: one that connected while no gateway was watching answers, and its answer announces it.
 */
export async function findMqttDevicesAwaitingOnline(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ device_id: string }>(
    `select distinct td.device_id from task_devices td join devices d on d.id = td.device_id
      where td.finished_at is null and td.step = 'waiting-online' and d.protocol = 'mqtt'`,
  );
  return rows.map((row) => row.device_id);
}
