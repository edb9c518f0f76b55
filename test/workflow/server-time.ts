/**
 * Moving server time on purpose. The test server only skips time while it is unlocked, and while
 * unlocked it also skips past timers of activities that are still running, so the tests keep it
 * locked (they await results through `lockedClient`) and skip exactly the durations they mean to,
 * once the workflow is waiting on the timer they mean to fire.
 */
import { Client, isGrpcServiceError, type WorkflowHandle, WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';

const EventType = temporal.api.enums.v1.EventType;
const GRPC_NOT_FOUND = 5;

/** A client whose `result()` waits in real time instead of unlocking time skipping. */
export function lockedClient(env: TestWorkflowEnvironment): Client {
  return new Client({ connection: env.connection, namespace: env.namespace });
}

/**
 * Resolves once the workflow waits on a timer of exactly `durationMs` (started, not fired, not
 * cancelled); the workflow may not have started yet.
 */
export async function untilWaitingOnTimer(handle: WorkflowHandle, durationMs: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if ((await pendingTimerDurationsMs(handle)).includes(durationMs)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`workflow ${handle.workflowId} is not waiting on a ${durationMs} ms timer`);
}

async function pendingTimerDurationsMs(handle: WorkflowHandle): Promise<number[]> {
  const history = await handle.fetchHistory().catch((err) => {
    const notStartedYet =
      err instanceof WorkflowNotFoundError || (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND);
    if (notStartedYet) return { events: [] };
    throw err;
  });
  const pending = new Map<string, number>();
  for (const event of history.events ?? []) {
    if (event.eventType === EventType.EVENT_TYPE_TIMER_STARTED) {
      const { timerId, startToFireTimeout } = event.timerStartedEventAttributes ?? {};
      const ms = Number(startToFireTimeout?.seconds ?? 0) * 1000 + (startToFireTimeout?.nanos ?? 0) / 1e6;
      pending.set(timerId ?? '', ms);
    }
    if (event.eventType === EventType.EVENT_TYPE_TIMER_FIRED)
      pending.delete(event.timerFiredEventAttributes?.timerId ?? '');
    if (event.eventType === EventType.EVENT_TYPE_TIMER_CANCELED) {
      pending.delete(event.timerCanceledEventAttributes?.timerId ?? '');
    }
  }
  return [...pending.values()];
}
