import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { claimDueDeliveries, insertWebhook } from '../../../src/db/webhooks';
import { createMetrics, type OtaflowMetrics } from '../../../src/metrics/metrics';
import { freePort } from '../../../src/stack/free-port';
import {
  type DispatcherSettings,
  retryDelayMs,
  startWebhookDispatcher,
} from '../../../src/webhooks/dispatcher';
import { enqueueWebhookEvent } from '../../../src/webhooks/outbox';
import { generateWebhookSecret } from '../../../src/webhooks/signature';
import { silentLogger } from '../api/fakes';
import { testSecrets } from '../api/test-api';
import { emptyTables, openTempDatabase } from '../db/temp-database';

/** Short, real waits: the same code paths as production's seconds and hours. */
const backoff = { initialMs: 100, multiplier: 2, maxMs: 1_000 };
const fast: Partial<DispatcherSettings> = {
  pollIntervalMs: 20,
  leaseMs: 5_000,
  requestTimeoutMs: 2_000,
  backoff,
};

interface Received {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver on a fixed port; `answer` decides each response's status. */
function receiver(port: number, answer: (received: Received[]) => number = () => 204) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ at: performance.now(), headers: req.headers, body });
      res.statusCode = answer(received);
      res.end();
    });
  });
  return {
    received,
    eventIds: () => received.map((r) => JSON.parse(r.body).id as string),
    async start() {
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let temp: Awaited<ReturnType<typeof openTempDatabase>>;
let port: number;
let secret: string;
const running: Array<{ stop(): Promise<void> }> = [];

beforeAll(async () => {
  temp = await openTempDatabase();
}, 60_000);
afterAll(() => temp.dispose());
beforeEach(async () => {
  await emptyTables(temp.db);
  port = await freePort();
  secret = generateWebhookSecret();
  await insertWebhook(temp.db, {
    id: 'whk_1',
    url: `http://127.0.0.1:${port}/hooks/ota`,
    events: ['device.result', 'task.completed'],
    secretCiphertext: testSecrets.encrypt(secret),
  });
});
afterEach(async () => {
  for (const part of running.splice(0).reverse()) await part.stop();
});

function start<T extends { stop(): Promise<void> }>(part: T): T {
  running.push(part);
  return part;
}

/** The receivers of these tests listen on loopback: allowed as an internal receiver network would be. */
function dispatcher(
  settings: Partial<DispatcherSettings> = fast,
  allowedNetworks = ['127.0.0.0/8'],
  metrics = createMetrics(),
) {
  return start(
    startWebhookDispatcher({
      db: temp.db,
      secrets: testSecrets,
      logger: silentLogger,
      settings,
      allowedNetworks,
      metrics,
    }),
  );
}

/** The delivery attempts counted so far, by result. */
async function countedAttempts(metrics: OtaflowMetrics): Promise<Record<string, number>> {
  const { values } = await metrics.webhookDeliveries.get();
  return Object.fromEntries(values.map(({ labels, value }) => [String(labels.result), value]));
}

async function setWebhookUrl(url: string) {
  await temp.db.query('update webhooks set url = $1 where id = $2', [url, 'whk_1']);
}

async function enqueue(deviceIds: string[]) {
  for (const deviceId of deviceIds) {
    await enqueueWebhookEvent(temp.db, {
      type: 'device.result',
      id: `device.result:task_1:${deviceId}`,
      taskId: 'task_1',
      payload: { taskId: 'task_1', deviceId, outcome: 'succeeded' },
    });
  }
}

async function deliveries() {
  const { rows } = await temp.db.query<{
    event_id: string;
    attempts: number;
    delivered_at: Date | null;
    failed_at: Date | null;
    last_status: number | null;
    last_error: string | null;
  }>(
    'select event_id, attempts, delivered_at, failed_at, last_status, last_error from webhook_deliveries order by id',
  );
  return rows;
}

describe('webhook receivers beyond the public internet (SSRF)', () => {
  it('refuses loopback, link-local, private and unspecified receivers, by name or by address', async () => {
    const hook = start(receiver(port));
    await hook.start();
    const closedPort = await freePort();
    const targets = [
      `http://127.0.0.1:${port}/hooks/ota`,
      `http://localhost:${port}/hooks/ota`,
      `http://[::1]:${port}/hooks/ota`,
      `http://127.0.0.1:${closedPort}/`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.1.2.3/hook',
      'http://192.168.1.1/hook',
      'http://0.0.0.0/hook',
      'https://[fd00::1]/hook',
    ];
    const errors: string[] = [];
    for (const url of targets) {
      await emptyTables(temp.db);
      await insertWebhook(temp.db, {
        id: 'whk_1',
        url,
        events: ['device.result'],
        secretCiphertext: testSecrets.encrypt(secret),
      });
      await enqueue(['meter-1']);
      const running = dispatcher(fast, []);
      await vi.waitFor(async () => expect((await deliveries())[0]?.attempts).toBeGreaterThanOrEqual(1), {
        timeout: 5_000,
      });
      await running.stop();
      const [delivery] = await deliveries();
      expect(delivery?.delivered_at, url).toBeNull();
      errors.push(delivery?.last_error ?? '');
    }
    expect(hook.received).toEqual([]);
    // One answer for all of them: nothing tells an open port from a closed one, or names an address.
    expect(new Set(errors)).toEqual(
      new Set([
        "refused: the receiver's address is not public (loopback, private, link-local or reserved); " +
          'allow its network with OTAFLOW_WEBHOOK_ALLOWED_NETWORKS',
      ]),
    );
  }, 60_000);

  it('delivers to an internal receiver whose network is allowed, and to no other', async () => {
    const hook = start(receiver(port));
    await hook.start();
    await setWebhookUrl(`http://localhost:${port}/hooks/ota`);
    await enqueue(['meter-1']);
    dispatcher(fast, ['127.0.0.1/32', '::1']);
    await vi.waitFor(() => expect(hook.received).toHaveLength(1), { timeout: 5_000 });

    await setWebhookUrl(`http://127.0.0.2:${port}/hooks/ota`);
    await enqueue(['meter-2']);
    await vi.waitFor(async () => expect((await deliveries())[1]?.last_error).toMatch(/^refused: /), {
      timeout: 5_000,
    });
    expect(hook.received).toHaveLength(1);
  });
});

describe('webhook dispatcher', () => {
  it('signs each delivery as Standard Webhooks specifies, with the event ID as idempotency key', async () => {
    const hook = start(receiver(port));
    await hook.start();
    await enqueue(['meter-1']);
    dispatcher();
    await vi.waitFor(() => expect(hook.received).toHaveLength(1), { timeout: 5_000 });

    const [{ headers, body }] = hook.received as [Received];
    const id = 'device.result:task_1:meter-1';
    expect(headers).toMatchObject({
      'content-type': 'application/json',
      'webhook-id': id,
      'idempotency-key': id,
    });
    const timestamp = Number(headers['webhook-timestamp']);
    expect(Math.abs(timestamp - Date.now() / 1000)).toBeLessThan(10);
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
    expect(headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(JSON.parse(body)).toEqual({
      id,
      type: 'device.result',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      data: { taskId: 'task_1', deviceId: 'meter-1', outcome: 'succeeded' },
    });
    await vi.waitFor(async () => expect((await deliveries())[0]?.delivered_at).not.toBeNull());
    expect((await deliveries())[0]).toMatchObject({ attempts: 1, last_status: 204 });
  });

  it('delivers exactly the queued events once a receiver that was down comes back', async () => {
    await enqueue(['a', 'b', 'c']);
    dispatcher();
    // Down: every delivery fails (connection refused) and is retried.
    await vi.waitFor(
      async () => {
        const rows = await deliveries();
        expect(rows.every((row) => row.attempts >= 2)).toBe(true);
      },
      { timeout: 10_000 },
    );
    expect((await deliveries())[0]?.last_error).toMatch(/ECONNREFUSED/);
    const hook = start(receiver(port));
    await hook.start();
    await vi.waitFor(async () => expect((await deliveries()).every((row) => row.delivered_at)).toBe(true), {
      timeout: 10_000,
    });
    expect(hook.eventIds().sort()).toEqual([
      'device.result:task_1:a',
      'device.result:task_1:b',
      'device.result:task_1:c',
    ]);
  });

  it('retries a 4xx or 5xx answer, waiting longer each time', async () => {
    const hook = start(receiver(port, (received) => (received.length < 4 ? 500 : 400)));
    await hook.start();
    await enqueue(['meter-1']);
    dispatcher();
    await vi.waitFor(() => expect(hook.received.length).toBeGreaterThanOrEqual(5), { timeout: 10_000 });
    const gaps = hook.received.slice(1, 5).map((r, i) => r.at - (hook.received[i] as Received).at);
    // Backoff after attempts 1..4: 100, 200, 400, 800 ms (every gap at least its backoff, each longer).
    for (const [i, gap] of gaps.entries())
      expect(gap).toBeGreaterThanOrEqual(retryDelayMs(i + 1, backoff) - 5);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThan(gaps[i - 1] as number);
    const [row] = await deliveries();
    expect(row).toMatchObject({ delivered_at: null, last_status: 400, last_error: 'HTTP 400' });
  });

  it('delivers on the first 2xx after failures', async () => {
    const hook = start(receiver(port, (received) => (received.length === 1 ? 429 : 200)));
    await hook.start();
    await enqueue(['meter-1']);
    const metrics = createMetrics();
    dispatcher(fast, undefined, metrics);
    await vi.waitFor(async () => expect((await deliveries())[0]?.delivered_at).not.toBeNull(), {
      timeout: 5_000,
    });
    expect((await deliveries())[0]).toMatchObject({ attempts: 2, last_status: 200, last_error: null });
    expect(hook.received).toHaveLength(2);
    expect(await countedAttempts(metrics)).toEqual({ retrying: 1, delivered: 1 });
    const lag = (await metrics.webhookDeliveryLagSeconds.get()).values.find(
      ({ metricName }) => metricName === 'otaflow_webhook_delivery_lag_seconds_count',
    );
    expect(lag?.value).toBe(1);
  });

  it('gives a delivery up once it is older than the maximum age', async () => {
    const hook = start(receiver(port, () => 503));
    await hook.start();
    await enqueue(['meter-1']);
    const metrics = createMetrics();
    dispatcher({ ...fast, maxAgeMs: 500 }, undefined, metrics);
    await vi.waitFor(async () => expect((await deliveries())[0]?.failed_at).not.toBeNull(), {
      timeout: 5_000,
    });
    expect((await countedAttempts(metrics))['given-up']).toBe(1);
    const attempts = hook.received.length;
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect((await deliveries())[0]).toMatchObject({ attempts, last_status: 503, delivered_at: null });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hook.received).toHaveLength(attempts);
  });

  it('re-delivers a delivery whose process died between claiming it and sending it', async () => {
    const hook = start(receiver(port));
    await hook.start();
    await enqueue(['meter-1']);
    // The process that claimed it is gone: nothing will record an outcome for this attempt.
    expect(await claimDueDeliveries(temp.db, 10, 300)).toHaveLength(1);
    dispatcher();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(hook.received).toHaveLength(0);
    await vi.waitFor(async () => expect((await deliveries())[0]?.delivered_at).not.toBeNull(), {
      timeout: 5_000,
    });
    expect((await deliveries())[0]?.attempts).toBe(2);
    expect(hook.eventIds()).toEqual(['device.result:task_1:meter-1']);
  });

  it('shares the outbox between dispatchers without sending an event twice', async () => {
    const hook = start(receiver(port));
    await hook.start();
    const ids = Array.from({ length: 40 }, (_, i) => `d${i}`);
    await enqueue(ids);
    dispatcher({ ...fast, batchSize: 5 });
    dispatcher({ ...fast, batchSize: 5 });
    await vi.waitFor(async () => expect((await deliveries()).every((row) => row.delivered_at)).toBe(true), {
      timeout: 10_000,
    });
    expect(hook.eventIds().sort()).toEqual(ids.map((id) => `device.result:task_1:${id}`).sort());
  });

  it("queues a task-scoped webhook only its task's events", async () => {
    await temp.db.query(
      `insert into packages (id, name, version, kind, product, model, file_name, size, sha256, object_key)
       values ('pkg_1', 'fw', '2', 'firmware', 'p', 'm', 'f', 1, 'x', 'k')`,
    );
    for (const id of ['task_1', 'task_2']) {
      await temp.db.query(
        `insert into tasks (id, package_id, state, device_count) values ($1, 'pkg_1', 'running', 1)`,
        [id],
      );
    }
    await insertWebhook(temp.db, {
      id: 'whk_2',
      url: `http://127.0.0.1:${port}/hooks/task-2`,
      events: ['task.completed'],
      taskId: 'task_2',
      secretCiphertext: testSecrets.encrypt(secret),
    });
    for (const taskId of ['task_1', 'task_2']) {
      await enqueueWebhookEvent(temp.db, {
        type: 'task.completed',
        id: `task.completed:${taskId}`,
        taskId,
        payload: { taskId },
      });
    }
    const { rows } = await temp.db.query<{ webhook_id: string; event_id: string }>(
      'select webhook_id, event_id from webhook_deliveries order by webhook_id, event_id',
    );
    expect(rows).toEqual([
      { webhook_id: 'whk_1', event_id: 'task.completed:task_1' },
      { webhook_id: 'whk_1', event_id: 'task.completed:task_2' },
      { webhook_id: 'whk_2', event_id: 'task.completed:task_2' },
    ]);
  });
});

describe('retry backoff', () => {
  it('grows exponentially and is capped', () => {
    const backoff = { initialMs: 5_000, multiplier: 2, maxMs: 3_600_000 };
    expect([1, 2, 3, 4].map((attempts) => retryDelayMs(attempts, backoff))).toEqual([
      5_000, 10_000, 20_000, 40_000,
    ]);
    expect(retryDelayMs(20, backoff)).toBe(3_600_000);
  });
});
