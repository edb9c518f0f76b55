import type { Database } from './database';
import { type Page, type PageRequest, toPage } from './paging';

/** The events an application can subscribe to. */
export type WebhookEventType = 'device.result' | 'task.completed';

type Queryable = Pick<Database, 'query'>;

export interface Webhook {
  id: string;
  url: string;
  events: WebhookEventType[];
  taskId: string | null;
  createdAt: Date;
}

interface WebhookRow {
  id: string;
  url: string;
  events: WebhookEventType[];
  task_id: string | null;
  created_at: Date;
}

const webhookColumns = 'id, url, events, task_id, created_at';

function toWebhook(row: WebhookRow): Webhook {
  return { id: row.id, url: row.url, events: row.events, taskId: row.task_id, createdAt: row.created_at };
}

export async function insertWebhook(
  db: Queryable,
  webhook: { id: string; url: string; events: WebhookEventType[]; taskId?: string; secretCiphertext: string },
): Promise<Webhook> {
  const { rows } = await db.query<WebhookRow>(
    `insert into webhooks (id, url, events, task_id, secret_ciphertext) values ($1, $2, $3, $4, $5)
     returning ${webhookColumns}`,
    [webhook.id, webhook.url, webhook.events, webhook.taskId ?? null, webhook.secretCiphertext],
  );
  return toWebhook(rows[0] as WebhookRow);
}

export async function findWebhook(db: Queryable, id: string): Promise<Webhook | undefined> {
  const { rows } = await db.query<WebhookRow>(`select ${webhookColumns} from webhooks where id = $1`, [id]);
  return rows[0] && toWebhook(rows[0]);
}

export async function listWebhooks(db: Queryable, page: PageRequest): Promise<Page<Webhook>> {
  const { rows } = await db.query<WebhookRow>(
    `select ${webhookColumns} from webhooks where $1::text is null or id > $1 order by id limit $2`,
    [page.cursor ?? null, page.limit + 1],
  );
  return toPage(rows.map(toWebhook), page.limit, (webhook) => webhook.id);
}

