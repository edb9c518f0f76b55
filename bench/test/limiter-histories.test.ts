import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { cellLimiterFigures, grantLatency } from '../limiter-histories';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const { EventType } = temporal.api.enums.v1;

const request = (at: number): HistoryEvent => ({
  eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
  eventTime: msToTs(at),
  workflowExecutionSignaledEventAttributes: { signalName: 'requestPermit' },
});
const release = (at: number): HistoryEvent => ({
  eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
  eventTime: msToTs(at),
  workflowExecutionSignaledEventAttributes: { signalName: 'releasePermit' },
});
const grant = (at: number): HistoryEvent => ({
  eventType: EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
  eventTime: msToTs(at),
  signalExternalWorkflowExecutionInitiatedEventAttributes: { signalName: 'permitGranted' },
});

describe('the cell limiter figures of the benchmark', () => {
  it('times every release that frees a permit for a queued request to the grant of that permit', () => {
    // Two permits, four requests: two wait; both holders release together, the grants follow.
    const figures = cellLimiterFigures('1', [
      [request(0), request(0), request(0), request(0), grant(10), grant(10)],
      [release(1_000), release(1_020), grant(1_100), grant(1_300), release(2_000), release(2_000)],
    ]);
    expect(figures).toMatchObject({ runs: 2, grants: 4, maxQueued: 4, releaseToGrantMs: [100, 280] });
    expect(grantLatency([figures])).toEqual({ samples: 2, p50_ms: 100, p99_ms: 280 });
  });

  it('does not time releases nobody was waiting for', () => {
    const figures = cellLimiterFigures('1', [[request(0), grant(5), release(500), request(900), grant(905)]]);
    expect(figures.releaseToGrantMs).toEqual([]);
  });
});
