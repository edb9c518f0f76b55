/**
 * The workflows the rollout tests run: otaflow's own, except that `mqttUpgrade` (what the rollout task starts for an MQTT device) is a fake device
 * upgrade. It records its step, asks the test how this attempt goes (`fakeDeviceAttempt`), takes that
 * long and reports its result through the real `notifyDeviceResult`, as the real flows do; cancelled,
 * it reports `Cancelled`. The task workflow under test starts it by its type name, as in production.
 */
import {
  CancellationScope,
  isCancellation,
  proxyActivities,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { PlatformActivities } from '../../activities/interfaces';
import { type DeviceUpgradeInput, type DeviceUpgradeResult, TaskQueue } from '../../workflows/definitions';
import { OtaflowCause } from '../../workflows/failure-causes';
import type { FakeDeviceActivities } from './rollout-harness';

export * from '../../workflows/index';

const activities = proxyActivities<PlatformActivities & FakeDeviceActivities>({
  taskQueue: TaskQueue.platform,
  startToCloseTimeout: '30 seconds',
});

export async function mqttUpgrade(input: DeviceUpgradeInput): Promise<DeviceUpgradeResult> {
  const { taskId, deviceId } = input;
  const base = { taskId, deviceId, toVersion: input.package.version };
  let result: DeviceUpgradeResult;
  try {
    await activities.recordUpgradeStep(taskId, deviceId, 'downloading');
    const attempt = await activities.fakeDeviceAttempt(deviceId, workflowInfo().startTime.getTime());
    if (attempt.minutes > 0) await sleep(attempt.minutes * 60_000);
    result = { ...base, outcome: attempt.outcome, ...(attempt.cause ? { cause: attempt.cause } : {}) };
  } catch (err) {
    if (!isCancellation(err)) throw err;
    result = { ...base, outcome: 'cancelled', cause: OtaflowCause.cancelled };
  }
  await CancellationScope.nonCancellable(() => activities.notifyDeviceResult(result, 'device'));
  return result;
}
