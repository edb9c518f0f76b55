/**
 * Rollout control of a fleet-scale task on the time-skipping server: rate and ramp, waves, the abort
 * threshold, pause and resume, cancellation and "Task Conflict". The task runs with otaflow's real
 * activities on PGlite; device upgrades are fakes that take scripted minutes (rollout-workflows.ts).
 */
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyCost } from '../../src/temporal/history-cost';
import { deviceOperationWorkflowId, TaskQueue } from '../../workflows/definitions';
import { DeviceCause } from '../../workflows/failure-causes';
import {
  pauseTaskSignal,
  type RolloutStatus,
  resumeTaskSignal,
  rolloutStatusQuery,
} from '../../workflows/rollout/definitions';
import type { rolloutTask } from '../../workflows/rollout/rollout-task';
import { recordHistory } from './history-recorder';
import { packageOf } from './packages';
import { hangs, MINUTE, RolloutHarness } from './rollout-harness';
import { lockedClient, untilWaitingOnTimer } from './server-time';

const harness = new RolloutHarness();

beforeAll(() => harness.start());
afterAll(() => harness.stop());

const fails = { outcome: 'failed', cause: DeviceCause.integrityCheckFailure, minutes: 1 } as const;
const succeeds = (minutes: number) => ({ outcome: 'succeeded', minutes }) as const;

/**
 * How many of the starts fall in each minute from the first one (less a second: the devices of one
 * batch start a few milliseconds apart).
 */
function startsPerMinute(starts: number[]): number[] {
  const first = Math.min(...starts) - 1000;
  const perMinute: number[] = [];
  for (const start of starts) {
    const minute = Math.floor((start - first) / MINUTE);
    perMinute[minute] = (perMinute[minute] ?? 0) + 1;
  }
  return Array.from(perMinute, (count) => count ?? 0);
}

describe('rate', () => {
  it('starts at most devicesPerMinute devices each minute', async () => {
    const devices = await harness.addDevices(12, succeeds(0));
    const task = await harness.startTask(devices, { maxInProgress: 100, rate: { devicesPerMinute: 4 } });

    const summary = await task.result();

    expect(summary).toEqual({
      taskId: expect.any(String),
      total: 12,
      succeeded: 12,
      failed: 0,
      cancelled: 0,
      state: 'completed',
    });
    expect(startsPerMinute(harness.startsOf(devices))).toEqual([4, 4, 4]);
  });

  it('ramps the rate up exponentially', async () => {
    const devices = await harness.addDevices(20, succeeds(0));
    const task = await harness.startTask(devices, {
      maxInProgress: 100,
      rate: { devicesPerMinute: 8, ramp: { initialPerMinute: 2, multiplier: 2, stepMinutes: 1 } },
    });

    expect(await task.result()).toMatchObject({ succeeded: 20 });
    expect(startsPerMinute(harness.startsOf(devices))).toEqual([2, 4, 8, 6]);
  });

  it('keeps no more than maxInProgress devices upgrading at once, at one action per device', async () => {
    const devices = await harness.addDevices(7, succeeds(10));
    const task = await harness.startTask(devices, { maxInProgress: 3 });

    expect(await task.result()).toMatchObject({ succeeded: 7 });
    // Ten-minute upgrades three at a time: starts at minutes 0, 10 and 20.
    expect(startsPerMinute(harness.startsOf(devices)).filter((count) => count > 0)).toEqual([3, 3, 1]);
    // What the task's own history pays per device: one action (the result's signal; the child's start
    // is billed in the child's history) and at most 13 events — the child's initiated, started and
    // completed events and the signal, each waking at worst its own workflow task (3 events); how many
    // share a task depends on timing. Beyond those, a fixed few (start, activities, timers, end). This
    // bounds a run to ~1,000 devices before it continues as new.
    const cost = historyCost((await task.fetchHistory()).events ?? []);
    expect(cost.actionsByType.WorkflowExecutionSignaled).toBe(devices.length);
    // + its start, targets read, state, summary and the marker of patch `device-upgrade-flows-v3`.
    expect(cost.actions).toBeLessThanOrEqual(devices.length + 5);
    expect(cost.events).toBeLessThanOrEqual(13 * devices.length + TASK_OVERHEAD_EVENTS);
  });
});

/** A task's events beyond its devices': start, first workflow task, a few activities and timers, end. */
const TASK_OVERHEAD_EVENTS = 30;

