/**
 * The cell limiters' side of the LwM2M flow, read from their histories across continue-as-new runs:
 * what they cost (events, actions) and how fast they hand a released permit to the next device.
 */
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import {
  eventTypeName,
  type HistoryCost,
  historyCost,
  runHistories,
  sumCosts,
} from '../src/temporal/history-cost';
import { cellLimiterWorkflowId } from '../workflows/lwm2m/definitions';
import { percentile, round } from './stats';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface CellLimiterFigures {
  cellId: string;
  runs: number;
  grants: number;
  /** Requests waiting in the queue at most, counted from the history (requests − grants). */
  maxQueued: number;
  cost: HistoryCost;
  grantsPerS: number | null;
  /**
   * Release → the grant of the permit it freed, for releases that freed a permit for a queued request:
   * each grant is paired with the oldest such release not yet paired.
   */
  releaseToGrantMs: number[];
}

/** Every run of the cell's limiter (its continue-as-new chain), oldest first. */
export function limiterRunHistories(client: Client, cellId: string): Promise<HistoryEvent[][]> {
  return runHistories(client, cellLimiterWorkflowId(cellId));
}

function signalName(event: HistoryEvent): string | undefined {
  return (
    event.workflowExecutionSignaledEventAttributes?.signalName ??
    event.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName ??
    undefined
  );
}

export function cellLimiterFigures(cellId: string, runs: HistoryEvent[][]): CellLimiterFigures {
  const events = runs.flat();
  let queued = 0;
  let maxQueued = 0;
  const grantTimes: number[] = [];
  const releaseToGrantMs: number[] = [];
  /** Releases whose freed permit a queued request is owed, oldest first. */
  const pendingReleases: number[] = [];
  for (const event of events) {
    const type = eventTypeName(event);
    const at = tsToMs(event.eventTime);
    const name = signalName(event);
    if (type === 'WorkflowExecutionSignaled' && name === 'requestPermit') {
      queued += 1;
      maxQueued = Math.max(maxQueued, queued);
    } else if (type === 'WorkflowExecutionSignaled' && name === 'releasePermit') {
      if (queued > pendingReleases.length) pendingReleases.push(at);
    } else if (type === 'SignalExternalWorkflowExecutionInitiated' && name === 'permitGranted') {
      queued = Math.max(0, queued - 1);
      grantTimes.push(at);
      const release = pendingReleases.shift();
      if (release !== undefined) releaseToGrantMs.push(at - release);
    }
  }
  const spanS = grantTimes.length > 1 ? ((grantTimes.at(-1) ?? 0) - (grantTimes[0] ?? 0)) / 1000 : 0;
  return {
    cellId,
    runs: runs.length,
    grants: grantTimes.length,
    maxQueued,
    cost: sumCosts(runs.map(historyCost)),
    grantsPerS: spanS > 0 ? round((grantTimes.length - 1) / spanS) : null,
    releaseToGrantMs,
  };
}

export function grantLatency(cells: CellLimiterFigures[]) {
  const samples = cells.flatMap((cell) => cell.releaseToGrantMs);
  return {
    samples: samples.length,
    p50_ms: round(percentile(samples, 50), 1),
    p99_ms: round(percentile(samples, 99), 1),
  };
}
