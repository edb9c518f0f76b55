/**
 * A device started by an earlier run of the task (before continue-as-new) whose workflow ends without
 * reporting: the task has no child handle on it and finds it by asking the server every sweep interval.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deviceOperationWorkflowId } from '../../workflows/definitions';
import { PlatformCause } from '../../workflows/failure-causes';
import type { RolloutPolicy } from '../../workflows/rollout/definitions';
import type { rolloutTask } from '../../workflows/rollout/rollout-task';
import { recordHistory } from './history-recorder';
import { type FakeAttempt, hangs, RolloutHarness } from './rollout-harness';
import { lockedClient } from './server-time';

const harness = new RolloutHarness();

beforeAll(() => harness.start());
afterAll(() => harness.stop());

// The test server stops skipping time once a task with children in flight has continued as new
// (temporalio/sdk-java#1539), so these tests run in real time with a sweep every few seconds. It also
// fails a workflow task that continues as new while a signal comes in, so the other device answers a
// second late, once the first run has continued as new.
const SWEEP_INTERVAL_MS = 4000;
const detailOfTerminated =
  /^device workflow ended without a result: its run \S+ \(started by an earlier run of the task\) ended TERMINATED$/;

/**
 * A task whose first run continues as new with two devices in flight; once the other has reported,
 * the workflow of `terminated` (which would run for hours) is terminated.
 */
async function taskWithEarlierRunDeviceTerminated(otherAttempt: FakeAttempt, policy: RolloutPolicy) {
  const [terminated = ''] = await harness.addDevices(1, hangs);
  const [other = ''] = await harness.addDevices(1, { ...otherAttempt, realDelayMs: 1000 });
  // Starting both devices takes the first run past 20 events; the next run stays below.
  const task = await harness.startTask([terminated, other], policy, {
    historyEventLimit: 20,
    sweepIntervalMs: SWEEP_INTERVAL_MS,
  });
  const taskId = task.workflowId.replace('upgrade-task:', '');
  const latestRun = lockedClient(harness.env).workflow.getHandle<typeof rolloutTask>(task.workflowId);
  // Watched through the database and the first run's history: the test server may leave a query
  // unanswered when it comes in as the run continues as new.
  await harness.until(async () => {
    const reported = (await harness.devices(taskId)).some((row) => row.deviceId === other && row.finishedAt);
    return reported && (await harness.carriedProgress(task)).length > 0;
  }, 'the first run continues as new and the other device reports');
  const [firstRun] = await harness.carriedProgress(task);
  expect(firstRun?.inFlight.map((device) => device.deviceId).sort()).toEqual([terminated, other].sort());

  const terminatedAt = await harness.env.currentTimeMs();
  await harness.client.workflow.getHandle(deviceOperationWorkflowId(terminated)).terminate('by an operator');
  return { task, taskId, latestRun, terminated, other, terminatedAt };
}

it('records a device of an earlier run terminated without a result as failed within the sweep interval', async () => {
  const {
    task,
    taskId,
    latestRun,
    terminated,
    other: succeeds,
    terminatedAt,
  } = await taskWithEarlierRunDeviceTerminated({ outcome: 'succeeded', minutes: 0 }, { maxInProgress: 2 });

  const summary = await latestRun.result();

  expect(summary).toMatchObject({ total: 2, succeeded: 1, failed: 1, cancelled: 0, state: 'completed' });
  const { closeTime } = await latestRun.describe();
  // Found by the next sweep; nothing else would end the task. The bound leaves room for a loaded CI
  // machine (this suite runs beside the 5,000-device integration test): the sweep's activity, the
  // result's notification and the summary take time too.
  expect((closeTime?.getTime() ?? Number.POSITIVE_INFINITY) - terminatedAt).toBeLessThan(
    2 * SWEEP_INTERVAL_MS + 10_000,
  );
  const rows = await harness.devices(taskId);
  const row = rows.find((r) => r.deviceId === terminated);
  expect(row).toMatchObject({ step: 'failed', outcome: 'failed', attempts: 1, failureCause: null });
  expect(row?.failureDetail).toMatch(detailOfTerminated);
  expect(rows.find((r) => r.deviceId === succeeds)).toMatchObject({ step: 'succeeded', attempts: 1 });
  expect(await harness.webhookEventIds(taskId)).toEqual([
    `device.result:${taskId}:${terminated}`,
    `device.result:${taskId}:${succeeds}`,
    `task.completed:${taskId}`,
  ]);
  await recordHistory('0.1.0/rollout-task-sweep-earlier-runs', task); // the last run, which swept
});

it('still looks for it once the task has aborted and waits for the devices in flight', async () => {
  const { taskId, latestRun, terminated } = await taskWithEarlierRunDeviceTerminated(
    { outcome: 'failed', cause: PlatformCause.resultTimeout, minutes: 0 },
    { maxInProgress: 2, abort: { failedCount: 1, minFinished: 1, cancelInProgress: false } },
  );

  expect(await latestRun.result()).toMatchObject({
    total: 2,
    succeeded: 0,
    failed: 2,
    cancelled: 0,
    state: 'aborted',
  });
  const row = (await harness.devices(taskId)).find((r) => r.deviceId === terminated);
  expect(row?.failureDetail).toMatch(detailOfTerminated);
});
