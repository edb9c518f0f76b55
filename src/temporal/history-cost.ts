/**
 * What a workflow run costs on Temporal, read from its event history: events by type, and the
 * billable actions among them as Temporal Cloud counts them
 * (https://docs.temporal.io/cloud/actions): a workflow start (client or child), each activity
 * attempt, each timer, each signal received or sent, each search-attribute upsert except the SDK's
 * own `TemporalChangeVersion` one (a `patched` call's, which that page exempts), the markers of
 * one workflow task as one action (patches, local activities: that page counts "all RecordMarkers
 * from each Workflow Task as one action") and each accepted update. Workflow tasks and completion
 * events are free.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { deviceOperationWorkflowId } from '../../workflows/definitions';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface HistoryCost {
  events: number;
  actions: number;
  eventsByType: Record<string, number>;
  actionsByType: Record<string, number>;
}

/** One action per event of these types, except activities: one per attempt. */
const ACTION_EVENT_TYPES = new Set([
  'WorkflowExecutionStarted',
  'ActivityTaskScheduled',
  'TimerStarted',
  'WorkflowExecutionSignaled',
  'SignalExternalWorkflowExecutionInitiated',
  'UpsertWorkflowSearchAttributes',
  'MarkerRecorded',
  'WorkflowExecutionUpdateAccepted',
]);

/** `EVENT_TYPE_TIMER_STARTED` → `TimerStarted`, the names Temporal's UI and docs use. */
export function eventTypeName(event: HistoryEvent): string {
  return enumValueName(temporal.api.enums.v1.EventType[event.eventType ?? 0], 'EVENT_TYPE_');
}

/** `TIMEOUT_TYPE_START_TO_CLOSE` (prefix `TIMEOUT_TYPE_`) → `StartToClose`. */
function enumValueName(name: string | undefined, prefix: string): string {
  return (name ?? `${prefix}UNSPECIFIED`)
    .slice(prefix.length)
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_, __, letter: string) => letter.toUpperCase());
}

export function historyCost(events: HistoryEvent[]): HistoryCost {
  const cost: HistoryCost = { events: events.length, actions: 0, eventsByType: {}, actionsByType: {} };
  const workflowTasksWithMarkers = new Set<string>();
  for (const event of events) {
    const type = eventTypeName(event);
    cost.eventsByType[type] = (cost.eventsByType[type] ?? 0) + 1;
    let actions = ACTION_EVENT_TYPES.has(type) ? 1 : 0;
    if (type === 'MarkerRecorded') {
      const task = String(event.markerRecordedEventAttributes?.workflowTaskCompletedEventId ?? event.eventId);
      actions = workflowTasksWithMarkers.has(task) ? 0 : 1;
      workflowTasksWithMarkers.add(task);
    }
    if (type === 'UpsertWorkflowSearchAttributes' && onlyChangeVersion(event)) actions = 0;
    // A retried activity is one ActivityTaskScheduled but one billed action per attempt.
    if (type === 'ActivityTaskStarted')
      actions = Math.max(0, (event.activityTaskStartedEventAttributes?.attempt ?? 1) - 1);
    if (actions > 0) {
      cost.actions += actions;
      const key = type === 'ActivityTaskStarted' ? 'ActivityRetry' : type;
      cost.actionsByType[key] = (cost.actionsByType[key] ?? 0) + actions;
    }
  }
  return cost;
}

function onlyChangeVersion(event: HistoryEvent): boolean {
  const fields = Object.keys(
    event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
  );
  return fields.length > 0 && fields.every((field) => field === 'TemporalChangeVersion');
}

export async function fetchEvents(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return history.events ?? [];
}

/** Every run of a workflow, oldest first, by following `continuedExecutionRunId` back from the latest. */
export async function runHistories(client: Client, workflowId: string): Promise<HistoryEvent[][]> {
  const runs: HistoryEvent[][] = [];
  let runId: string | undefined;
  for (;;) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    runs.unshift(events);
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
    if (!runId) return runs;
  }
}

/**
 * A history's timed-out workflow tasks by timeout (`StartToClose`: the worker did not complete it in
 * time, and it is retried, with a full replay unless cached; `ScheduleToStart`: no worker polled the
 * run's sticky queue in time, so the task moved to the normal queue).
 */
