/**
 * Steps 1–2 and the final notification for a whole task: one upgrade child per device (seed 001's
 * MQTT flow or seed 000's LwM2M flows), then the task's summary to the application. Cancelling the task cancels every device upgrade (parent close policy
 * and scope cancellation) and still reports each device and the summary.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { CancellationScope, isCancellation, ParentClosePolicy, proxyActivities } from '@temporalio/workflow';
import type { PlatformActivities } from '../activities/interfaces';
import {
  type DeviceUpgradeResult,
  type Lwm2mTaskSettings,
  TaskQueue,
  type UpgradeTaskInput,
  type UpgradeTaskSummary,
} from './definitions';
import { startDeviceUpgrade, upgradeTaskFlows } from './device-upgrade-start';
import { OtaflowCause, PlatformCause } from './failure-causes';

/**
 * Children are started this many at a time, each batch awaited: it keeps one workflow task's
 * commands small while a 1,000-device task (the API's limit; Temporal allows 2,000 pending
 * children) starts in ten round trips.
 */
const START_BATCH_SIZE = 100;

const platform = proxyActivities<PlatformActivities>({
  taskQueue: TaskQueue.platform,
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function upgradeTask(input: UpgradeTaskInput): Promise<UpgradeTaskSummary> {
  const lwm2mDevices = new Set(input.lwm2m?.deviceIds);
  const settingsOf = (deviceId: string) => (lwm2mDevices.has(deviceId) ? input.lwm2m : undefined);
  const upgrades: DeviceUpgrade[] = [];
  for (let first = 0; first < input.deviceIds.length; first += START_BATCH_SIZE) {
    const batch = input.deviceIds.slice(first, first + START_BATCH_SIZE);
    upgrades.push(
      ...(await Promise.all(batch.map((deviceId) => startUpgrade(input, deviceId, settingsOf(deviceId))))),
    );
  }
  const results = await Promise.all(upgrades.map((upgrade) => upgrade.result));
  const summary = summarize(input.taskId, results);
  await CancellationScope.nonCancellable(() => platform.notifyTaskCompleted(summary));
  return summary;
}

/** A started (or refused) device upgrade; `result` settles when the device's upgrade has ended. */
interface DeviceUpgrade {
  result: Promise<DeviceUpgradeResult>;
}

/**
 * Resolves once the device's workflow has started or could not start. A device that already has an
 * operation in progress fails with "Task Conflict"; a device whose start the task's cancellation
 * overtook ends cancelled. Either way the task notifies the device's result itself, as no device
 * workflow will.
 */
async function startUpgrade(
  input: UpgradeTaskInput,
  deviceId: string,
  lwm2m: Lwm2mTaskSettings | undefined,
): Promise<DeviceUpgrade> {
  try {
    const child = await startDeviceUpgrade({
      taskId: input.taskId,
      deviceId,
      package: input.package,
      lwm2m,
      flows: upgradeTaskFlows,
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    });
    return { result: child.result().catch((err) => endedWithoutResult(input, deviceId, err)) };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      return { result: notified(endedResult(input, deviceId, 'failed', PlatformCause.taskConflict)) };
    }
    if (isCancellation(err)) {
      return { result: notified(endedResult(input, deviceId, 'cancelled', OtaflowCause.cancelled)) };
    }
    throw err;
  }
}

/**
 * A device workflow that ended without returning a result (terminated, cancelled before it could
 * answer, or a bug): the task still accounts for the device and tells the application.
 */
function endedWithoutResult(
  input: UpgradeTaskInput,
  deviceId: string,
  err: unknown,
): Promise<DeviceUpgradeResult> {
  if (isCancellation(err)) return notified(endedResult(input, deviceId, 'cancelled', OtaflowCause.cancelled));
  const detail = `device workflow ended without a result: ${err instanceof Error ? err.message : String(err)}`;
  return notified({ ...endedResult(input, deviceId, 'failed'), detail });
}

function endedResult(
  input: UpgradeTaskInput,
  deviceId: string,
  outcome: DeviceUpgradeResult['outcome'],
  cause?: DeviceUpgradeResult['cause'],
): DeviceUpgradeResult {
  return { taskId: input.taskId, deviceId, toVersion: input.package.version, outcome, cause };
}

async function notified(result: DeviceUpgradeResult): Promise<DeviceUpgradeResult> {
  await CancellationScope.nonCancellable(() => platform.notifyDeviceResult(result));
  return result;
}

function summarize(taskId: string, results: DeviceUpgradeResult[]): UpgradeTaskSummary {
  const count = (...outcomes: DeviceUpgradeResult['outcome'][]) =>
    results.filter((result) => outcomes.includes(result.outcome)).length;
  return {
    taskId,
    total: results.length,
    succeeded: count('succeeded', 'already-latest'),
    failed: count('failed'),
    cancelled: count('cancelled'),
  };
}
