import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { tasksRouter } from '../../../src/api/routes/tasks';
import type { Database } from '../../../src/db/database';
import { finishTask, recordStep } from '../../../src/db/tasks';
import { defaultCoverageRanges } from '../../../workflows/lwm2m/radio-coverage';
import { defaultRadioResources } from '../../../workflows/lwm2m/upgrade-input';
import { silentLogger } from './fakes';
import { insertFirmwareAndMeters, startTestApi } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
let server: http.Server;
beforeAll(async () => {
  api = await startTestApi();
  server = api.app.listen(0, '127.0.0.1');
}, 60_000);
afterAll(async () => {
  server.close();
  await api.dispose();
});

beforeEach(async () => {
  await api.reset();
  await insertFirmwareAndMeters(api.db, ['m1', 'm2']);
});

interface SseEvent {
  event?: string;
  data?: unknown;
  comment?: string;
}

/** An event-stream client that keeps every event it has received. */
function openStream(target: http.Server, path: string, headers: Record<string, string>) {
  const events: SseEvent[] = [];
  let contentType: string | undefined;
  let buffer = '';
  const { port } = target.address() as AddressInfo;
  const req = http.get({ host: '127.0.0.1', port, path, headers });
  const ended = new Promise<void>((resolve, reject) => {
    req.on('response', (res) => {
      contentType = res.headers['content-type'];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const event: SseEvent = {};
          for (const line of buffer.slice(0, end).split('\n')) {
            if (line.startsWith(':')) event.comment = line.slice(1).trim();
            else if (line.startsWith('event: ')) event.event = line.slice('event: '.length);
            else if (line.startsWith('data: ')) event.data = JSON.parse(line.slice('data: '.length));
          }
          events.push(event);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      });
      res.on('end', resolve);
    });
    req.on('error', reject);
  });
  ended.catch(() => {});
  return {
    events,
    ended,
    contentType: () => contentType,
    close: () => req.destroy(),
    async waitFor(predicate: (event: SseEvent) => boolean) {
      await vi.waitFor(() => expect(events.some(predicate)).toBe(true), { timeout: 10_000, interval: 50 });
    },
  };
}

const steps = (event: SseEvent) =>
  (event.data as { counts?: { byStep?: object } } | undefined)?.counts?.byStep;

describe('GET /v1/tasks/:id/events', () => {
  it('sends the counts, again when they change, and an end event when the task finishes', async () => {
    const created = await request(api.app)
      .post('/v1/tasks')
      .set(api.auth)
      .send({ packageId: 'pkg_1', target: { deviceIds: ['m1', 'm2'] } })
      .expect(201);
    const taskId: string = created.body.id;

    const stream = openStream(server, `/v1/tasks/${taskId}/events`, api.auth);
    await stream.waitFor((event) => event.event === 'progress');
    expect(stream.contentType()).toMatch(/^text\/event-stream/);
    expect(stream.events[0]).toEqual({
      event: 'progress',
      data: {
        state: 'running',
        stateReason: null,
        deviceCount: 2,
        counts: { byStep: { pending: 2 }, byOutcome: {}, byFailureCause: {} },
      },
    });

    await recordStep(api.db, taskId, 'm1', 'downloading', '1.0.0', new Date());
    await stream.waitFor((event) => JSON.stringify(steps(event)) === '{"downloading":1,"pending":1}');

    await finishTask(api.db, taskId, new Date());
    await stream.ended;
    const last = stream.events[stream.events.length - 1];
    expect(last).toMatchObject({ event: 'end', data: { state: 'completed' } });
    // One progress event per change: unchanged counts are not sent again.
    expect(stream.events.filter((event) => event.event === 'progress')).toHaveLength(2);
  }, 30_000);
});

describe('the event stream itself', () => {
  /** The tasks router alone, with short timings, over a database that counts its queries. */
  async function quickRouter() {
    let queries = 0;
    const db: Database = {
      ...api.db,
      query: (sql, params) => {
        queries++;
        return api.db.query(sql, params);
      },
    };
    const app = express().use(
      '/v1/tasks',
      tasksRouter({
        db,
        temporal: api.temporal.temporal,
        logger: silentLogger,
        nbiot: { coverageRanges: defaultCoverageRanges, radioResources: defaultRadioResources },
        events: { pollMs: 20, heartbeatMs: 100 },
      }),
    );
    const quick = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => quick.once('listening', resolve));
    return { server: quick, queries: () => queries };
  }

  it('sends heartbeats while nothing changes and stops reading once the client has gone', async () => {
    await api.db.query(
      `insert into tasks (id, package_id, state, target, mode, rollout, device_count)
       values ('task_1', 'pkg_1', 'running', '{"groupId":"g"}', 'continuous', '{"maxInProgress":1}', 0)`,
    );
    const quick = await quickRouter();
    try {
      const stream = openStream(quick.server, '/v1/tasks/task_1/events', {});
      await stream.waitFor((event) => event.comment === 'heartbeat');
      expect(stream.events.filter((event) => event.event === 'progress')).toHaveLength(1);

      stream.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const afterClose = quick.queries();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(quick.queries()).toBe(afterClose);
    } finally {
      quick.server.close();
    }
  });
});
