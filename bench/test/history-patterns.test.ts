import { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { countPatterns, eventSequence } from '../history-patterns';

const { EventType } = temporal.api.enums.v1;

function history(...types: (keyof typeof EventType)[]): temporal.api.history.v1.IHistoryEvent[] {
  return types.map((type) => ({ eventType: EventType[type] }));
}

const workflowTask = [
  'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED',
  'EVENT_TYPE_WORKFLOW_TASK_STARTED',
  'EVENT_TYPE_WORKFLOW_TASK_COMPLETED',
] as const;
const command = [
  'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED',
  'EVENT_TYPE_ACTIVITY_TASK_STARTED',
  'EVENT_TYPE_ACTIVITY_TASK_COMPLETED',
] as const;
/** The device answered during the command's activity: one workflow task sees both. */
const answeredEarly = history(
  'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
  ...workflowTask,
  ...command,
  'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED',
  ...workflowTask,
  'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED',
);
/** The answer came after the activity completed: a timer, and a workflow task more. */
const answeredLate = history(
  'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
  ...workflowTask,
  ...command,
  ...workflowTask,
  'EVENT_TYPE_TIMER_STARTED',
  'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED',
  ...workflowTask,
  'EVENT_TYPE_TIMER_CANCELED',
  'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED',
);

describe('history patterns (bench/history-patterns.ts)', () => {
  it('folds each workflow task into one step and names the other events', () => {
    expect(eventSequence(answeredEarly)).toEqual([
      'WorkflowExecutionStarted',
      'WorkflowTask',
      'ActivityTaskScheduled',
      'ActivityTaskStarted',
      'ActivityTaskCompleted',
      'WorkflowExecutionSignaled',
      'WorkflowTask',
      'WorkflowExecutionCompleted',
    ]);
  });

  it('counts the runs of each sequence, most common first, with its workflow tasks and timers', () => {
    const patterns = countPatterns([answeredLate, answeredEarly, answeredLate].map(eventSequence));
    expect(patterns.map(({ runs, workflowTasks, timers }) => ({ runs, workflowTasks, timers }))).toEqual([
      { runs: 2, workflowTasks: 3, timers: 1 },
      { runs: 1, workflowTasks: 2, timers: 0 },
    ]);
  });
});
