import type { DeviceUpgradeResult, UpgradeOutcome, UpgradeStep } from '../../workflows/definitions';
import type { DeviceFilter, RolloutPolicy, TargetMode, TaskState } from '../../workflows/rollout/definitions';
import type { Database } from './database';
import { type Page, type PageRequest, toPage } from './paging';

type Queryable = Pick<Database, 'query'>;

export type { TaskState };

/** A device's step in a task: 'pending' until its workflow records the first one; 'retrying' between attempts. */
export type TaskDeviceStep = 'pending' | 'retrying' | UpgradeStep;

/** States a task leaves only by an API action or its workflow; the others are final. */
export const activeTaskStates: readonly TaskState[] = ['scheduled', 'running', 'paused'];

/**
 * The target as the task keeps it: a group or filter as given (a continuous task matches it again),
 * a device list as its length (its rows are the list).
 */
export type StoredTaskTarget =
  | { deviceList: { count: number } }
  | { groupId: string }
  | { filter: DeviceFilter };

export interface Task {
  id: string;
  name: string | null;
  packageId: string;
  state: TaskState;
  stateReason: string | null;
  /** Null for tasks created before rollout control (none since 0.1.0), like `rollout`. */
  target: StoredTaskTarget | null;
  mode: TargetMode;
  rollout: RolloutPolicy | null;
  /** Only tasks of the first task workflow have one; webhooks replace it. */
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
  attempts: number;
  retryAt: Date | null;
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
  name: string | null;
  package_id: string;
  state: TaskState;
  state_reason: string | null;
  target: StoredTaskTarget | null;
  mode: TargetMode;
  rollout: RolloutPolicy | null;
  callback_url: string | null;
  device_count: number;
  created_at: Date;
  finished_at: Date | null;
}

interface TaskDeviceRow {
  seq: number | string;
  device_id: string;
  step: TaskDeviceStep;
  outcome: UpgradeOutcome | null;
  failure_cause: string | null;
  failure_detail: string | null;
  progress: number | null;
  progress_description: string | null;
  attempts: number;
  retry_at: Date | null;
  from_version: string | null;
  to_version: string;
  started_at: Date | null;
  updated_at: Date;
  finished_at: Date | null;
}

const taskColumns = `id, name, package_id, state, state_reason, target, mode, rollout, callback_url, device_count,
  created_at, finished_at`;
const taskDeviceColumns = `seq, device_id, step, outcome, failure_cause, failure_detail, progress, progress_description,
  attempts, retry_at, from_version, to_version, started_at, updated_at, finished_at`;

