import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createActivities } from '../../../activities';
import type { PlatformActivities, ResultReporter, RolloutActivities } from '../../../activities/interfaces';
import type { Database } from '../../../src/db/database';
import { findDevice, insertDevice, setPresence } from '../../../src/db/devices';
import { insertPackage } from '../../../src/db/packages';
import { insertListedTaskDevices } from '../../../src/db/task-targets';
import { findTask, insertTask, listTaskDevices } from '../../../src/db/tasks';
import { createMetrics } from '../../../src/metrics/metrics';
import type { PackageDownloads } from '../../../src/packages/download';
import { type DeviceUpgradeResult, taskWorkflowId } from '../../../workflows/definitions';
import { PlatformCause } from '../../../workflows/failure-causes';
import type { DeviceUpgradeEnded, RolloutPolicy } from '../../../workflows/rollout/definitions';
import { emptyTables, openTempDatabase } from './temp-database';

let temp: Awaited<ReturnType<typeof openTempDatabase>>;
let db: Database;
let activities: PlatformActivities & RolloutActivities;
/** What the activities signalled to task workflows. */
let signals: { workflowId: string; ended: DeviceUpgradeEnded }[] = [];
/** The status of each workflow run the server knows, by `workflowId/runId`. */
let runStatuses = new Map<string, string>();

const temporal = {
  workflow: {
    getHandle: (workflowId: string, runId?: string) => ({
      signal: async (_signal: unknown, ended: DeviceUpgradeEnded) => {
        signals.push({ workflowId, ended });
      },
      describe: async () => {
        const name = runStatuses.get(`${workflowId}/${runId}`);
        if (name === undefined) throw new WorkflowNotFoundError('not found', workflowId, runId);
        return { status: { name } };
      },
    }),
  },
} as unknown as Client;

const retryingPolicy: RolloutPolicy = {
  maxInProgress: 10,
  retry: { maxAttempts: 3, initialIntervalSeconds: 60, backoffCoefficient: 2, maxIntervalSeconds: 600 },
};

beforeAll(async () => {
  temp = await openTempDatabase();
  db = temp.db;
  activities = createActivities({
    db,
    downloads: {} as PackageDownloads,
    temporal,
    metrics: createMetrics(),
  });
}, 60_000);

afterAll(async () => {
  await temp.dispose();
});

beforeEach(async () => {
  await emptyTables(db);
  signals = [];
  runStatuses = new Map();
  await insertPackage(db, {
    id: 'pkg_sw',
    name: 'app',
    version: '3.0',
    kind: 'software',
    product: 'meter',
    model: 'm1',
    supportedSourceVersions: [],
    fileName: 'app.bin',
    size: 10,
    sha256: 'ef'.repeat(32),
    objectKey: 'packages/pkg_sw',
  });
  for (const id of ['d1', 'd2', 'd3']) {
    await insertDevice(db, { id, protocol: 'mqtt', product: 'meter', model: 'm1', secretCiphertext: 'x' });
  }
  await db.query(
    `insert into webhooks (id, url, secret_ciphertext, events)
     values ('wh1', 'https://app.test/hooks', 'x', array['device.result', 'task.completed'])`,
  );
});

/** A rollout task over the given devices, in that order. */
async function rolloutTaskOf(id: string, deviceIds: string[], rollout: RolloutPolicy = retryingPolicy) {
  await db.transaction(async (tx) => {
    await insertTask(tx, {
      id,
      packageId: 'pkg_sw',
      target: { deviceList: { count: deviceIds.length } },
      mode: 'snapshot',
      rollout,
      state: 'running',
    });
    await insertListedTaskDevices(tx, id, deviceIds);
  });
}

/** A task of the first task workflow (no rollout policy), as created before rollouts. */
async function legacyTaskOf(id: string, deviceIds: string[]) {
  await db.query(
    `insert into tasks (id, package_id, state, device_count) values ($1, 'pkg_sw', 'running', $2)`,
    [id, deviceIds.length],
  );
  await insertListedTaskDevices(db, id, deviceIds);
}

/** Runs the activity as called by the given workflow run: the device's own, or the task's. */
function reportedBy(workflowId: string, runId: string, result: DeviceUpgradeResult) {
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId, runId } });
  const reporter: ResultReporter = workflowId === taskWorkflowId(result.taskId) ? 'task' : 'device';
  return env.run(activities.notifyDeviceResult, result, reporter);
}

async function row(taskId: string, deviceId: string) {
  const { items } = await listTaskDevices(db, taskId, { limit: 100 });
  return items.find((item) => item.deviceId === deviceId);
}

