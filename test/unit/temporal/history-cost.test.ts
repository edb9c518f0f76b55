import { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { historyCost, workflowTaskTimeouts } from '../../../src/temporal/history-cost';

const { EventType, TimeoutType } = temporal.api.enums.v1;

function timedOut(timeoutType: temporal.api.enums.v1.TimeoutType): temporal.api.history.v1.IHistoryEvent {
  return {
    eventType: EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    workflowTaskTimedOutEventAttributes: { timeoutType },
  };
}

describe('workflowTaskTimeouts', () => {
  it('tells a slow worker (start-to-close) from an unpolled sticky queue (schedule-to-start)', () => {
    const events = [
      { eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED },
      timedOut(TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START),
      timedOut(TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE),
      timedOut(TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START),
    ];

    expect(workflowTaskTimeouts(events)).toEqual({ ScheduleToStart: 2, StartToClose: 1 });
    expect(historyCost(events).eventsByType.WorkflowTaskTimedOut).toBe(3);
  });

  it('is empty for a history without timeouts', () => {
    expect(workflowTaskTimeouts([{ eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED }])).toEqual(
      {},
    );
  });
});
