/**
 * A rollout task over time: per-device retries with exponential backoff, a start time and a
 * maintenance window, and continue-as-new with devices in flight (no device lost or counted twice).
 */
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PlatformCause } from '../../workflows/failure-causes';
import { rolloutStatusQuery } from '../../workflows/rollout/definitions';
import type { rolloutTask } from '../../workflows/rollout/rollout-task';
import { recordHistory } from './history-recorder';
import { type FakeAttempt, HOUR, MINUTE, RolloutHarness } from './rollout-harness';
import { lockedClient } from './server-time';

const harness = new RolloutHarness();

beforeAll(() => harness.start());
afterAll(() => harness.stop());

const timesOut: FakeAttempt = { outcome: 'failed', cause: PlatformCause.resultTimeout, minutes: 1 };
const succeeds = (minutes: number): FakeAttempt => ({ outcome: 'succeeded', minutes });
const taskIdOf = (task: WorkflowHandle) => task.workflowId.replace('upgrade-task:', '');

describe('retries', () => {
  it('retries timeouts after an exponential backoff, up to maxAttempts, and reports each device once', async () => {
    const [recovers = ''] = await harness.addDevices(1, timesOut, timesOut, succeeds(1));
    const [neverAnswers = ''] = await harness.addDevices(1, timesOut);
    const task = await harness.startTask([recovers, neverAnswers], {
      maxInProgress: 10,
      retry: { maxAttempts: 3, initialIntervalSeconds: 60, backoffCoefficient: 2, maxIntervalSeconds: 600 },
    });
    const taskId = taskIdOf(task);

    const summary = await task.result();

    expect(summary).toMatchObject({ total: 2, succeeded: 1, failed: 1, cancelled: 0, state: 'completed' });
    // Each attempt takes a minute; the next starts 60 s, then 120 s after it failed. Some slack above:
    // skipping time, the test server may also run out activity timeouts (30 s) while the activity runs.
    for (const deviceId of [recovers, neverAnswers]) {
      const [first = 0, second = 0, third = 0, ...more] = harness.startsOf([deviceId]);
      expect(more).toEqual([]);
      expect(second - first).toBeGreaterThanOrEqual(MINUTE + 60_000);
      expect(second - first).toBeLessThan(MINUTE + 60_000 + 2 * MINUTE);
      expect(third - second).toBeGreaterThanOrEqual(MINUTE + 120_000);
      expect(third - second).toBeLessThan(MINUTE + 120_000 + 2 * MINUTE);
    }
    const rows = await harness.devices(taskId);
    expect(rows.find((row) => row.deviceId === recovers)).toMatchObject({
      step: 'succeeded',
      attempts: 3,
      failureCause: null,
    });
    expect(rows.find((row) => row.deviceId === neverAnswers)).toMatchObject({
      step: 'failed',
      attempts: 3,
      failureCause: PlatformCause.resultTimeout,
    });
    expect(await harness.webhookEventIds(taskId)).toEqual([
      `device.result:${taskId}:${recovers}`,
      `device.result:${taskId}:${neverAnswers}`,
      `task.completed:${taskId}`,
    ]);
    expect(await harness.timersCancelled(task)).toBe(0);
    await recordHistory('0.1.0/rollout-task-retries', task);
  });
});

describe('start time and maintenance window', () => {
  it('waits for the start time, starts devices only inside the window, and takes up again at its next opening', async () => {
    const now = await harness.env.currentTimeMs();
    const opening = (Math.floor((now + 3 * HOUR) / MINUTE) + 1) * MINUTE;
    const start = new Date(opening).toISOString().slice(11, 16);
    const devices = await harness.addDevices(4, succeeds(70));
    const task = await harness.startTask(devices, {
      maxInProgress: 2,
      startAt: new Date(now + HOUR).toISOString(),
      maintenanceWindow: { daysOfWeek: [0, 1, 2, 3, 4, 5, 6], start, durationMinutes: 60, timeZone: 'UTC' },
    });
    const taskId = taskIdOf(task);
    await harness.until(
      async () => (await task.query(rolloutStatusQuery)).state === 'scheduled',
      'it is scheduled',
    );
    expect(await harness.task(taskId)).toMatchObject({ state: 'scheduled' });

    expect(await task.result()).toMatchObject({ succeeded: 4, state: 'completed' });
    // Two start at the opening; they run 70 minutes, past the window's 60, so the others wait a day.
    const starts = harness.startsOf(devices).map((startedAt) => Math.round((startedAt - opening) / MINUTE));
    expect(starts).toEqual([0, 0, 24 * 60, 24 * 60]);
    expect(await harness.timersCancelled(task)).toBe(0);
  });
});

