/**
 * The cell limiter workflow on the time-skipping test server, with the real permit activities
 * (signal-with-start, describe) and requester workflows that hold permits until told to let go.
 */
import { join } from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskQueue } from '../../workflows/definitions';
import {
  cellLimiterStateQuery,
  cellLimiterWorkflowId,
  releasePermitSignal,
  requestPermitSignal,
} from '../../workflows/lwm2m/definitions';
import { timeSkippingEnv } from '../support/stack/time-skipping';
import { holdsPermitQuery, letGoSignal, permitHolder } from './cell-limiter-workflows';
import { recordHistory } from './history-recorder';
import { Lwm2mFakeFleet, runLwm2mWorkers } from './lwm2m-fake-fleet';
import { lockedClient } from './server-time';

const MINUTE = 60 * 1000;

let env: TestWorkflowEnvironment;
let client: Client;
let stopWorkers: () => Promise<void>;
let cells = 0;

beforeAll(async () => {
  env = await timeSkippingEnv();
  client = lockedClient(env);
  stopWorkers = await runLwm2mWorkers(
    env,
    new Lwm2mFakeFleet(client),
    join(__dirname, 'cell-limiter-workflows.ts'),
  );
});

afterAll(async () => {
  await stopWorkers?.();
  await env?.teardown();
});

function newCell(): string {
  return `limiter-cell-${++cells}`;
}

let holders = 0;
async function requestPermit(cellId: string, limit: number): Promise<WorkflowHandle<typeof permitHolder>> {
  const handle = await client.workflow.start(permitHolder, {
    workflowId: `holder-${++holders}`,
    taskQueue: TaskQueue.platform,
    args: [cellId, limit],
  });
  // Requests reach the limiter in the order the tests make them: each once its request activity is done.
  await expect.poll(() => requestDelivered(handle), { timeout: 10_000 }).toBe(true);
  return handle;
}

async function requestDelivered(handle: WorkflowHandle): Promise<boolean> {
  const { events } = await handle.fetchHistory();
  return (events ?? []).some((event) => event.activityTaskCompletedEventAttributes);
}

/** The limiter's state, or undefined before the cell's limiter has started. */
async function stateOf(cellId: string) {
  try {
    return await client.workflow.getHandle(cellLimiterWorkflowId(cellId)).query(cellLimiterStateQuery);
  } catch {
    return undefined;
  }
}

async function holdersOf(cellId: string): Promise<string[]> {
  return ((await stateOf(cellId))?.holders ?? []).map((h) => h.requesterWorkflowId);
}

async function queueOf(cellId: string): Promise<string[]> {
  return ((await stateOf(cellId))?.queue ?? []).map((q) => q.requesterWorkflowId);
}

async function letGo(handle: WorkflowHandle<typeof permitHolder>) {
  await handle.signal(letGoSignal);
  await handle.result();
}

const holds = (handle: WorkflowHandle<typeof permitHolder>) => handle.query(holdsPermitQuery);

async function holdsOrEnded(handle: WorkflowHandle<typeof permitHolder>): Promise<boolean | 'ended'> {
  return (await handle.describe()).status.name === 'COMPLETED' ? 'ended' : holds(handle);
}