describe('waves', () => {
  it('starts a wave only when every device of the previous one has succeeded enough', async () => {
    const devices = await harness.addDevices(6, succeeds(5));
    const task = await harness.startTask(devices, {
      maxInProgress: 100,
      waves: { sizes: [1, 2], successPercent: 100 },
    });

    expect(await task.result()).toMatchObject({ succeeded: 6, state: 'completed' });
    const starts = harness.startsOf(devices);
    const first = starts[0] ?? 0;
    // Wave 1 (one device), five minutes later wave 2 (two), five minutes later the rest (three).
    expect(starts.map((start) => Math.round((start - first) / MINUTE))).toEqual([0, 5, 5, 10, 10, 10]);
  });

  it('aborts when a wave falls short of its success percentage, closing the devices never started', async () => {
    const good = await harness.addDevices(1);
    const bad = await harness.addDevices(1, fails);
    const rest = await harness.addDevices(3);
    const devices = [...good, ...bad, ...rest];
    const task = await harness.startTask(devices, {
      maxInProgress: 100,
      waves: { sizes: [2], successPercent: 90 },
    });
    const taskId = task.workflowId.replace('upgrade-task:', '');

    const summary = await task.result();

    expect(summary).toEqual({
      taskId,
      total: 5,
      succeeded: 1,
      failed: 1,
      cancelled: 3,
      state: 'aborted',
      stateReason: 'wave 1: 1 of 2 devices succeeded (50%), below the required 90%',
    });
    expect(harness.startsOf(rest)).toEqual([]);
    expect(await harness.task(taskId)).toMatchObject({ state: 'aborted', stateReason: summary.stateReason });
    const rows = await harness.devices(taskId);
    expect(rows.filter((row) => rest.includes(row.deviceId))).toEqual(
      rest.map(() =>
        expect.objectContaining({ step: 'cancelled', outcome: 'cancelled', failureCause: 'Task aborted' }),
      ),
    );
    expect(await harness.webhookEventIds(taskId)).toHaveLength(6); // five devices and the task
  });
});

/**
 * Moves time a minute at a time through the failures of the first three devices (one minute each, two
 * at a time): skipping freely, the server could run past a slow device's ten minutes while a failure
 * is still being recorded, and reorder the results.
 */
async function failTheFirstThree(task: WorkflowHandle<typeof rolloutTask>): Promise<void> {
  const until = (check: (status: RolloutStatus) => boolean, what: string) =>
    harness.until(async () => check(await task.query(rolloutStatusQuery)), what);
  await until((status) => status.inProgress === 2, 'the first two start');
  await harness.env.sleep(MINUTE);
  await until((status) => status.failed === 2 && status.inProgress === 2, 'two fail and two more start');
  await harness.env.sleep(MINUTE);
  await until((status) => status.state === 'aborted', 'the third fails and the task aborts');
}

describe('abort threshold', () => {
  it('stops starting devices once failures pass the threshold, and lets those in progress finish', async () => {
    const failing = await harness.addDevices(3, fails);
    const slow = await harness.addDevices(7, succeeds(10));
    const task = await harness.startTask([...failing, ...slow], {
      maxInProgress: 2,
      abort: { failedCount: 2, minFinished: 3, cancelInProgress: false },
    });
    const taskId = task.workflowId.replace('upgrade-task:', '');
    await failTheFirstThree(task);

    const summary = await task.result();

    // Minute 0: two fail. Minute 1: the third fails beside the first slow one, which goes on to succeed.
    expect(summary).toMatchObject({ total: 10, succeeded: 1, failed: 3, cancelled: 6, state: 'aborted' });
    expect(summary.stateReason).toBe('3 of 3 finished devices failed, the limit is 2');
    expect(harness.startsOf(slow)).toHaveLength(1);
    const rows = await harness.devices(taskId);
    expect(rows.filter((row) => row.failureCause === 'Task aborted')).toHaveLength(6);
    await recordHistory('0.1.0/rollout-task-aborted', task);
  });

  it('also cancels the devices in progress when asked to', async () => {
    const failing = await harness.addDevices(3, fails);
    const slow = await harness.addDevices(7, succeeds(10));
    const task = await harness.startTask([...failing, ...slow], {
      maxInProgress: 2,
      abort: { failedPercent: 50, minFinished: 3, cancelInProgress: true },
    });
    const taskId = task.workflowId.replace('upgrade-task:', '');
    await failTheFirstThree(task);

    const summary = await lockedClient(harness.env)
      .workflow.getHandle<typeof rolloutTask>(task.workflowId)
      .result();

    expect(summary).toMatchObject({ total: 10, succeeded: 0, failed: 3, cancelled: 7, state: 'aborted' });
    const [cancelledInProgress] = slow;
    const rows = await harness.devices(taskId);
    expect(rows.find((row) => row.deviceId === cancelledInProgress)).toMatchObject({
      step: 'cancelled',
      failureCause: 'Cancelled',
      attempts: 1,
    });
  });
});

