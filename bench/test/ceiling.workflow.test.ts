/**
 * The benchmark's ceiling makes the Temporal work of the shape it is given — in particular its
 * timers, which a wait whose answer comes during the activity would otherwise never start.
 */
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventTypeName, historyCost, runHistories } from '../../src/temporal/history-cost';
import { timeSkippingEnv } from '../../test/support/stack/time-skipping';
import { deviceOperationWorkflowId } from '../../workflows/definitions';
import { type CeilingActivities, createCeilingActivities } from '../ceiling/activities';
import { CEILING_TASK_QUEUE, timersOfChild, type UpgradeShape } from '../ceiling/shape';
import type { ceilingTask } from '../ceiling/workflows';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await timeSkippingEnv();
});

afterAll(async () => {
  await env?.teardown();
});

function ceilingWorker(activities: CeilingActivities): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    taskQueue: CEILING_TASK_QUEUE,
    workflowsPath: join(__dirname, '../../bench/ceiling/workflows.ts'),
    activities,
  });
}

describe('timersOfChild', () => {
  it('shares a mean out so that any run of children starts the mean times their number, give or take one', () => {
    for (const mean of [0, 0.25, 0.74, 1, 1.5, 2.33]) {
      const timers = Array.from({ length: 1000 }, (_, index) => timersOfChild(mean, index));
      expect(timers.reduce((sum, count) => sum + count, 0)).toBe(Math.round(mean * 1000));
      expect(Math.max(...timers) - Math.min(...timers)).toBeLessThanOrEqual(1);
    }
  });
});

describe('the ceiling workflows', () => {
  it("start the shape's activities, signals, upserts and, on average, its timers", async () => {
    const shape: UpgradeShape = { activities: 3, signals: 2, timers: 0.5, upserts: 1, permit: false };
    const taskId = 'ceiling-test';
    const children = 10;
    const worker = await ceilingWorker(createCeilingActivities(env.client));
    const ended = await worker.runUntil(
      env.client.workflow.execute<typeof ceilingTask>('ceilingTask', {
        workflowId: `ceiling-task-${taskId}`,
        taskQueue: CEILING_TASK_QUEUE,
        args: [{ taskId, children, maxInProgress: children, shape, cells: 0 }],
      }),
    );
    expect(ended).toBe(children);

    const costs = await Promise.all(
      Array.from({ length: children }, async (_, index) => {
        const handle = env.client.workflow.getHandle(deviceOperationWorkflowId(`${taskId}-${index}`));
        return historyCost((await handle.fetchHistory()).events ?? []);
      }),
    );
    const total = (type: string) => costs.reduce((sum, cost) => sum + (cost.eventsByType[type] ?? 0), 0);
    expect(total('ActivityTaskScheduled')).toBe(children * shape.activities);
    expect(total('WorkflowExecutionSignaled')).toBe(children * shape.signals);
    expect(total('UpsertWorkflowSearchAttributes')).toBe(children * shape.upserts);
    expect(total('TimerStarted')).toBe(children * shape.timers);
  });

  it('ends its task when every device has reported, not at as many reports: a retried report counts once', async () => {
    const shape: UpgradeShape = { activities: 1, signals: 0, timers: 0, upserts: 0, permit: false };
    const taskId = 'ceiling-retried-report';
    const ceiling = createCeilingActivities(env.client);
    let releaseLastReport = () => {};
    const lastReport = new Promise<void>((resolve) => {
      releaseLastReport = resolve;
    });
    const worker = await ceilingWorker({
      ...ceiling,
      // Device 0's report goes out twice, as when its first attempt timed out after signalling;
      // device 1's waits until the test has looked at the task.
      async reportToTask(taskWorkflowId: string) {
        const device = Context.current().info.workflowExecution?.workflowId;
        if (device === deviceOperationWorkflowId(`${taskId}-1`)) await lastReport;
        else await ceiling.reportToTask(taskWorkflowId);
        await ceiling.reportToTask(taskWorkflowId);
      },
    });
    await worker.runUntil(async () => {
      try {
        const task = await env.client.workflow.start<typeof ceilingTask>('ceilingTask', {
          workflowId: `ceiling-task-${taskId}`,
          taskQueue: CEILING_TASK_QUEUE,
          args: [{ taskId, children: 2, maxInProgress: 2, shape, cells: 0 }],
        });
        // Both of device 0's reports received and seen by a completed workflow task of the task.
        const reportsSeen = async () => {
          const types = ((await task.fetchHistory()).events ?? []).map(eventTypeName);
          const seen = types.slice(0, types.lastIndexOf('WorkflowTaskCompleted'));
          return seen.filter((type) => type === 'WorkflowExecutionSignaled').length;
        };
        await expect.poll(reportsSeen, { timeout: 30_000 }).toBe(2);
        // The task's only activity is its last step: not scheduled while device 1 has not reported.
        expect((await task.describe()).status.name).toBe('RUNNING');
        expect(
          historyCost((await task.fetchHistory()).events ?? []).eventsByType.ActivityTaskScheduled,
        ).toBeUndefined();

        releaseLastReport();
        expect(await task.result()).toBe(2);
      } finally {
        releaseLastReport(); // a failed check must not leave device 1's activity holding the worker
      }
    });
  });

  it('continues its task as new past its event limit, keeping the devices in flight, and ends when all have', async () => {
    const shape: UpgradeShape = { activities: 1, signals: 0, timers: 0, upserts: 0, permit: false };
    const taskId = 'ceiling-continued';
    const children = 30;
    const worker = await ceilingWorker(createCeilingActivities(env.client));
    const workflowId = `ceiling-task-${taskId}`;
    const ended = await worker.runUntil(
      env.client.workflow.execute<typeof ceilingTask>('ceilingTask', {
        workflowId,
        taskQueue: CEILING_TASK_QUEUE,
        args: [{ taskId, children, maxInProgress: 10, shape, cells: 0, historyEventLimit: 60 }],
      }),
    );

    expect(ended).toBe(children);
    expect((await runHistories(env.client, workflowId)).length).toBeGreaterThan(1);
    const statuses = await Promise.all(
      Array.from({ length: children }, async (_, index) => {
        const handle = env.client.workflow.getHandle(deviceOperationWorkflowId(`${taskId}-${index}`));
        return (await handle.describe()).status.name;
      }),
    );
    expect(new Set(statuses)).toEqual(new Set(['COMPLETED']));
  });
});
