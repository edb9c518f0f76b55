/**
 * One radio cell's limiter under a deep queue: N requester workflows (bench/limiter/) ask the real
 * `cellLimiter`, on otaflow's own platform worker, for a permit of a cell of `limit` permits. First
 * `limit` blockers take every permit and hold it until the bench releases them; then the other
 * N − limit requesters are started and the bench waits until the limiter's queue holds them all; then
 * the blockers are released, and the queue drains: each requester holds its grant for `holdMs` and
 * releases it as the LwM2M flows do. The figures come from the limiter's histories, every
 * continue-as-new run of it.
 */
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal as proto } from '@temporalio/proto';
import { eventTypeName, type HistoryCost, historyCost, sumCosts } from '../src/temporal/history-cost';
import { OtaSearchAttributes } from '../workflows/definitions';
import {
  type CellLimiterState,
  cellLimiterStateQuery,
  cellLimiterWorkflowId,
  permitGrantedSignal,
  releasePermitSignal,
} from '../workflows/lwm2m/definitions';
import { LIMITER_REQUESTER_TASK_QUEUE, type LimiterRequesterInput, releaseHoldSignal } from './limiter/shape';
import { cellLimiterFigures, grantLatency, limiterRunHistories } from './limiter-histories';
import { phaseBar, progressBars } from './mqtt-scenario';
import type { BenchStack } from './stack';
import { round } from './stats';
import { inParallel } from './timed-api';

type HistoryEvent = proto.api.history.v1.IHistoryEvent;

export interface LimiterScenarioOptions {
  requesters: number;
  /** The cell's permits as every requester reports them. */
  limit: number;
  holdMs: number;
  deadlineMs: number;
}

export interface LimiterScenarioResult {
  requesters: number;
  limit: number;
  hold_ms: number;
  cellId: string;
  /** Requesters that got, held and released their permit before the deadline. */
  completed: number;
  /**
   * Seconds from the first start: the blockers hold every permit (`blockS`), the queue holds all the
   * others (`startS`), all requesters ended (`grantS`); `drainS` is from the blockers' release to the end.
   */
  wall: { blockS: number; startS: number; drainS: number; grantS: number };
  grant_p50_ms: number | null;
  grant_p99_ms: number | null;
  grant_samples: number;
  grants: number;
  /** Grants from the blockers' first release to the last grant, per second of that span. */
  grants_per_s: number | null;
  max_queued: number;
  actions_per_grant: number | null;
  history_events_per_grant: number | null;
  limiter_runs: number;
  continued_as_new: number;
  limiter_cost: HistoryCost;
}

/** Requester workflows started at once by the benchmark's client. */
const START_CONCURRENCY = 64;
const POLL_MS = 1_000;
/**
 * No requester ending (or queueing) for this long means none will: a workflow task that fails (e.g. a
 * requester out of step with the flows' code) is retried for ever, so the workflows stay running.
 */
const STALL_MS = 120_000;

export async function runLimiterScenario(
  stack: BenchStack,
  options: LimiterScenarioOptions,
): Promise<LimiterScenarioResult> {
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const temporal = new Client({ connection, namespace: stack.namespace });
  const runId = `${Date.now().toString(36)}-${options.requesters}`;
  // A cell of this run only: a limiter lives on for 10 idle minutes.
  const cellId = `bench-${runId}`;
  // Set on the requesters so that this run's are counted from visibility.
  const tag = `limiter-${runId}`;
  const limiter = temporal.workflow.getHandle(cellLimiterWorkflowId(cellId));
  const blockers = Math.min(options.limit, options.requesters);
  const queued = options.requesters - blockers;
  const bars = progressBars();
  const worker = await stack.startWorkerProcess(path.join(__dirname, 'limiter', 'worker-process.ts'));
  try {
    const started = Date.now();
    const blockBar = phaseBar(bars, 'holding  ', blockers);
    const queueBar = phaseBar(bars, 'queued   ', queued);
    const grantBar = phaseBar(bars, 'released ', options.requesters);
    const start = async (index: number, holdUntilReleased: boolean) => {
      const input: LimiterRequesterInput = {
        deviceId: `nb-${runId}-${index}`,
        cellId,
        limit: options.limit,
        holdMs: options.holdMs,
        holdUntilReleased,
      };
      return temporal.workflow.start('limiterRequester', {
        workflowId: `bench-limiter-requester:${runId}-${index}`,
        taskQueue: LIMITER_REQUESTER_TASK_QUEUE,
        args: [input],
        typedSearchAttributes: [{ key: OtaSearchAttributes.taskId, value: tag }],
      });
    };

    const blockerHandles: WorkflowHandle[] = [];
    await inParallel(range(0, blockers), START_CONCURRENCY, async (index) => {
      blockerHandles.push(await start(index, true));
    });
    await waitForLimiter(limiter, options.deadlineMs, (state) => {
      blockBar.update(state.holders.length);
      return state.holders.length >= blockers;
    });
    const blockS = (Date.now() - started) / 1000;

    await inParallel(range(blockers, options.requesters), START_CONCURRENCY, async (index) => {
      await start(index, false);
    });
    await waitForLimiter(limiter, options.deadlineMs, (state) => {
      queueBar.update(state.queue.length);
      return state.queue.length >= queued;
    });
    const startS = (Date.now() - started) / 1000;

    const released = Date.now();
    await Promise.all(blockerHandles.map((handle) => handle.signal(releaseHoldSignal)));
    const completed = await countEnded(temporal, tag, options.requesters, options.deadlineMs, (ended) =>
      grantBar.update(ended),
    );
    const grantS = (Date.now() - started) / 1000;
    const drainS = (Date.now() - released) / 1000;

    const runs = await limiterRunHistories(temporal, cellId);
    const cell = cellLimiterFigures(cellId, runs);
    const latency = grantLatency([cell]);
    const cost = sumCosts(runs.map(historyCost));
    bars.stop();
    return {
      requesters: options.requesters,
      limit: options.limit,
      hold_ms: options.holdMs,
      cellId,
      completed,
      wall: {
        blockS: round(blockS, 1) ?? 0,
        startS: round(startS, 1) ?? 0,
        drainS: round(drainS, 1) ?? 0,
        grantS: round(grantS, 1) ?? 0,
      },
      grant_p50_ms: latency.p50_ms,
      grant_p99_ms: latency.p99_ms,
      grant_samples: latency.samples,
      grants: cell.grants,
      grants_per_s: drainGrantsPerS(runs.flat()),
      max_queued: cell.maxQueued,
      actions_per_grant: cell.grants > 0 ? round(cost.actions / cell.grants) : null,
      history_events_per_grant: cell.grants > 0 ? round(cost.events / cell.grants) : null,
      limiter_runs: cell.runs,
      continued_as_new: cell.runs - 1,
      limiter_cost: cost,
    };
  } finally {
    bars.stop();
    await worker.stop();
    await connection.close();
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, offset) => from + offset);
}

