/**
 * What one LwM2M upgrade costs in Temporal actions, counted from the real histories with the
 * benchmark's rules (src/temporal/history-cost.ts): the device workflow's own history plus its cell permit's
 * share of the cell limiter's.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { expect } from 'vitest';
import { eventTypeName, type HistoryCost, historyCost } from '../../src/temporal/history-cost';
import { cellLimiterWorkflowId } from '../../workflows/lwm2m/definitions';

export interface UpgradeCost {
  device: HistoryCost;
  /** The limiter's events of this grant: request, grant, release, and the timers restarted meanwhile. */
  permit: HistoryCost;
  actions: number;
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/**
 * A grant's share of its limiter: this requester's `requestPermit` and `releasePermit` signals, the
 * `permitGranted` signal sent to it, and the timers the limiter started from the request's arrival
 * to its handling of the release. The limiter's start, patch marker, holder checks and idle exit
 * belong to all the grants of its run (docs/workflows.md has what they add in a cell of one device).
 */
export async function lwm2mUpgradeCost(
  client: Client,
  handle: WorkflowHandle,
  cellId: string,
): Promise<UpgradeCost> {
  const device = historyCost((await handle.fetchHistory()).events ?? []);
  const requester = handle.workflowId;
  const limiter = client.workflow.getHandle(cellLimiterWorkflowId(cellId));
  let events: HistoryEvent[] = [];
  const signalFrom = (name: string) => (event: HistoryEvent) => {
    const signal = event.workflowExecutionSignaledEventAttributes;
    return signal?.signalName === name && payloadNames(event).includes(requester);
  };
  await expect
    .poll(async () => {
      events = (await limiter.fetchHistory()).events ?? [];
      const release = events.findIndex(signalFrom('releasePermit'));
      return (
        release >= 0 &&
        events.slice(release).some((event) => eventTypeName(event) === 'WorkflowTaskCompleted')
      );
    })
    .toBe(true);
  // The timers restarted from the request's arrival to the commands of the task that handled the release.
  const requested = events.findIndex(signalFrom('requestPermit'));
  const releaseHandled = events.findIndex(
    (event, index) =>
      index > events.findIndex(signalFrom('releasePermit')) &&
      eventTypeName(event) === 'WorkflowTaskCompleted',
  );
  const nextTask = events.findIndex(
    (event, index) => index > releaseHandled && eventTypeName(event) === 'WorkflowTaskScheduled',
  );
  const restarted = (index: number) => index >= requested && (nextTask < 0 || index < nextTask);
  const share = events.filter(
    (event, index) =>
      signalFrom('requestPermit')(event) ||
      signalFrom('releasePermit')(event) ||
      event.signalExternalWorkflowExecutionInitiatedEventAttributes?.workflowExecution?.workflowId ===
        requester ||
      (eventTypeName(event) === 'TimerStarted' && restarted(index)),
  );
  const permit = historyCost(share);
  return { device, permit, actions: device.actions + permit.actions };
}

/** The requester workflow IDs a limiter signal's payload names. */
function payloadNames(event: HistoryEvent): string[] {
  return (event.workflowExecutionSignaledEventAttributes?.input?.payloads ?? []).map((payload) => {
    const { requesterWorkflowId } = JSON.parse(Buffer.from(payload.data ?? []).toString()) as {
      requesterWorkflowId?: string;
    };
    return requesterWorkflowId ?? '';
  });
}

/** For an assertion's message: where the actions went. */
export function describeCost(cost: UpgradeCost): string {
  return JSON.stringify({
    device: cost.device.actionsByType,
    permit: cost.permit.actionsByType,
  });
}
