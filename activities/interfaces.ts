/**
 * The activities the workflows call, as types only: workflow code imports this module and nothing
 * else from activities/. Implementations live beside it, one file per concern, and are wired with
 * their dependencies by `createActivities` (platform queue) and `createMqttCommandActivities`
 * (MQTT gateway queue).
 */
import type { DeviceUpgradeResult, PackageInfo, UpgradeStep } from '../workflows/definitions';
import type { FailureCause } from '../workflows/failure-causes';
import type { Lwm2mBatch, Lwm2mBatchAnswer, PermitRequest } from '../workflows/lwm2m/definitions';
import type { RolloutTaskSummary, TaskState, TaskTargetDevice } from '../workflows/rollout/definitions';

/**
 * Who reports a device's result: its own upgrade workflow, or the task that could not start one (a
 * `Task Conflict`, a start the cancellation overtook) and already knows the result.
 */
export type ResultReporter = 'device' | 'task';

/** Runs on TaskQueue.platform. */
export interface PlatformActivities {
  /** The registry's view of the device's connection (kept current by the gateways). */
  isDeviceOnline(deviceId: string): Promise<boolean>;
  /** Makes the step visible through the API (task_devices row). */
  recordUpgradeStep(
    taskId: string,
    deviceId: string,
    step: UpgradeStep,
    details?: { fromVersion?: string },
  ): Promise<void>;
  /**
   * Records the device's result and queues its `device.result` webhook event. For a rollout task, a
   * failed attempt its retry policy tries again is recorded as `retrying` instead (no event), and a
   * result reported by a device workflow is signalled to the task (`deviceUpgradeEndedSignal`).
   */
  notifyDeviceResult(result: DeviceUpgradeResult, reporter: ResultReporter): Promise<void>;
  /** Finishes the task and queues its `task.completed` webhook event. */
  notifyTaskCompleted(summary: RolloutTaskSummary): Promise<void>;
}

/** Runs on TaskQueue.platform: what the `rolloutTask` workflow reads and writes besides device results. */
export interface RolloutActivities {
  /** The task's devices still `pending` after `afterSeq`, in start order, at most `limit`. */
  nextTaskDevices(taskId: string, afterSeq: number, limit: number): Promise<TaskTargetDevice[]>;
  /** Continuous tasks: adds the devices that match the task's target and are not in it yet; how many. */
  addMatchingDevices(taskId: string): Promise<number>;
  /** The task's state as the API shows it; a task being cancelled or finished keeps its state. */
  recordTaskState(taskId: string, state: TaskState, reason?: string): Promise<void>;
  /**
   * Ends devices the task will not start any more: up to `CLOSE_BATCH_SIZE` of those still `pending`
   * after `afterSeq` end `cancelled` with `cause`; those awaiting a retry end `failed` with their last
   * attempt's cause. Queues their `device.result` events; returns how many ended so and whether pending
   * ones remain (call again).
   */
  closeUnstartedDevices(
    request: UnstartedDevices,
  ): Promise<{ cancelled: number; failed: number; remaining: boolean }>;
  /**
   * Of these workflow runs, the ones that are no longer running, with their status name (`TERMINATED`,
   * `FAILED`, `COMPLETED`…, `NOT_FOUND` for a run the server does not know). At most
   * a few hundred runs a call: it asks the server about each.
   */
  findEndedRuns(runs: WorkflowRun[]): Promise<EndedRun[]>;
}

export interface WorkflowRun {
  workflowId: string;
  runId: string;
}

export interface EndedRun extends WorkflowRun {
  status: string;
}

export interface UnstartedDevices {
  taskId: string;
  afterSeq: number;
  awaitingRetry: string[];
  cause: FailureCause;
}

/**
 * Runs on TaskQueue.mqttGateway. Fails with a non-retryable ApplicationFailure of type
 * `DeviceNotOnline` when the gateway knows the device is not connected.
 */
export interface MqttCommandActivities {
  /**
   * `mqttUpgrade`'s steps 3–4 in one activity (each activity is a billed action): an online device
   * has step `querying-version` recorded and is sent the version query (true). An offline one has step
   * `waiting-online` recorded (false) when `ifOffline` is `wait`, and fails with `DeviceNotOnline`
   * when it is `fail`.
   */
  queryVersionIfOnline(upgrade: MqttUpgradeRef, ifOffline: 'wait' | 'fail'): Promise<boolean>;
  /**
   * `mqttUpgrade`'s steps 6–7 in one activity: issues the device's download token, records step
   * `downloading`, and sends the upgrade notification with URL, token and package information.
   * Answers when the notification was published, on the gateways' clock.
   */
  deliverUpgrade(upgrade: MqttUpgradeRef, pkg: PackageInfo, fromVersion: string): Promise<UpgradeDelivery>;
}

export interface UpgradeDelivery {
  /** ISO 8601, the gateway's clock, taken just before the notification is published. */
  publishedAt: string;
}

/** Which task's upgrade of which device a command belongs to (its API row). */
export interface MqttUpgradeRef {
  taskId: string;
  deviceId: string;
}

/** Runs on TaskQueue.platform. */
export interface Lwm2mPlatformActivities {
  /** The task queue of the gateway holding the device's registration; undefined when it has none. */
  locateLwm2mDevice(deviceId: string): Promise<{ taskQueue: string } | undefined>;
  /** Delivers the request to the cell's limiter workflow, starting it if the cell has none yet. */
  requestCellPermit(cellId: string, request: PermitRequest): Promise<void>;
  /** Returns the requester's permit (or request) to the cell's limiter; none running holds none. */
  releaseCellPermit(cellId: string, release: { requesterWorkflowId: string }): Promise<void>;
  /** Of these workflows, the ones that are no longer running (terminated, timed out, completed, gone). */
  findEndedWorkflows(workflowIds: string[]): Promise<string[]>;
}

export const DEVICE_NOT_ONLINE = 'DeviceNotOnline';

/** Pending devices one `closeUnstartedDevices` call closes, each with its webhook event, in one transaction. */
export const CLOSE_BATCH_SIZE = 1000;

/**
 * Runs on the task queue of the LwM2M gateway the device is registered with
 * (`lwm2mGatewayTaskQueue`): several commands in one activity, read answers returned when they come
 * quickly (later ones reach the workflow as `resourcesReported` / `deviceCommandFailed` signals), the
 * step recorded for the API. Fails with `DeviceNotOnline` when the device has no live registration
 * on that gateway.
 */
export interface Lwm2mBatchActivities {
  lwm2mSend(deviceId: string, batch: Lwm2mBatch): Promise<Lwm2mBatchAnswer>;
}
