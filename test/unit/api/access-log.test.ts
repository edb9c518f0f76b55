import { Writable } from 'node:stream';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../../src/api/create-api';
import { openTempDatabase } from '../db/temp-database';
import { testApiDeps, testApiKey } from './test-api';

let temp: Awaited<ReturnType<typeof openTempDatabase>>;
let app: ReturnType<typeof createApi>;
const lines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  temp = await openTempDatabase();
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  app = createApi({ ...testApiDeps(temp.db), logger: pino({ level: 'info' }, sink) });
}, 60_000);

afterAll(async () => {
  await temp.dispose();
});

describe('the access log', () => {
  it('writes one line per request: method, path, route, status, time and API key ID, never the key', async () => {
    await request(app).get('/healthz').expect(200);
    await request(app).get('/readyz').expect(200);
    await request(app)
      .get('/v1/devices/meter-9?x=1')
      .set('authorization', `Bearer ${testApiKey}`)
      .expect(404);
    await request(app).get('/v1/devices').set('authorization', 'Bearer ofk_not-a-key-at-all').expect(401);

    const logged = lines.filter((line) => line.component === 'http');
    expect(logged).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'GET /v1/devices/:id 404',
        req: { id: expect.anything(), method: 'GET', path: '/v1/devices/meter-9' },
        res: { statusCode: 404 },
        route: '/v1/devices/:id',
        apiKeyId: 'bootstrap',
        responseTime: expect.any(Number),
      }),
      expect.objectContaining({ msg: 'GET /v1/* 401', route: '/v1/*', res: { statusCode: 401 } }),
    ]);
    expect(logged[1]).not.toHaveProperty('apiKeyId');
    const text = JSON.stringify(lines);
    expect(text).not.toContain(testApiKey);
    expect(text).not.toContain('ofk_not-a-key-at-all');
    expect(text).not.toMatch(/authorization/i);
  });
});