async function webhookEvents() {
  const { rows } = await db.query<{ event_id: string; event_type: string; payload: Record<string, unknown> }>(
    'select event_id, event_type, payload from webhook_deliveries order by id',
  );
  return rows;
}

const timeout = (taskId: string, deviceId: string): DeviceUpgradeResult => ({
  taskId,
  deviceId,
  outcome: 'failed',
  cause: PlatformCause.onlineTimeout,
  toVersion: '3.0',
});

describe('registry activities', () => {
  it("reports the device's presence and records steps for the API, counting the attempt once", async () => {
    await rolloutTaskOf('t1', ['d1']);
    expect(await activities.isDeviceOnline('d1')).toBe(false);
    await setPresence(db, 'd1', true, new Date());
    expect(await activities.isDeviceOnline('d1')).toBe(true);
    expect(await activities.isDeviceOnline('unknown')).toBe(false);

    await activities.recordUpgradeStep('t1', 'd1', 'querying-version');
    await activities.recordUpgradeStep('t1', 'd1', 'downloading', { fromVersion: '2.0' });
    await activities.recordUpgradeStep('t1', 'd1', 'downloading', { fromVersion: '2.0' });
    const device = await row('t1', 'd1');
    expect(device).toMatchObject({ step: 'downloading', fromVersion: '2.0', attempts: 1 });
    expect(device?.startedAt).toBeInstanceOf(Date);
  });
});

