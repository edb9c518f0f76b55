import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../../src/api/create-api';
import { createMetrics, type OtaflowMetrics } from '../../../src/metrics/metrics';
import { startMetricsServer } from '../../../src/metrics/metrics-server';
import { testApiDeps, testApiKey } from '../api/test-api';
import { openTempDatabase } from '../db/temp-database';

let temp: Awaited<ReturnType<typeof openTempDatabase>>;
let metrics: OtaflowMetrics;
let app: ReturnType<typeof createApi>;
const auth = { authorization: `Bearer ${testApiKey}` };

beforeAll(async () => {
  temp = await openTempDatabase();
  metrics = createMetrics();
  app = createApi({ ...testApiDeps(temp.db), metrics });
}, 60_000);

afterAll(async () => {
  await temp.dispose();
});

describe('HTTP metrics', () => {
  it('count and time requests by route template and status, never by the path they name', async () => {
    await request(app).get('/v1/devices/meter-1').set(auth).expect(404);
    await request(app).get('/v1/devices/meter-2').set(auth).expect(404);
    await request(app).get('/v1/devices').set(auth).expect(200);
    await request(app).get('/v1/devices').expect(401);
    await request(app).get('/no/such/path/meter-3').set(auth).expect(404);

    const counted = (await metrics.httpRequests.get()).values.map(({ labels, value }) => ({
      ...labels,
      value,
    }));
    expect(counted).toEqual(
      expect.arrayContaining([
        { method: 'GET', route: '/v1/devices/:id', status: '404', value: 2 },
        { method: 'GET', route: '/v1/devices', status: '200', value: 1 },
        { method: 'GET', route: '/v1/*', status: '401', value: 1 },
        { method: 'GET', route: 'unmatched', status: '404', value: 1 },
      ]),
    );
    expect(JSON.stringify(counted)).not.toMatch(/meter-/);
    const timed = (await metrics.httpRequestSeconds.get()).values.find(
      ({ metricName, labels }) =>
        metricName === 'otaflow_http_request_duration_seconds_count' && labels.route === '/v1/devices/:id',
    );
    expect(timed?.value).toBe(2);
  });

  it('are served in the Prometheus text format at /metrics on their own port, and nothing else there', async () => {
    const server = await startMetricsServer('127.0.0.1', 0, metrics.registry);
    try {
      const answer = await fetch(`${server.url}/metrics`);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await answer.text();
      expect(text).toContain('# TYPE otaflow_http_requests_total counter');
      expect(text).toContain('nodejs_eventloop_lag_seconds');
      expect((await fetch(`${server.url}/v1/devices`)).status).toBe(404);
    } finally {
      await server.stop();
    }
  });
});