export function workflowTaskTimeouts(events: HistoryEvent[]): Record<string, number> {
  const byTimeout: Record<string, number> = {};
  for (const event of events) {
    const timeoutType = event.workflowTaskTimedOutEventAttributes?.timeoutType;
    if (timeoutType == null) continue;
    const name = enumValueName(temporal.api.enums.v1.TimeoutType[timeoutType], 'TIMEOUT_TYPE_');
    byTimeout[name] = (byTimeout[name] ?? 0) + 1;
  }
  return byTimeout;
}

/** What all the runs of a workflow cost together (a task that continued as new is one task). */
export async function chainCost(client: Client, workflowId: string): Promise<HistoryCost & { runs: number }> {
  const runs = await runHistories(client, workflowId);
  return { ...sumCosts(runs.map(historyCost)), runs: runs.length };
}

export function sumCosts(costs: HistoryCost[]): HistoryCost {
  const sum: HistoryCost = { events: 0, actions: 0, eventsByType: {}, actionsByType: {} };
  const add = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value;
  };
  for (const cost of costs) {
    sum.events += cost.events;
    sum.actions += cost.actions;
    add(sum.eventsByType, cost.eventsByType);
    add(sum.actionsByType, cost.actionsByType);
  }
  return sum;
}

/** The mean cost of the given workflows' histories, fetched a few at a time. */
export async function meanHistoryCost(client: Client, workflowIds: string[]): Promise<HistoryCost | null> {
  if (workflowIds.length === 0) return null;
  const costs: HistoryCost[] = [];
  for (let first = 0; first < workflowIds.length; first += 10) {
    const batch = workflowIds.slice(first, first + 10);
    costs.push(...(await Promise.all(batch.map(async (id) => historyCost(await fetchEvents(client, id))))));
  }
  return averageCosts(costs);
}

export function averageCosts(costs: HistoryCost[]): HistoryCost {
  const mean: HistoryCost = { events: 0, actions: 0, eventsByType: {}, actionsByType: {} };
  const add = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [key, value] of Object.entries(from)) into[key] = (into[key] ?? 0) + value / costs.length;
  };
  for (const cost of costs) {
    mean.events += cost.events / costs.length;
    mean.actions += cost.actions / costs.length;
    add(mean.eventsByType, cost.eventsByType);
    add(mean.actionsByType, cost.actionsByType);
  }
  const tidy = (value: number) => Math.round(value * 1000) / 1000;
  const tidyAll = (tally: Record<string, number>) =>
    Object.fromEntries(Object.entries(tally).map(([key, value]) => [key, tidy(value)]));
  return {
    events: tidy(mean.events),
    actions: tidy(mean.actions),
    eventsByType: tidyAll(mean.eventsByType),
    actionsByType: tidyAll(mean.actionsByType),
  };
}

const DEVICE_OPERATION_PREFIX = deviceOperationWorkflowId('');

/** When each device upgrade of some tasks started and closed. */
export interface DeviceTimeline {
  startedAtMs: number[];
  closedAtMs: number[];
}

/**
 * From Temporal's visibility (`OtaTaskId`), not the task's history: `rolloutTask` does not wait on its
 * children, so its history has no child completions, and it may have continued-as-new. A task reports
 * its end as soon as the last result is signalled, a moment before that device workflow closes, so
 * this waits (up to `waitMs`) until `expected` device workflows show closed.
 */
export async function deviceTimelines(
  client: Client,
  taskIds: string[],
  expected: number,
  waitMs = 30_000,
): Promise<DeviceTimeline> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const all: DeviceTimeline = { startedAtMs: [], closedAtMs: [] };
    for (const taskId of taskIds) {
      for await (const execution of client.workflow.list({ query: `OtaTaskId = "${taskId}"` })) {
        if (!execution.workflowId.startsWith(DEVICE_OPERATION_PREFIX)) continue; // the task itself
        all.startedAtMs.push(execution.startTime.getTime());
        if (execution.closeTime) all.closedAtMs.push(execution.closeTime.getTime());
      }
    }
    if (all.closedAtMs.length >= expected || Date.now() > deadline) return all;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