function toTask(row: TaskRow): Task {
  return {
    id: row.id,
    name: row.name,
    packageId: row.package_id,
    state: row.state,
    stateReason: row.state_reason,
    target: row.target,
    mode: row.mode,
    rollout: row.rollout,
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
    attempts: Number(row.attempts),
    retryAt: row.retry_at,
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
  name?: string;
  target: StoredTaskTarget;
  mode: TargetMode;
  rollout: RolloutPolicy;
  state: Extract<TaskState, 'scheduled' | 'running'>;
}

/**
 * The task without devices yet: src/db/task-targets.ts inserts them (and counts them) in the same
 * transaction.
 */
export async function insertTask(db: Queryable, task: NewTask): Promise<Task> {
  const { rows } = await db.query<TaskRow>(
    `insert into tasks (id, package_id, name, state, target, mode, rollout, device_count)
     values ($1, $2, $3, $4, $5, $6, $7, 0) returning ${taskColumns}`,
    [task.id, task.packageId, task.name ?? null, task.state, task.target, task.mode, task.rollout],
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

/** Tasks in ID (creation) order, optionally in one state only. */
export async function listTasks(
  db: Queryable,
  query: PageRequest & { state?: TaskState; packageId?: string },
): Promise<Page<Task>> {
  const { rows } = await db.query<TaskRow>(
    `select ${taskColumns} from tasks
     where ($1::text is null or id > $1) and ($2::text is null or state = $2)
       and ($4::text is null or package_id = $4)
     order by id limit $3`,
    [query.cursor ?? null, query.state ?? null, query.limit + 1, query.packageId ?? null],
  );
  return toPage(rows.map(toTask), query.limit, (task) => task.id);
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

export interface TaskDeviceQuery extends PageRequest {
  step?: TaskDeviceStep;
  outcome?: UpgradeOutcome;
  failureCause?: string;
}

/** A task's devices in start order; the cursor is the last row's start position (`seq`). */
export async function listTaskDevices(
  db: Queryable,
  taskId: string,
  query: TaskDeviceQuery,
): Promise<Page<TaskDevice>> {
  const { rows } = await db.query<TaskDeviceRow>(
    `select ${taskDeviceColumns} from task_devices
     where task_id = $1 and ($2::bigint is null or seq > $2) and ($3::text is null or step = $3)
       and ($4::text is null or outcome = $4) and ($5::text is null or failure_cause = $5)
     order by seq limit $6`,
    [
      taskId,
      query.cursor ?? null,
      query.step ?? null,
      query.outcome ?? null,
      query.failureCause ?? null,
      query.limit + 1,
    ],
  );
  const page = toPage(rows, query.limit, (row) => String(row.seq));
  return { ...page, items: page.items.map(toTaskDevice) };
}

/**
 * Moves the task to `to` if it is in one of `from` (clearing the reason of the state it leaves);
 * undefined when it is not.
 */
export async function setTaskState(
  db: Queryable,
  id: string,
  from: readonly TaskState[],
  to: TaskState,
): Promise<Task | undefined> {
  const { rows } = await db.query<TaskRow>(
    `update tasks set state = $3, state_reason = null where id = $1 and state = any($2::text[])
     returning ${taskColumns}`,
    [id, from, to],
  );
  return rows[0] && toTask(rows[0]);
}

/** Undefined when the task has ended or is being cancelled already. */
export function markTaskCancelling(db: Queryable, id: string): Promise<Task | undefined> {
  return setTaskState(db, id, activeTaskStates, 'cancelling');
}

/**
 * A task being cancelled ends cancelled, an aborted one stays aborted, any other completes; finishing
 * twice changes nothing.
 */
export async function finishTask(db: Queryable, id: string, at: Date): Promise<Task | undefined> {
  const { rows } = await db.query<TaskRow>(
    `update tasks set
       state = case when state in ('cancelling', 'cancelled') then 'cancelled'
                    when state = 'aborted' then 'aborted' else 'completed' end,
       finished_at = coalesce(finished_at, $2)
     where id = $1 returning ${taskColumns}`,
    [id, at],
  );
  return rows[0] && toTask(rows[0]);
}

/**
 * The step a device's upgrade was at when it moved on: which, since when, and what upgrades the
 * device (its protocol, and the flow: `mqtt`, `lwm2m-firmware` or `lwm2m-software`).
 */
export interface StepChange {
  from: string;
  since: Date | undefined;
  protocol: string;
  flow: string;
}

/** What a query selects to make a `StepChange` of a `task_devices` row `td`. */
export const STEP_CHANGE_COLUMNS = `(select protocol from devices where id = td.device_id) as protocol,
  (select p.kind from tasks t join packages p on p.id = t.package_id where t.id = td.task_id) as kind`;

export interface StepChangeRow {
  step: string;
  step_started_at: Date | null;
  protocol: string | null;
  kind: string | null;
}

export function stepChange(row: StepChangeRow | undefined): StepChange | undefined {
  if (!row) return undefined;
  const protocol = row.protocol ?? 'unknown';
  return {
    from: row.step,
    since: row.step_started_at ? new Date(row.step_started_at) : undefined,
    protocol,
    flow: protocol === 'lwm2m' ? `lwm2m-${row.kind}` : protocol,
  };
}

/**
 * Steps after a device's result is in are ignored, so a late activity retry cannot undo it. The first
 * step of an attempt (the row leaves 'pending' or 'retrying') counts the attempt and clears the
 * previous attempt's failure; repeating a step counts nothing. `traceContext`: the span recording the
 * step, which the device's next report continues (src/tracing/spans.ts). Returns the step the upgrade
 * was at; undefined when its result is in.
 */
export async function recordStep(
  db: Queryable,
  taskId: string,
  deviceId: string,
  step: UpgradeStep,
  fromVersion: string | undefined,
  at: Date,
  traceContext?: Record<string, string>,
): Promise<StepChange | undefined> {
  const { rows } = await db.query<StepChangeRow>(
    `with previous as (
       select step, step_started_at from task_devices
        where task_id = $1 and device_id = $2 and finished_at is null for update
     )
     update task_devices td set step = $3, from_version = coalesce($4, td.from_version),
       attempts = td.attempts + case when td.step in ('pending', 'retrying') then 1 else 0 end,
       failure_cause = case when td.step = 'retrying' then null else td.failure_cause end,
       failure_detail = case when td.step = 'retrying' then null else td.failure_detail end,
       retry_at = null, started_at = coalesce(td.started_at, $5), updated_at = $5,
       step_started_at = case when td.step = $3 then td.step_started_at else $5 end,
       trace_context = coalesce($6, td.trace_context)
       from previous
      where td.task_id = $1 and td.device_id = $2 and td.finished_at is null
      returning previous.step, previous.step_started_at, ${STEP_CHANGE_COLUMNS}`,
    [taskId, deviceId, step, fromVersion ?? null, at, traceContext ?? null],
  );
  return stepChange(rows[0]);
}

/** The trace context recorded with the latest step of the device's upgrade in progress, if traced. */
export async function findUpgradeTraceContext(
  db: Queryable,
  deviceId: string,
): Promise<Record<string, string> | undefined> {
  const { rows } = await db.query<{ trace_context: Record<string, string> }>(
    `select trace_context from task_devices
      where device_id = $1 and finished_at is null and trace_context is not null
      order by updated_at desc limit 1`,
    [deviceId],
  );
  return rows[0]?.trace_context;
}

const finalStep: Record<UpgradeOutcome, UpgradeStep> = {
  succeeded: 'succeeded',
  'already-latest': 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
};

/**
 * Idempotent: a retried write leaves the row as the first one did, apart from `updated_at`. `attempt`
 * (rollout tasks) sets the attempt count and the run that reported the result.
 */
export async function recordDeviceResult(
  db: Queryable,
  result: DeviceUpgradeResult,
  at: Date,
  attempt?: { attempts: number; runId: string | null },
): Promise<void> {
  await db.query(
    `update task_devices set step = $3, outcome = $4, failure_cause = $5, failure_detail = $6,
       from_version = coalesce($7, from_version), to_version = $8, retry_at = null,
       attempts = coalesce($10, attempts), result_run_id = coalesce($11, result_run_id),
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
      attempt?.attempts ?? null,
      attempt?.runId ?? null,
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
