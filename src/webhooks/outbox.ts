import type { Database } from '../db/database';
import type { WebhookEventType } from '../db/webhooks';

type Queryable = Pick<Database, 'query'>;

export interface WebhookEvent {
  type: WebhookEventType;
  /**
   * Unique per event and stable across retries of whatever records it (e.g. `device.result:<task>:<device>`):
   * it is the delivery's idempotency key, so a repeated enqueue adds nothing and receivers can dedupe.
   */
  id: string;
  taskId: string;
  payload: object;
}

/**
 * Queues the event for every webhook subscribed to its type (and to its task, for task-scoped ones).
 * Call it in the transaction that records what the event reports: the event is queued if and only if
 * the record lands, and the dispatcher delivers it at least once.
 */
export async function enqueueWebhookEvent(db: Queryable, event: WebhookEvent): Promise<void> {
  await db.query(
    `insert into webhook_deliveries (webhook_id, event_id, event_type, payload)
     select id, $1, $2, $3::jsonb from webhooks
      where $2 = any(events) and (task_id is null or task_id = $4)
     on conflict (webhook_id, event_id) do nothing`,
    [event.id, event.type, JSON.stringify(event.payload), event.taskId],
  );
}
