import { parse } from 'csv-parse/sync';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recordDeviceResult, recordStep } from '../../../src/db/tasks';
import { insertFirmwareAndMeters, startTestApi } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
}, 60_000);
afterAll(() => api.dispose());

let taskId: string;

beforeEach(async () => {
  await api.reset();
  await insertFirmwareAndMeters(api.db, ['d1', 'd2', 'd3', 'd4']);
  const created = await request(api.app)
    .post('/v1/tasks')
    .set(api.auth)
    .send({ packageId: 'pkg_1', target: { deviceIds: ['d4', 'd3', 'd2', 'd1'] } })
    .expect(201);
  taskId = created.body.id;

  const at = new Date('2026-03-01T10:00:00.000Z');
  await recordStep(api.db, taskId, 'd3', 'downloading', '1.0.0', at);
  await api.db.query(`update task_devices set progress = 40, attempts = 1 where device_id = 'd3'`);
  const failed = { taskId, outcome: 'failed', toVersion: '2.0.0', fromVersion: '1.0.0' } as const;
  await recordDeviceResult(
    api.db,
    { ...failed, deviceId: 'd2', cause: 'Firmware update failed', detail: 'flash error, "bank 2"\nrebooted' },
    at,
  );
  await recordDeviceResult(api.db, { ...failed, deviceId: 'd1', cause: 'Invalid URI' }, at);
  await api.db.query(
    `update task_devices set attempts = 2, retry_at = '2026-03-01T10:05:00Z' where device_id = 'd1'`,
  );
});

const get = (path: string) => request(api.app).get(path).set(api.auth);
const idsOf = (body: { items: { deviceId: string }[] }) => body.items.map((item) => item.deviceId);

describe('GET /v1/tasks/:id/devices', () => {
  it('pages through the devices in start order', async () => {
    const first = await get(`/v1/tasks/${taskId}/devices?limit=3`).expect(200);
    expect(idsOf(first.body)).toEqual(['d4', 'd3', 'd2']);
    const rest = await get(`/v1/tasks/${taskId}/devices?limit=3&cursor=${first.body.nextCursor}`).expect(200);
    expect(idsOf(rest.body)).toEqual(['d1']);
    expect(rest.body.nextCursor).toBeUndefined();
    expect(rest.body.items[0]).toEqual({
      deviceId: 'd1',
      step: 'failed',
      outcome: 'failed',
      failureCause: 'Invalid URI',
      failureDetail: null,
      progress: null,
      progressDescription: null,
      attempts: 2,
      retryAt: '2026-03-01T10:05:00.000Z',
      fromVersion: '1.0.0',
      toVersion: '2.0.0',
      startedAt: '2026-03-01T10:00:00.000Z',
      updatedAt: '2026-03-01T10:00:00.000Z',
      finishedAt: '2026-03-01T10:00:00.000Z',
    });
  });

  it('filters by step, outcome and failure cause', async () => {
    expect(idsOf((await get(`/v1/tasks/${taskId}/devices?step=pending`)).body)).toEqual(['d4']);
    expect(idsOf((await get(`/v1/tasks/${taskId}/devices?step=downloading`)).body)).toEqual(['d3']);
    expect(idsOf((await get(`/v1/tasks/${taskId}/devices?outcome=failed&limit=1`)).body)).toEqual(['d2']);
    const byCause = await get(
      `/v1/tasks/${taskId}/devices?failureCause=${encodeURIComponent('Invalid URI')}`,
    );
    expect(idsOf(byCause.body)).toEqual(['d1']);
    expect(idsOf((await get(`/v1/tasks/${taskId}/devices?outcome=succeeded`)).body)).toEqual([]);
  });

  it.each([
    ['step=sleeping', 'step'],
    ['outcome=maybe', 'outcome'],
    ['failureCause=bad%20luck', 'failureCause'],
    ['cursor=d1', 'cursor'],
    ['cursor=9999999999999999999', 'cursor'],
    ['limit=501', 'limit'],
  ])('refuses ?%s naming %s', async (query, field) => {
    const response = await get(`/v1/tasks/${taskId}/devices?${query}`).expect(400);
    expect(response.body.errors.map((error: { path: string }) => error.path)).toEqual([field]);
  });
});

describe('GET /v1/tasks/:id/results.csv', () => {
  it('sends every device row as CSV with a header row, quoting what needs it', async () => {
    const response = await get(`/v1/tasks/${taskId}/results.csv`).buffer(true).expect(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(response.headers['content-disposition']).toBe(`attachment; filename=${taskId}-results.csv`);
    const lines = response.text.split('\n');
    expect(lines[0]).toBe(
      'deviceId,step,outcome,failureCause,failureDetail,progress,progressDescription,attempts,retryAt,' +
        'fromVersion,toVersion,startedAt,updatedAt,finishedAt',
    );
    expect(response.text).toContain('"flash error, ""bank 2""\nrebooted"');
    const records: Record<string, string>[] = parse(response.text, { columns: true });
    expect(records.map((record) => record.deviceId)).toEqual(['d4', 'd3', 'd2', 'd1']);
    expect(records[1]).toMatchObject({ step: 'downloading', progress: '40', attempts: '1', outcome: '' });
    expect(records[2]).toMatchObject({
      failureCause: 'Firmware update failed',
      failureDetail: 'flash error, "bank 2"\nrebooted',
      finishedAt: '2026-03-01T10:00:00.000Z',
    });
    expect(records[3]).toMatchObject({ retryAt: '2026-03-01T10:05:00.000Z', attempts: '2' });
  });

  it('streams a task larger than one read, every row once, in start order', async () => {
    const count = 2503;
    await api.db.query(
      `insert into devices (id, protocol, product, model, secret_ciphertext)
       select 'bulk-' || lpad(n::text, 5, '0'), 'mqtt', 'meter', 'm1', 'x' from generate_series(1, $1) n`,
      [count],
    );
    const created = await request(api.app)
      .post('/v1/tasks')
      .set(api.auth)
      .send({ packageId: 'pkg_1', target: { filter: {} } })
      .expect(201);
    const response = await get(`/v1/tasks/${created.body.id}/results.csv`).buffer(true).expect(200);
    const records: Record<string, string>[] = parse(response.text, { columns: true });
    const expected = [
      ...Array.from({ length: count }, (_, i) => `bulk-${String(i + 1).padStart(5, '0')}`),
      'd1',
      'd2',
      'd3',
      'd4',
    ];
    expect(records.map((record) => record.deviceId)).toEqual(expected);
  }, 60_000);
});