describe('continuous targets', () => {
  it('picks up devices that match the target later, until cancelled', async () => {
    const early = await harness.addTaggedDevice(['canary'], succeeds(1));
    await harness.addDevices(1); // untagged: never part of the task
    const task = await harness.startTask(
      { filter: { tags: ['canary'] } },
      { maxInProgress: 10 },
      { mode: 'continuous' },
    );
    const taskId = taskIdOf(task);
    const status = () => task.query(rolloutStatusQuery);
    await harness.until(async () => (await status()).started === 1, 'the first device starts');

    const late = await harness.addTaggedDevice(['canary', 'late'], succeeds(1));
    await harness.env.sleep(2 * MINUTE);
    await harness.until(async () => (await status()).succeeded === 2, 'the late device joins and succeeds');
    expect((await status()).state).toBe('running'); // a continuous task does not complete by itself

    await task.cancel();
    expect(await task.result()).toMatchObject({ total: 2, succeeded: 2, cancelled: 0, state: 'cancelled' });
    expect((await harness.devices(taskId)).map((row) => row.deviceId).sort()).toEqual([early, late].sort());
    expect(await harness.timersCancelled(task)).toBe(0);
  });
});

describe('continue-as-new', () => {
  // The test server stops skipping time for children whose parent continued as new
  // (temporalio/sdk-java#1539), and fails a workflow task that continues as new while a signal comes
  // in (a real server has the task retried), so this test runs in real time, one device at a time:
  // each answers 300 ms after its start, long after the run that started it has continued as new.
  it('carries the device in flight and the retries over, losing and double-counting none', async () => {
    const devices: string[] = [];
    for (let i = 0; i < 16; i++) {
      const answersLate = { realDelayMs: 300, minutes: 0 };
      const attempts: FakeAttempt[] =
        i % 5 === 0
          ? [
              { ...timesOut, ...answersLate },
              { ...succeeds(0), ...answersLate },
            ]
          : [{ ...succeeds(0), ...answersLate }];
      devices.push(...(await harness.addDevices(1, ...attempts)));
    }
    const task = await harness.startTask(
      devices,
      {
        maxInProgress: 1,
        retry: { maxAttempts: 2, initialIntervalSeconds: 1, backoffCoefficient: 2, maxIntervalSeconds: 1 },
      },
      { historyEventLimit: 60 },
    );
    const taskId = taskIdOf(task);

    const summary = await lockedClient(harness.env)
      .workflow.getHandle<typeof rolloutTask>(task.workflowId)
      .result();

    expect(summary).toMatchObject({ total: 16, succeeded: 16, failed: 0, cancelled: 0, state: 'completed' });
    const carried = await harness.carriedProgress(task);
    expect(carried.length).toBeGreaterThan(1);
    expect(carried.some((progress) => progress.inFlight.length > 0)).toBe(true);
    const retried = devices.filter((_, i) => i % 5 === 0);
    expect(harness.startsOf(devices)).toHaveLength(16 + retried.length);
    const rows = await harness.devices(taskId);
    expect(rows.filter((row) => row.step === 'succeeded')).toHaveLength(16);
    expect(
      rows
        .filter((row) => row.attempts === 2)
        .map((row) => row.deviceId)
        .sort(),
    ).toEqual(retried.sort());
    expect(await harness.webhookEventIds(taskId)).toHaveLength(17);
    expect(await harness.timersCancelled(task)).toBe(0);
    await recordHistory('0.1.0/rollout-task-continued-as-new', task); // the last run: it began with carried progress
  });
});