/**
 * Queries the cell's limiter every `POLL_MS` until `done` says so; throws at the deadline or when the
 * book has not changed for `STALL_MS`. A failed query is retried: the limiter may not be started yet,
 * or be between two runs of its continue-as-new chain.
 */
async function waitForLimiter(
  limiter: WorkflowHandle,
  deadlineMs: number,
  done: (state: CellLimiterState) => boolean,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let seenBefore = '';
  let changedAt = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      const state = await limiter.query(cellLimiterStateQuery);
      if (done(state)) return;
      const seen = `${state.holders.length}/${state.queue.length}`;
      if (seen !== seenBefore) {
        seenBefore = seen;
        changedAt = Date.now();
      }
    } catch (err) {
      lastError = err;
    }
    const waiting = `the cell limiter's book (${seenBefore || 'never read'} holders/queued)`;
    if (Date.now() > deadline) {
      throw new Error(`${waiting} still short after ${deadlineMs / 1000} s`, { cause: lastError });
    }
    if (Date.now() - changedAt > STALL_MS) {
      throw new Error(`${waiting} unchanged for ${STALL_MS / 1000} s`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * The queue's drain rate: grants sent from the arrival of the first release (the blockers') to the last
 * grant, per second. The blockers' own grants, before the queue filled, are left out.
 */
function drainGrantsPerS(events: HistoryEvent[]): number | null {
  let firstRelease: number | undefined;
  const grantTimes: number[] = [];
  for (const event of events) {
    const type = eventTypeName(event);
    if (
      firstRelease === undefined &&
      type === 'WorkflowExecutionSignaled' &&
      event.workflowExecutionSignaledEventAttributes?.signalName === releasePermitSignal.name
    ) {
      firstRelease = tsToMs(event.eventTime);
    } else if (
      firstRelease !== undefined &&
      type === 'SignalExternalWorkflowExecutionInitiated' &&
      event.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === permitGrantedSignal.name
    ) {
      grantTimes.push(tsToMs(event.eventTime));
    }
  }
  const last = grantTimes.at(-1);
  if (firstRelease === undefined || last === undefined || last <= firstRelease) return null;
  return round(grantTimes.length / ((last - firstRelease) / 1000));
}

/**
 * Polls Temporal's visibility until every requester of the run has closed; throws at the deadline or
 * when none ended for `STALL_MS`. Returns how many completed (the others failed or were terminated).
 */
async function countEnded(
  temporal: Client,
  tag: string,
  expected: number,
  deadlineMs: number,
  progress: (ended: number) => void,
): Promise<number> {
  const ofRun = `${OtaSearchAttributes.taskId.name} = "${tag}"`;
  const deadline = Date.now() + deadlineMs;
  let endedBefore = 0;
  let changedAt = Date.now();
  for (;;) {
    const { count: ended } = await temporal.workflow.count(`${ofRun} AND ExecutionStatus != "Running"`);
    progress(ended);
    if (ended !== endedBefore) {
      endedBefore = ended;
      changedAt = Date.now();
    }
    if (ended >= expected) {
      return (await temporal.workflow.count(`${ofRun} AND ExecutionStatus = "Completed"`)).count;
    }
    if (Date.now() > deadline) {
      throw new Error(`${expected - ended} limiter requesters still running after ${deadlineMs / 1000} s`);
    }
    if (Date.now() - changedAt > STALL_MS) {
      throw new Error(`no limiter requester ended in ${STALL_MS / 1000} s (${ended} of ${expected} did)`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
