/**
 * The benchmark's ceiling makes the Temporal work of the shape it is given — in particular its
 * timers, which a wait whose answer comes during the activity would otherwise never start.
 */
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCeilingActivities } from '../../bench/ceiling/activities';
import { CEILING_TASK_QUEUE, timersOfChild, type UpgradeShape } from '../../bench/ceiling/shape';
import type { ceilingTask } from '../../bench/ceiling/workflows';
import { historyCost } from '../../bench/histories';
import { deviceOperationWorkflowId } from '../../workflows/definitions';
import { timeSkippingEnv } from '../support/stack/time-skipping';

let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await timeSkippingEnv();
});

afterAll(async () => {
  await env?.teardown();
});

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
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: CEILING_TASK_QUEUE,
      workflowsPath: join(__dirname, '../../bench/ceiling/workflows.ts'),
      activities: createCeilingActivities(env.client),
    });
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
});
