import type { Database } from '../db/database';
import {
  type ClaimedDelivery,
  claimDueDeliveries,
  markDelivered,
  markFailed,
  scheduleRetry,
} from '../db/webhooks';
import type { SecretBox } from '../devices/secrets';
import type { Logger } from '../logger';
import type { OtaflowMetrics } from '../metrics/metrics';
import { createReceiverTransport } from './receiver-transport';
import { signWebhook } from './signature';

export interface DispatcherSettings {
  /** Deliveries claimed per round; a full batch is followed by another round at once. */
  batchSize: number;
  /** How often the outbox is checked for due deliveries. */
  pollIntervalMs: number;
  /** A claimed delivery is hidden this long: a process that dies mid-attempt leaves it to another. */
  leaseMs: number;
  /** A receiver slower than this fails the attempt; must stay well below `leaseMs`. */
  requestTimeoutMs: number;
  /** Wait after a failed attempt n: `initialMs * multiplier^(n-1)`, at most `maxMs`. */
  backoff: { initialMs: number; multiplier: number; maxMs: number };
  /** A delivery not done this long after its event is given up on (marked failed). */
  maxAgeMs: number;
}

export const defaultDispatcherSettings: DispatcherSettings = {
  batchSize: 50,
  pollIntervalMs: 1_000,
  leaseMs: 60_000,
  requestTimeoutMs: 10_000,
  backoff: { initialMs: 5_000, multiplier: 2, maxMs: 60 * 60 * 1000 },
  maxAgeMs: 3 * 24 * 60 * 60 * 1000,
};

/** Wait before the attempt after attempt number `attempts` (1 = the first attempt failed). */
export function retryDelayMs(attempts: number, backoff: DispatcherSettings['backoff']): number {
  return Math.min(backoff.initialMs * backoff.multiplier ** Math.max(0, attempts - 1), backoff.maxMs);
}

export interface WebhookDispatcher {
  /** Stops claiming; attempts in flight are abandoned and retried after their lease (at least once). */
  stop(): Promise<void>;
}

/**
 * Delivers the webhook outbox (`webhook_deliveries`, filled by `enqueueWebhookEvent`): each due
 * delivery is claimed, POSTed as JSON `{id, type, createdAt, data}` with Standard Webhooks headers and
 * `Idempotency-Key: <event id>`, and marked delivered on a 2xx answer; any other answer or no answer
 * is retried with exponential backoff until `maxAgeMs`. Any number of processes may run one.
 */
export function startWebhookDispatcher(deps: {
  db: Database;
  secrets: SecretBox;
  logger: Logger;
  /** Loopback, private or link-local receivers allowed (addresses or CIDR ranges); none by default. */
  allowedNetworks?: readonly string[];
  /** Where each attempt's result and each delivery's lag are counted (src/metrics/metrics.ts). */
  metrics?: Pick<OtaflowMetrics, 'webhookDeliveries' | 'webhookDeliveryLagSeconds'>;
  settings?: Partial<DispatcherSettings>;
}): WebhookDispatcher {
  const settings = { ...defaultDispatcherSettings, ...deps.settings };
  const transport = createReceiverTransport({ allowedNetworks: deps.allowedNetworks ?? [] });
  const { db, logger } = deps;
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;

  async function deliver(delivery: ClaimedDelivery): Promise<void> {
    let status: number | null = null;
    let error: string;
    try {
      const body = JSON.stringify({
        id: delivery.eventId,
        type: delivery.eventType,
        createdAt: delivery.createdAt.toISOString(),
        data: delivery.payload,
      });
      const timestamp = Math.floor(Date.now() / 1000);
      const secret = deps.secrets.decrypt(delivery.secretCiphertext);
      status = await transport.post(
        delivery.url,
        body,
        {
          'content-type': 'application/json',
          'user-agent': 'otaflow-webhooks',
          'webhook-id': delivery.eventId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(secret, delivery.eventId, timestamp, body),
          'idempotency-key': delivery.eventId,
        },
        AbortSignal.any([stopping.signal, AbortSignal.timeout(settings.requestTimeoutMs)]),
      );
      if (status >= 200 && status < 300) {
        await markDelivered(db, delivery.id, status);
        deps.metrics?.webhookDeliveries.inc({ result: 'delivered' });
        deps.metrics?.webhookDeliveryLagSeconds.observe((Date.now() - delivery.createdAt.getTime()) / 1000);
        return;
      }
      error = `HTTP ${status}`;
    } catch (caught) {
      if (stopping.signal.aborted) return;
      error = describe(caught);
    }
    const retryInMs = retryDelayMs(delivery.attempts, settings.backoff);
    const log = logger.child({ deliveryId: delivery.id, eventId: delivery.eventId, url: delivery.url });
    if (Date.now() + retryInMs - delivery.createdAt.getTime() > settings.maxAgeMs) {
      log.warn({ attempts: delivery.attempts, error }, 'webhook delivery given up');
      await markFailed(db, delivery.id, { status, error });
      deps.metrics?.webhookDeliveries.inc({ result: 'given-up' });
    } else {
      log.debug({ attempts: delivery.attempts, error, retryInMs }, 'webhook delivery failed; will retry');
      await scheduleRetry(db, delivery.id, { status, error, retryInMs });
      deps.metrics?.webhookDeliveries.inc({ result: 'retrying' });
    }
  }

  async function drain(): Promise<void> {
    let claimed: ClaimedDelivery[];
    do {
      claimed = await claimDueDeliveries(db, settings.batchSize, settings.leaseMs);
      await Promise.all(claimed.map(deliver));
    } while (!stopping.signal.aborted && claimed.length === settings.batchSize);
  }

  function schedule(): void {
    if (stopping.signal.aborted) return;
    timer = setTimeout(() => {
      round = drain()
        .catch((error: unknown) => {
          if (!stopping.signal.aborted) logger.error({ err: error }, 'webhook dispatch round failed');
        })
        .finally(() => {
          round = undefined;
          schedule();
        });
    }, settings.pollIntervalMs);
  }

  schedule();
  return {
    async stop() {
      stopping.abort();
      clearTimeout(timer);
      await round;
      transport.close();
    },
  };
}

function describe(error: unknown): string {
  const { message, cause } = error as { message?: string; cause?: { code?: string; message?: string } };
  const reason = cause?.code ?? cause?.message;
  return (reason ? `${message}: ${reason}` : (message ?? String(error))).slice(0, 500);
}