describe('notifyDeviceResult', () => {
  const success = (taskId: string): DeviceUpgradeResult => ({
    taskId,
    deviceId: 'd1',
    outcome: 'succeeded',
    fromVersion: '2.0',
    toVersion: '3.0',
  });

  it("records a legacy task's result, the device's version and one device.result event, and signals nobody", async () => {
    await legacyTaskOf('t-old', ['d1']);
    await reportedBy('device-operation:d1', 'run-1', success('t-old'));
    await reportedBy('device-operation:d1', 'run-1', success('t-old')); // the activity retried

    expect(await row('t-old', 'd1')).toMatchObject({
      step: 'succeeded',
      outcome: 'succeeded',
      toVersion: '3.0',
    });
    expect((await findDevice(db, 'd1'))?.softwareVersion).toBe('3.0');
    const events = await webhookEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event_id: 'device.result:t-old:d1',
      event_type: 'device.result',
      payload: {
        taskId: 't-old',
        deviceId: 'd1',
        outcome: 'succeeded',
        fromVersion: '2.0',
        toVersion: '3.0',
      },
    });
    expect(signals).toEqual([]);
  });

  it('counts each ended attempt once in the metrics, by flow, outcome and cause, not a repeated report', async () => {
    const metrics = createMetrics();
    const counting = createActivities({ db, downloads: {} as PackageDownloads, temporal, metrics });
    await rolloutTaskOf('t1', ['d1']);
    const byDevice: ResultReporter = 'device';
    const report = (runId: string) =>
      new MockActivityEnvironment({
        workflowType: 'mqttUpgrade',
        workflowExecution: { workflowId: 'device-operation:d1', runId },
      }).run(counting.notifyDeviceResult, timeout('t1', 'd1'), byDevice);
    await counting.recordUpgradeStep('t1', 'd1', 'waiting-online');
    await report('run-1');
    await report('run-1'); // the activity retried
    await counting.recordUpgradeStep('t1', 'd1', 'waiting-online');
    await report('run-2');

    expect((await metrics.upgradesEnded.get()).values).toEqual([
      { labels: { flow: 'mqtt', outcome: 'failed', cause: PlatformCause.onlineTimeout }, value: 2 },
    ]);
    // Each attempt's wait for the device, timed once as its result ended it; a repeated step is no new step.
    const stepCounts = (await metrics.upgradeStepSeconds.get()).values.filter(
      ({ metricName }) => metricName === 'otaflow_upgrade_step_duration_seconds_count',
    );
    expect(stepCounts).toEqual([
      expect.objectContaining({ labels: { protocol: expect.any(String), step: 'waiting-online' }, value: 2 }),
    ]);
    // Two attempts started: the first left `pending`, the retry `retrying`.
    expect((await metrics.upgradesStarted.get()).values).toEqual([
      { labels: { flow: expect.any(String) }, value: 2 },
    ]);
  });

  it('records a retried timeout as retrying, then the last attempt as final, and signals the task each time', async () => {
    await rolloutTaskOf('t1', ['d1']);
    const taskWorkflow = taskWorkflowId('t1');

    await activities.recordUpgradeStep('t1', 'd1', 'waiting-online');
    await reportedBy('device-operation:d1', 'run-1', timeout('t1', 'd1'));
    const retrying = await row('t1', 'd1');
    expect(retrying).toMatchObject({
      step: 'retrying',
      outcome: null,
      failureCause: PlatformCause.onlineTimeout,
      attempts: 1,
      finishedAt: null,
    });
    expect(retrying?.retryAt?.getTime()).toBeGreaterThan(Date.now() + 50_000); // 60 s backoff
    expect(await webhookEvents()).toEqual([]);

    // A repeated report of the same run changes nothing and tells the task the same again.
    await reportedBy('device-operation:d1', 'run-1', timeout('t1', 'd1'));
    expect(await row('t1', 'd1')).toMatchObject({ step: 'retrying', attempts: 1 });

    // Attempt 2 starts (its first step counts it and clears the cause) and times out again.
    await activities.recordUpgradeStep('t1', 'd1', 'waiting-online');
    expect(await row('t1', 'd1')).toMatchObject({ step: 'waiting-online', attempts: 2, failureCause: null });
    await reportedBy('device-operation:d1', 'run-2', timeout('t1', 'd1'));
    expect(await row('t1', 'd1')).toMatchObject({ step: 'retrying', attempts: 2 });

    // Attempt 3 is the last one: its failure is final.
    await activities.recordUpgradeStep('t1', 'd1', 'waiting-online');
    await reportedBy('device-operation:d1', 'run-3', timeout('t1', 'd1'));
    expect(await row('t1', 'd1')).toMatchObject({
      step: 'failed',
      outcome: 'failed',
      failureCause: PlatformCause.onlineTimeout,
      attempts: 3,
    });
    expect((await webhookEvents()).map((event) => event.payload)).toEqual([
      expect.objectContaining({
        deviceId: 'd1',
        outcome: 'failed',
        attempts: 3,
        cause: PlatformCause.onlineTimeout,
      }),
    ]);
    expect(signals.map(({ workflowId, ended }) => [workflowId, ended.runId, ended.final])).toEqual([
      [taskWorkflow, 'run-1', false],
      [taskWorkflow, 'run-1', false],
      [taskWorkflow, 'run-2', false],
      [taskWorkflow, 'run-3', true],
    ]);
  });

  it('counts an attempt that failed before recording any step', async () => {
    await rolloutTaskOf('t1', ['d1']);
    await reportedBy('device-operation:d1', 'run-1', timeout('t1', 'd1'));
    expect(await row('t1', 'd1')).toMatchObject({ step: 'retrying', attempts: 1 });
  });

  it('records a failure not worth retrying as final at once', async () => {
    await rolloutTaskOf('t1', ['d1']);
    await activities.recordUpgradeStep('t1', 'd1', 'downloading');
    await reportedBy('device-operation:d1', 'run-1', {
      taskId: 't1',
      deviceId: 'd1',
      outcome: 'failed',
      cause: 'Integrity check failure for new downloaded package',
      detail: 'sha256 mismatch',
      toVersion: '3.0',
    });
    expect(await row('t1', 'd1')).toMatchObject({
      step: 'failed',
      failureCause: 'Integrity check failure for new downloaded package',
      failureDetail: 'sha256 mismatch',
      attempts: 1,
    });
    expect(signals.map((signal) => signal.ended)).toEqual([
      {
        deviceId: 'd1',
        runId: 'run-1',
        outcome: 'failed',
        cause: 'Integrity check failure for new downloaded package',
        final: true,
      },
    ]);
    expect((await findDevice(db, 'd1'))?.softwareVersion).toBeNull();
  });

  it('does not signal the task for a result the task workflow records itself (Task Conflict)', async () => {
    await rolloutTaskOf('t1', ['d1']);
    await reportedBy(taskWorkflowId('t1'), 'task-run', {
      taskId: 't1',
      deviceId: 'd1',
      outcome: 'failed',
      cause: PlatformCause.taskConflict,
      toVersion: '3.0',
    });
    expect(await row('t1', 'd1')).toMatchObject({
      step: 'failed',
      failureCause: 'Task Conflict',
      attempts: 0,
    });
    expect(signals).toEqual([]);
    expect(await webhookEvents()).toHaveLength(1);
  });
});

