import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../../src/api/create-api';
import { startTracing, type Tracing } from '../../../src/tracing/tracing';
import { openTempDatabase } from '../db/temp-database';
import { testApiDeps, testApiKey } from './test-api';

let temp: Awaited<ReturnType<typeof openTempDatabase>>;
let app: ReturnType<typeof createApi>;
let tracing: Tracing;
const exporter = new InMemorySpanExporter();

beforeAll(async () => {
  tracing = startTracing({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  temp = await openTempDatabase();
  app = createApi(testApiDeps(temp.db));
}, 60_000);

afterAll(async () => {
  await tracing.stop();
  await temp.dispose();
});

describe('API requests, traced', () => {
  it('are one server span each, named by route template, continuing the caller’s trace', async () => {
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    await request(app)
      .get('/v1/devices/meter-9?secret=x')
      .set('authorization', `Bearer ${testApiKey}`)
      .set('traceparent', `00-${callerTrace}-00f067aa0ba902b7-01`)
      .expect(404);
    await request(app).get('/v1/devices').expect(401);
    await request(app).get('/healthz').expect(200);

    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.name)).toEqual(['GET /v1/devices/:id', 'GET /v1/*']);
    const [lookup, refused] = spans;
    expect(lookup?.kind).toBe(SpanKind.SERVER);
    expect(lookup?.spanContext().traceId).toBe(callerTrace);
    expect(lookup?.parentSpanId).toBe('00f067aa0ba902b7');
    expect(lookup?.attributes).toEqual({
      'http.request.method': 'GET',
      'url.path': '/v1/devices/meter-9',
      'url.scheme': 'http',
      'http.route': '/v1/devices/:id',
      'http.response.status_code': 404,
    });
    // No caller's trace: a trace of its own. A 4xx is the caller's error, not the server's.
    expect(refused?.parentSpanId).toBeUndefined();
    expect(refused?.spanContext().traceId).not.toBe(callerTrace);
    expect(refused?.status.code).toBe(SpanStatusCode.UNSET);
    expect(JSON.stringify(spans.map((span) => span.attributes))).not.toContain(testApiKey);
  });
});
