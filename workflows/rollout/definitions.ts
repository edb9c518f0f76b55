/**
 * The contract of a fleet-scale upgrade task (`rolloutTask`): its targets, its rollout policy, the
 * signals the API and the device-result activity send it, and its query. Shared by the workflow, its
 * activities, the API and tests; importable from workflow code.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { PackageInfo, UpgradeOutcome } from '../definitions';
import type { FailureCause } from '../failure-causes';
import type { Lwm2mTaskSettings } from '../lwm2m/definitions';

/** The workflow type of a task created through the API. */
export const rolloutTaskWorkflowType = 'rolloutTask';

/**
 * A task's workflow task timeout (default 10 s; continue-as-new keeps it). A run holds up to 10,000
 * events; on a worker busy with thousands of device workflows, a workflow task that misses 10 s is
 * tried again with a replay of the whole history, which can miss it again (BENCHMARKS.md,
 * "Cancelling 10 tasks of 1,000 in flight").
 */
export const rolloutTaskWorkflowTaskTimeout = '60 seconds';

/** Which devices a task upgrades. Devices of another product or model than the package's never match. */
export type TaskTarget = { deviceIds: string[] } | { groupId: string } | { filter: DeviceFilter };

export interface DeviceFilter {
  protocol?: 'mqtt' | 'lwm2m';
  /** The device's current software (software package) or firmware (firmware package) version. */
  currentVersion?: string;
  /** The device carries every one of these tags. */
  tags?: string[];
}

/**
 * `snapshot`: the targets are resolved once, when the task is created. `continuous`: devices that
 * match later (provisioned, added to the group, tagged) join the task until it is cancelled.
 */
export type TargetMode = 'snapshot' | 'continuous';

export interface RolloutPolicy {
  /** Device upgrades in progress at once, at most (Temporal's pending-child limit is far above). */
  maxInProgress: number;
  /** Starts per minute; with `ramp`, the rate starts lower and grows by `multiplier` each step. */
  rate?: {
    devicesPerMinute: number;
    ramp?: { initialPerMinute: number; multiplier: number; stepMinutes: number };
  };
  /**
   * Devices per wave, in order (the rest of the targets form the last wave). A wave starts only when
   * every device of the previous one has finished and at least `successPercent` of them succeeded;
   * otherwise the task aborts.
   */
  waves?: { sizes: number[]; successPercent: number };
  /**
   * Abort once failed devices reach `failedCount` or `failedPercent` of the finished ones, judged
   * only after `minFinished` devices have finished. Aborting stops new starts; `cancelInProgress`
   * also cancels the device upgrades running then.
   */
  abort?: { failedCount?: number; failedPercent?: number; minFinished: number; cancelInProgress: boolean };
  /** No device starts before this instant (ISO 8601). */
  startAt?: string;
  /** Devices start only inside this recurring window; upgrades already running go on outside it. */
  maintenanceWindow?: MaintenanceWindow;
  /** A device whose upgrade failed with one of `causes` is tried again after a backoff. */
  retry?: RetryPolicy;
}

export interface MaintenanceWindow {
  /** 0 = Sunday … 6 = Saturday, in `timeZone`. */
  daysOfWeek: number[];
  /** Local opening time, `HH:MM`. */
  start: string;
  durationMinutes: number;
  /** IANA time zone, e.g. `Europe/Berlin`. */
  timeZone: string;
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  initialIntervalSeconds: number;
  backoffCoefficient: number;
  maxIntervalSeconds: number;
  /** The failure causes worth another attempt; by default the seed's platform-side timeouts (`defaultRetryCauses`). */
  causes?: FailureCause[];
}

export interface RolloutTaskInput {
  taskId: string;
  package: PackageInfo;
  mode: TargetMode;
  policy: RolloutPolicy;
  /** What NB-IoT (LwM2M) upgrades use to read radio coverage and turn it into cell permits. */
  nbiot: Lwm2mTaskSettings;
  /** History events after which a run continues as new; tests lower it, otherwise leave it unset. */
  historyEventLimit?: number;
  /**
   * How often devices started by earlier runs are looked up (`SWEEP_INTERVAL_MS`); tests lower it,
   * otherwise leave it unset.
   */
  sweepIntervalMs?: number;
}

export type TaskState =
  | 'scheduled'
  | 'running'
  | 'paused'
  | 'cancelling'
  | 'cancelled'
  | 'aborted'
  | 'completed';

/** A device the task has yet to start, in start order. */
export interface TaskTargetDevice {
  deviceId: string;
  protocol: 'mqtt' | 'lwm2m';
  seq: number;
}

/**
 * Sent to the task by the device-result activity when a device workflow reports its result; `runId`
 * is that workflow's run, so a duplicate or an earlier attempt's report is recognised. `final` is
 * false for a failed attempt the retry policy tries again (the activity recorded it as `retrying`).
 */
export interface DeviceUpgradeEnded {
  deviceId: string;
  runId: string;
  outcome: UpgradeOutcome;
  cause?: FailureCause;
  final: boolean;
  /**
   * How long after this report the device's next attempt is due, for a result that is not final: the
   * device-result activity decides it once (and records the time for the API); the task waits that
   * long on its own clock, the one its timers and Temporal's time-skipping test server use.
   */
  retryInMs?: number;
}
export const deviceUpgradeEndedSignal = defineSignal<[DeviceUpgradeEnded]>('deviceUpgradeEnded');

export const pauseTaskSignal = defineSignal('pauseTask');
export const resumeTaskSignal = defineSignal('resumeTask');

/** How a rollout task ended, notified with `notifyTaskCompleted` and returned by the workflow. */
export interface RolloutTaskSummary {
  taskId: string;
  total: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  state: Extract<TaskState, 'completed' | 'cancelled' | 'aborted'>;
  /** Why the task aborted. */
  stateReason?: string;
}

export interface RolloutStatus {
  state: TaskState;
  stateReason?: string;
  started: number;
  inProgress: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  retriesPending: number;
  wave?: number;
}
export const rolloutStatusQuery = defineQuery<RolloutStatus>('rolloutStatus');