/** False when no such webhook exists. Its queued deliveries go with it. */
export async function deleteWebhook(db: Queryable, id: string): Promise<boolean> {
  const { rows } = await db.query('delete from webhooks where id = $1 returning id', [id]);
  return rows.length > 0;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDelivery {
  id: string;
  eventId: string;
  eventType: WebhookEventType;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
  failedAt: Date | null;
}

interface DeliveryRow {
  id: string;
  event_id: string;
  event_type: WebhookEventType;
  attempts: number;
  next_attempt_at: Date;
  last_status: number | null;
  last_error: string | null;
  created_at: Date;
  delivered_at: Date | null;
  failed_at: Date | null;
}

function toDelivery(row: DeliveryRow): WebhookDelivery {
  const status = row.delivered_at ? 'delivered' : row.failed_at ? 'failed' : 'pending';
  return {
    id: String(row.id),
    eventId: row.event_id,
    eventType: row.event_type,
    status,
    attempts: row.attempts,
    nextAttemptAt: status === 'pending' ? row.next_attempt_at : null,
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
    failedAt: row.failed_at,
  };
}

const deliveryColumns = `id, event_id, event_type, attempts, next_attempt_at, last_status, last_error, created_at,
  delivered_at, failed_at`;

/** Oldest first, or newest first; the cursor is the last delivery's (numeric) ID. */
export async function listDeliveries(
  db: Queryable,
  webhookId: string,
  page: PageRequest & { order?: 'oldest' | 'newest' },
): Promise<Page<WebhookDelivery>> {
  const [after, direction] = page.order === 'newest' ? ['<', 'desc'] : ['>', 'asc'];
  const { rows } = await db.query<DeliveryRow>(
    `select ${deliveryColumns}
       from webhook_deliveries where webhook_id = $1 and ($2::bigint is null or id ${after} $2::bigint)
      order by id ${direction} limit $3`,
    [webhookId, page.cursor ?? null, page.limit + 1],
  );
  return toPage(rows.map(toDelivery), page.limit, (delivery) => delivery.id);
}

/** A delivery claimed for one attempt, with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  eventId: string;
  eventType: WebhookEventType;
  payload: unknown;
  attempts: number;
  createdAt: Date;
  url: string;
  secretCiphertext: string;
}

/**
 * Claims up to `limit` due deliveries for one attempt each: counts the attempt and hides them for
 * `leaseMs`. The outcome is recorded by `markDelivered` or `scheduleRetry`/`markFailed`; if the
 * process dies first, the lease runs out and another attempt is made (at least once). `skip locked`
 * lets dispatchers in several processes claim side by side without waiting on each other.
 */
export async function claimDueDeliveries(
  db: Queryable,
  limit: number,
  leaseMs: number,
): Promise<ClaimedDelivery[]> {
  const { rows } = await db.query<{
    id: string;
    event_id: string;
    event_type: WebhookEventType;
    payload: unknown;
    attempts: number;
    created_at: Date;
    url: string;
    secret_ciphertext: string;
  }>(
    `with due as (
       select id from webhook_deliveries
        where delivered_at is null and failed_at is null and next_attempt_at <= now()
        order by next_attempt_at limit $1 for update skip locked
     ), claimed as (
       update webhook_deliveries d
          set attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
         from due where d.id = due.id
       returning d.id, d.webhook_id, d.event_id, d.event_type, d.payload, d.attempts, d.created_at
     )
     select c.id, c.event_id, c.event_type, c.payload, c.attempts, c.created_at, w.url, w.secret_ciphertext
       from claimed c join webhooks w on w.id = c.webhook_id`,
    [limit, leaseMs],
  );
  return rows.map((row) => ({
    id: String(row.id),
    eventId: row.event_id,
    eventType: row.event_type,
    payload: row.payload,
    attempts: row.attempts,
    createdAt: row.created_at,
    url: row.url,
    secretCiphertext: row.secret_ciphertext,
  }));
}

export async function markDelivered(db: Queryable, id: string, status: number): Promise<void> {
  await db.query(
    'update webhook_deliveries set delivered_at = now(), last_status = $2, last_error = null where id = $1',
    [id, status],
  );
}

export async function scheduleRetry(
  db: Queryable,
  id: string,
  outcome: { status: number | null; error: string; retryInMs: number },
): Promise<void> {
  await db.query(
    `update webhook_deliveries
        set next_attempt_at = now() + make_interval(secs => $4::double precision / 1000),
            last_status = $2, last_error = $3
      where id = $1 and delivered_at is null`,
    [id, outcome.status, outcome.error, outcome.retryInMs],
  );
}

export async function markFailed(
  db: Queryable,
  id: string,
  outcome: { status: number | null; error: string },
): Promise<void> {
  await db.query(
    `update webhook_deliveries set failed_at = now(), last_status = $2, last_error = $3
      where id = $1 and delivered_at is null`,
    [id, outcome.status, outcome.error],
  );
}

/**
 * A failed delivery sent again from the start (its attempts counted afresh, due now), with the same
 * event ID, so a receiver that did get it after all recognises it. Answers the delivery as it now
 * stands, its status before (a pending or delivered one is left as it is), or undefined when the
 * webhook has no such delivery.
 */
export async function redeliver(
  db: Database,
  webhookId: string,
  deliveryId: string,
): Promise<{ before: DeliveryStatus; delivery: WebhookDelivery } | undefined> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<DeliveryRow>(
      `select ${deliveryColumns} from webhook_deliveries where webhook_id = $1 and id = $2::bigint for update`,
      [webhookId, deliveryId],
    );
    const found = rows[0];
    if (!found) return undefined;
    const before = toDelivery(found).status;
    if (before !== 'failed') return { before, delivery: toDelivery(found) };
    const updated = await tx.query<DeliveryRow>(
      `update webhook_deliveries set failed_at = null, attempts = 0, next_attempt_at = now()
        where id = $1::bigint returning ${deliveryColumns}`,
      [deliveryId],
    );
    return { before, delivery: toDelivery(updated.rows[0] as DeliveryRow) };
  });
}
