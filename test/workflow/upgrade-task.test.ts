/**
 * An upgrade task: one device workflow per device, "Task Conflict" for a device that already has an
 * operation in progress, cancellation of the whole task, and the summary to the application.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyCost } from '../../bench/histories';
import {
  deviceOperationWorkflowId,
  deviceUpgradeStatusQuery,
  OtaSearchAttributes,
  TaskQueue,
  upgradeTaskWorkflowId,
} from '../../workflows/definitions';
import { mqttUpgrade } from '../../workflows/mqtt-upgrade';
import { upgradeTask } from '../../workflows/upgrade-task';
import { timeSkippingEnv } from '../support/stack/time-skipping';
import { FakeFleet } from './fake-fleet';
import { recordHistory } from './history-recorder';
import { packageOf } from './packages';
import { lockedClient, untilWaitingOnTimer } from './server-time';
import { runWorkers } from './workers';

const HOUR = 60 * 60 * 1000;

let env: TestWorkflowEnvironment;
let client: Client;
let fleet: FakeFleet;
let stopWorkers: () => Promise<void>;

beforeAll(async () => {
  env = await timeSkippingEnv();
  client = lockedClient(env);
  fleet = new FakeFleet(env.client);
  stopWorkers = await runWorkers(env, fleet);
});

afterAll(async () => {
  await stopWorkers?.();
  await env?.teardown();
});

function startTask(taskId: string, deviceIds: string[]) {
  return client.workflow.start(upgradeTask, {
    workflowId: upgradeTaskWorkflowId(taskId),
    taskQueue: TaskQueue.platform,
    args: [{ taskId, deviceIds, package: packageOf('software') }],
  });
}

function deviceHandle(deviceId: string): WorkflowHandle<typeof mqttUpgrade> {
  return client.workflow.getHandle(deviceOperationWorkflowId(deviceId));
}

describe('upgrade task', () => {
  it('upgrades each device and fails a device that already has an operation with "Task Conflict"', async () => {
    const free = fleet.addDevice();
    const busy = fleet.addDevice({ online: false });
    const otherOperation = await client.workflow.start(mqttUpgrade, {
      workflowId: deviceOperationWorkflowId(busy),
      taskQueue: TaskQueue.platform,
      args: [{ taskId: 'task-earlier', deviceId: busy, package: packageOf('firmware') }],
    });

    const task = await startTask('task-conflict', [free, busy]);
    const summary = await task.result();

    expect(summary).toEqual({ taskId: 'task-conflict', total: 2, succeeded: 1, failed: 1, cancelled: 0 });
    expect(fleet.notifiedSummaries).toContainEqual(summary);
    expect(fleet.resultsNotifiedFor(free)).toEqual([
      {
        taskId: 'task-conflict',
        deviceId: free,
        outcome: 'succeeded',
        fromVersion: '1.0.0',
        toVersion: '2.0.0',
      },
    ]);
    expect(fleet.resultsNotifiedFor(busy)).toEqual([
      {
        taskId: 'task-conflict',
        deviceId: busy,
        outcome: 'failed',
        cause: 'Task Conflict',
        toVersion: '2.0.0',
      },
    ]);
    // The task starts the device's upgrade with its search attributes, so it upserts none of its own.
    const freeUpgrade = deviceHandle(free);
    expect((await freeUpgrade.describe()).searchAttributes).toMatchObject({
      [OtaSearchAttributes.taskId.name]: ['task-conflict'],
      [OtaSearchAttributes.deviceId.name]: [free],
      [OtaSearchAttributes.packageVersion.name]: ['2.0.0'],
    });
    expect(historyCost((await freeUpgrade.fetchHistory()).events ?? []).actions).toBeLessThanOrEqual(12);
    // The operation already in progress is left alone.
    expect(await otherOperation.query(deviceUpgradeStatusQuery)).toEqual({ step: 'waiting-online' });
    await recordHistory('task-conflict', task);
    await otherOperation.terminate('test done');
  });

  it('cancels every device upgrade when the task is cancelled, and still reports each device and the summary', async () => {
    const downloading = fleet.addDevice({ reportUpgrade: () => undefined });
    const offline = fleet.addDevice({ online: false });
    const task = await startTask('task-cancelled', [downloading, offline]);
    await untilWaitingOnTimer(deviceHandle(downloading), 24 * HOUR);
    await untilWaitingOnTimer(deviceHandle(offline), 25 * HOUR);
    expect(await deviceHandle(downloading).query(deviceUpgradeStatusQuery)).toEqual({ step: 'downloading' });
    expect(await deviceHandle(offline).query(deviceUpgradeStatusQuery)).toEqual({ step: 'waiting-online' });

    await task.cancel();
    const summary = await task.result();

    expect(summary).toEqual({ taskId: 'task-cancelled', total: 2, succeeded: 0, failed: 0, cancelled: 2 });
    expect(fleet.notifiedSummaries).toContainEqual(summary);
    expect(fleet.resultsNotifiedFor(downloading)).toEqual([
      {
        taskId: 'task-cancelled',
        deviceId: downloading,
        outcome: 'cancelled',
        cause: 'Cancelled',
        fromVersion: '1.0.0',
        toVersion: '2.0.0',
      },
    ]);
    expect(fleet.resultsNotifiedFor(offline)).toEqual([
      {
        taskId: 'task-cancelled',
        deviceId: offline,
        outcome: 'cancelled',
        cause: 'Cancelled',
        toVersion: '2.0.0',
      },
    ]);
    for (const deviceId of [downloading, offline]) {
      expect(await deviceHandle(deviceId).result()).toMatchObject({ outcome: 'cancelled' });
    }
    await recordHistory('task-cancelled', task);
  });

  it('starts devices in batches and accounts for every one of them', async () => {
    const onTarget = Array.from({ length: 120 }, () => fleet.addDevice({ softwareVersion: '2.0.0' }));
    const needsUpgrade = Array.from({ length: 30 }, () => fleet.addDevice());

    const summary = await (await startTask('task-batches', [...onTarget, ...needsUpgrade])).result();

    expect(summary).toEqual({ taskId: 'task-batches', total: 150, succeeded: 150, failed: 0, cancelled: 0 });
    const notifiedDevices = new Set(
      fleet.notifiedResults.filter((r) => r.taskId === 'task-batches').map((r) => r.deviceId),
    );
    expect(notifiedDevices).toEqual(new Set([...onTarget, ...needsUpgrade]));
  });
});