describe('rollout activities', () => {
  it('pages pending devices in start order after a cursor', async () => {
    await rolloutTaskOf('t1', ['d3', 'd1', 'd2']);
    const first = await activities.nextTaskDevices('t1', 0, 2);
    expect(first.map((device) => device.deviceId)).toEqual(['d3', 'd1']);
    const rest = await activities.nextTaskDevices('t1', first[1]?.seq ?? 0, 2);
    expect(rest.map((device) => [device.deviceId, device.protocol])).toEqual([['d2', 'mqtt']]);
  });

  it('closes never-started devices as cancelled and those awaiting a retry as failed, each with its event', async () => {
    await rolloutTaskOf('t1', ['d1', 'd2', 'd3']);
    const [started] = await activities.nextTaskDevices('t1', 0, 1);
    await activities.recordUpgradeStep('t1', 'd1', 'waiting-online');
    await reportedBy('device-operation:d1', 'run-1', timeout('t1', 'd1'));

    const request = {
      taskId: 't1',
      afterSeq: started?.seq ?? 0,
      awaitingRetry: ['d1'],
      cause: 'Task aborted' as const,
    };
    expect(await activities.closeUnstartedDevices(request)).toEqual({
      cancelled: 2,
      failed: 1,
      remaining: false,
    });
    expect(await activities.closeUnstartedDevices(request)).toEqual({
      cancelled: 0,
      failed: 0,
      remaining: false,
    });

    expect(await row('t1', 'd1')).toMatchObject({
      step: 'failed',
      outcome: 'failed',
      failureCause: PlatformCause.onlineTimeout,
    });
    for (const deviceId of ['d2', 'd3']) {
      expect(await row('t1', deviceId)).toMatchObject({
        step: 'cancelled',
        outcome: 'cancelled',
        failureCause: 'Task aborted',
      });
    }
    expect((await webhookEvents()).map((event) => event.event_id).sort()).toEqual([
      'device.result:t1:d1',
      'device.result:t1:d2',
      'device.result:t1:d3',
    ]);
  });

  it('finds the workflow runs that are no longer running, with their status', async () => {
    const runs = [
      { workflowId: 'device-operation:d1', runId: 'run-1', status: 'RUNNING' },
      { workflowId: 'device-operation:d2', runId: 'run-2', status: 'TERMINATED' },
      { workflowId: 'device-operation:d3', runId: 'run-3', status: 'FAILED' },
    ];
    for (const run of runs) runStatuses.set(`${run.workflowId}/${run.runId}`, run.status);
    // d1's next run is running, but the task asks about the one it started.
    const gone = { workflowId: 'device-operation:d1', runId: 'run-0' };

    const ended = await activities.findEndedRuns([
      ...runs.map(({ workflowId, runId }) => ({ workflowId, runId })),
      gone,
    ]);

    expect(ended).toEqual([runs[1], runs[2], { ...gone, status: 'NOT_FOUND' }]);
  });

  it('records task states, but never takes a task being cancelled back to running', async () => {
    await rolloutTaskOf('t1', ['d1']);
    await activities.recordTaskState('t1', 'paused');
    expect(await findTask(db, 't1')).toMatchObject({ state: 'paused' });
    await activities.recordTaskState('t1', 'aborted', '3 of 5 finished devices failed');
    expect(await findTask(db, 't1')).toMatchObject({
      state: 'aborted',
      stateReason: '3 of 5 finished devices failed',
    });
    await activities.recordTaskState('t1', 'cancelling');
    await activities.recordTaskState('t1', 'running');
    expect(await findTask(db, 't1')).toMatchObject({ state: 'cancelling' });
  });
});

describe('notifyTaskCompleted', () => {
  const summary = {
    taskId: 't1',
    total: 1,
    succeeded: 1,
    failed: 0,
    cancelled: 0,
    state: 'completed' as const,
  };

  it('marks the task completed and queues one task.completed event', async () => {
    await rolloutTaskOf('t1', ['d1']);
    await activities.notifyTaskCompleted(summary);
    await activities.notifyTaskCompleted(summary);
    expect(await findTask(db, 't1')).toMatchObject({ state: 'completed' });
    const events = await webhookEvents();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      event_id: 'task.completed:t1',
      event_type: 'task.completed',
      payload: { ...summary, state: 'completed' },
    });
  });

  it('marks a task being cancelled as cancelled, and keeps an aborted one aborted', async () => {
    await rolloutTaskOf('t1', ['d1']);
    await rolloutTaskOf('t2', ['d2']);
    await activities.recordTaskState('t1', 'cancelling');
    await activities.recordTaskState('t2', 'aborted', 'too many failures');
    await activities.notifyTaskCompleted({ ...summary, succeeded: 0, cancelled: 1 });
    await activities.notifyTaskCompleted({ ...summary, taskId: 't2', succeeded: 0, failed: 1 });
    expect(await findTask(db, 't1')).toMatchObject({ state: 'cancelled' });
    expect(await findTask(db, 't2')).toMatchObject({ state: 'aborted', stateReason: 'too many failures' });
    expect((await webhookEvents()).map((event) => event.payload.state)).toEqual(['cancelled', 'aborted']);
  });
});