describe('pause, resume and cancel', () => {
  it('starts nothing while paused and goes on when resumed', async () => {
    const devices = await harness.addDevices(6, succeeds(10));
    const task = await harness.startTask(devices, { maxInProgress: 2 });
    const taskId = task.workflowId.replace('upgrade-task:', '');
    await harness.until(
      async () => (await task.query(rolloutStatusQuery)).inProgress === 2,
      'two devices run',
    );

    await task.signal(pauseTaskSignal);
    await harness.until(
      async () => (await harness.task(taskId))?.state === 'paused',
      'the task shows paused',
    );
    await harness.env.sleep(30 * MINUTE);
    await harness.until(async () => (await task.query(rolloutStatusQuery)).succeeded === 2, 'both succeed');

    expect(await task.query(rolloutStatusQuery)).toMatchObject({
      state: 'paused',
      started: 2,
      inProgress: 0,
      succeeded: 2,
    });
    await task.signal(resumeTaskSignal);
    expect(await task.result()).toMatchObject({ succeeded: 6, state: 'completed' });
    const starts = harness.startsOf(devices);
    const first = starts[0] ?? 0;
    // The two started before the pause; the rest only after the 30 minutes paused.
    expect(starts.slice(2).every((start) => start - first >= 30 * MINUTE)).toBe(true);
  });

  it('cancels the devices in progress and closes the others when the task is cancelled', async () => {
    const devices = await harness.addDevices(5, hangs);
    const task = await harness.startTask(devices, { maxInProgress: 2 });
    const taskId = task.workflowId.replace('upgrade-task:', '');
    await harness.until(
      async () => (await task.query(rolloutStatusQuery)).inProgress === 2,
      'two devices run',
    );
    // Cancelled while its activity is completing, a device workflow would be stranded by the test
    // server (temporalio/sdk-typescript#1058): cancel once both wait on their upgrade.
    for (const deviceId of devices.slice(0, 2)) {
      await untilWaitingOnTimer(
        harness.client.workflow.getHandle(deviceOperationWorkflowId(deviceId)),
        hangs.minutes * MINUTE,
      );
    }

    await task.cancel();

    expect(await task.result()).toMatchObject({ total: 5, cancelled: 5, state: 'cancelled' });
    expect(await harness.task(taskId)).toMatchObject({ state: 'cancelled' });
    const rows = await harness.devices(taskId);
    const inStartOrder = devices.map((deviceId) => rows.find((row) => row.deviceId === deviceId));
    expect(inStartOrder.map((row) => [row?.step, row?.failureCause, row?.attempts])).toEqual([
      ['cancelled', 'Cancelled', 1],
      ['cancelled', 'Cancelled', 1],
      ['cancelled', 'Cancelled', 0],
      ['cancelled', 'Cancelled', 0],
      ['cancelled', 'Cancelled', 0],
    ]);
    for (const deviceId of devices.slice(0, 2)) {
      const device = harness.client.workflow.getHandle(deviceOperationWorkflowId(deviceId));
      expect(await device.result()).toMatchObject({ outcome: 'cancelled' });
    }
    await recordHistory('0.1.0/rollout-task-cancelled', task);
  });
});

describe('Task Conflict', () => {
  it('fails a device that already has an operation in progress and leaves that operation alone', async () => {
    const [busy = '', free = ''] = await harness.addDevices(2, hangs);
    harness.script(free, succeeds(1));
    const other = await harness.client.workflow.start('mqttUpgrade', {
      workflowId: deviceOperationWorkflowId(busy),
      taskQueue: TaskQueue.platform,
      args: [{ taskId: 'task-earlier', deviceId: busy, package: packageOf('firmware') }],
    });
    const task = await harness.startTask([busy, free], { maxInProgress: 10 });
    const taskId = task.workflowId.replace('upgrade-task:', '');

    expect(await task.result()).toMatchObject({ total: 2, succeeded: 1, failed: 1, state: 'completed' });
    const rows = await harness.devices(taskId);
    expect(rows.find((row) => row.deviceId === busy)).toMatchObject({
      step: 'failed',
      failureCause: 'Task Conflict',
      attempts: 0,
    });
    expect((await other.describe()).status.name).toBe('RUNNING');
    await other.terminate('test done');
  });
});