describe('cell limiter', () => {
  it('grants up to the limit, queues the rest, and grants the queue as permits are released', async () => {
    const cellId = newCell();
    const [a, b, c] = [
      await requestPermit(cellId, 2),
      await requestPermit(cellId, 2),
      await requestPermit(cellId, 2),
    ];

    await expect.poll(() => holds(b)).toBe(true);
    expect(await holds(a)).toBe(true);
    expect(await holdersOf(cellId)).toEqual([a.workflowId, b.workflowId]);
    expect(await queueOf(cellId)).toEqual([c.workflowId]);
    expect(await holds(c)).toBe(false);

    await letGo(a);
    await expect.poll(() => holds(c)).toBe(true);
    expect(await holdersOf(cellId)).toEqual([b.workflowId, c.workflowId]);
    await letGo(b);
    await letGo(c);
    expect(await stateOf(cellId)).toEqual({ cellId, holders: [], queue: [] });
  });

  it('lets a device in poor coverage (limit 1) upgrade alone', async () => {
    const cellId = newCell();
    const good = await requestPermit(cellId, 50);
    const poor = await requestPermit(cellId, 1);
    const later = await requestPermit(cellId, 50);
    await expect.poll(() => holds(good)).toBe(true);
    expect(await queueOf(cellId)).toEqual([poor.workflowId, later.workflowId]);

    await letGo(good);
    await expect.poll(() => holds(poor)).toBe(true);
    expect(await holdersOf(cellId)).toEqual([poor.workflowId]);
    expect(await holds(later)).toBe(false);

    await letGo(poor);
    await expect.poll(() => holds(later)).toBe(true);
    await letGo(later);
  });

  it('never lets a later request overtake a waiting earlier one (head of line)', async () => {
    const cellId = newCell();
    const first = await requestPermit(cellId, 10);
    const second = await requestPermit(cellId, 10);
    const fussy = await requestPermit(cellId, 2); // fits only once one of the two has gone
    const small = await requestPermit(cellId, 10); // would fit now, but fussy is ahead
    await expect.poll(() => holds(second)).toBe(true);
    expect(await queueOf(cellId)).toEqual([fussy.workflowId, small.workflowId]);

    await letGo(first);
    await expect.poll(() => holds(fussy)).toBe(true);
    expect(await queueOf(cellId)).toEqual([small.workflowId]);

    await letGo(second);
    await expect.poll(() => holds(small)).toBe(true);
    await letGo(fussy);
    await letGo(small);
  });

  it('reclaims the permit of a holder that was terminated, within a minute', async () => {
    const cellId = newCell();
    const doomed = await requestPermit(cellId, 1);
    const next = await requestPermit(cellId, 1);
    await expect.poll(() => holds(doomed)).toBe(true);

    await doomed.terminate('operator terminated the upgrade');
    expect(await holdersOf(cellId)).toEqual([doomed.workflowId]);
    await env.sleep(MINUTE);

    await expect.poll(() => holds(next)).toBe(true);
    expect(await holdersOf(cellId)).toEqual([next.workflowId]);
    await letGo(next);
  });

  it('treats a repeated request from a holder as the same one, and a release from a waiting requester as a withdrawal', async () => {
    const cellId = newCell();
    const holder = await requestPermit(cellId, 1);
    const waiter = await requestPermit(cellId, 1);
    const limiter = client.workflow.getHandle(cellLimiterWorkflowId(cellId));

    await limiter.signal(requestPermitSignal, {
      requesterWorkflowId: holder.workflowId,
      deviceId: holder.workflowId,
      limit: 1,
    });
    await limiter.signal(releasePermitSignal, { requesterWorkflowId: waiter.workflowId });

    await expect.poll(() => queueOf(cellId)).toEqual([]);
    expect(await holdersOf(cellId)).toEqual([holder.workflowId]);
    await waiter.terminate('withdrew its request');
    await letGo(holder);
  });

  it('ignores a malformed request', async () => {
    const cellId = newCell();
    const holder = await requestPermit(cellId, 1);
    const limiter = client.workflow.getHandle(cellLimiterWorkflowId(cellId));

    await limiter.signal(requestPermitSignal, { requesterWorkflowId: 'holder-x', deviceId: 'x', limit: 0 });

    expect(await stateOf(cellId)).toMatchObject({
      holders: [{ requesterWorkflowId: holder.workflowId }],
      queue: [],
    });
    await letGo(holder);
  });

  it('continues as new with a low history limit without losing or duplicating a request', async () => {
    const cellId = newCell();
    const limiter = await client.workflow.start('cellLimiter', {
      workflowId: cellLimiterWorkflowId(cellId),
      taskQueue: TaskQueue.platform,
      args: [{ cellId, holders: [], queue: [], historyEventLimit: 25 }],
    });
    const firstRunId = limiter.firstExecutionRunId;

    const requesters = [];
    for (let i = 0; i < 8; i++) requesters.push(await requestPermit(cellId, 2));
    // The limiter itself is not queried here: the test server can hold a query that reaches a run
    // while it continues as new. The requesters show what it granted.
    for (const [i, requester] of requesters.entries()) {
      await expect.poll(() => holds(requester), { timeout: 10_000 }).toBe(true);
      const holding = await Promise.all(requesters.map(holdsOrEnded));
      expect(holding).toEqual(requesters.map((_, j) => (j < i ? 'ended' : j < i + 2)));
      await letGo(requester);
    }

    const { runId } = await client.workflow.getHandle(cellLimiterWorkflowId(cellId)).describe();
    expect(runId).not.toBe(firstRunId);
    await recordHistory(
      '0.1.0/cell-limiter-continued-as-new',
      client.workflow.getHandle(cellLimiterWorkflowId(cellId), firstRunId),
    );
  });

  it('ends itself after 10 idle minutes, and a new request starts it again', async () => {
    const cellId = newCell();
    await letGo(await requestPermit(cellId, 50));
    const limiter = client.workflow.getHandle(cellLimiterWorkflowId(cellId));

    await env.sleep(9 * MINUTE);
    expect((await limiter.describe()).status.name).toBe('RUNNING');
    await env.sleep(MINUTE);
    await expect.poll(async () => (await limiter.describe()).status.name).toBe('COMPLETED');

    const again = await requestPermit(cellId, 50);
    await expect.poll(() => holds(again)).toBe(true);
    expect((await limiter.describe()).status.name).toBe('RUNNING');
    await letGo(again);
  });
});
