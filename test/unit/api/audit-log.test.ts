import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
}, 60_000);
afterAll(() => api.dispose());

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

interface Entry {
  apiKeyId: string;
  method: string;
  path: string;
  route: string | null;
  status: number;
  location: string | null;
  address: string | null;
}

async function auditLog(query = ''): Promise<Entry[]> {
  const { body } = await request(api.app).get(`/v1/audit-log${query}`).set(api.auth).expect(200);
  return body.items;
}

describe('the audit log', () => {
  it('records every change made through the API — who, what, when, from where, the result — and no secret', async () => {
    const device = await request(api.app)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'audited-meter', protocol: 'mqtt', product: 'meter', model: 'm1' })
      .expect(201);
    const key = await request(api.app)
      .post('/v1/api-keys')
      .set(api.auth)
      .send({ name: 'writer', scopes: ['write'] })
      .expect(201);
    const webhook = await request(api.app)
      .post('/v1/webhooks')
      .set(api.auth)
      .send({ url: 'https://hooks.example.com/ota', events: ['task.completed'] })
      .expect(201);
    await request(api.app).post('/v1/groups').set(bearer(key.body.key)).send({ name: 'north' }).expect(201);
    await request(api.app)
      .post('/v1/api-keys')
      .set(bearer(key.body.key))
      .send({ name: 'x', scopes: ['admin'] })
      .expect(403);
    await request(api.app).delete(`/v1/api-keys/${key.body.id}`).set(api.auth).expect(204);
    await request(api.app).get('/v1/devices').set(api.auth).expect(200);

    const entries = await auditLog();
    expect(
      entries.map(({ apiKeyId, method, path, route, status, location }) => ({
        apiKeyId,
        method,
        path,
        route,
        status,
        location,
      })),
    ).toEqual([
      {
        apiKeyId: 'bootstrap',
        method: 'DELETE',
        path: `/v1/api-keys/${key.body.id}`,
        route: '/v1/api-keys/:id',
        status: 204,
        location: null,
      },
      {
        apiKeyId: key.body.id,
        method: 'POST',
        path: '/v1/api-keys',
        route: null,
        status: 403,
        location: null,
      },
      {
        apiKeyId: key.body.id,
        method: 'POST',
        path: '/v1/groups',
        route: '/v1/groups',
        status: 201,
        location: expect.stringMatching(/^\/v1\/groups\//),
      },
      {
        apiKeyId: 'bootstrap',
        method: 'POST',
        path: '/v1/webhooks',
        route: '/v1/webhooks',
        status: 201,
        location: `/v1/webhooks/${webhook.body.id}`,
      },
      {
        apiKeyId: 'bootstrap',
        method: 'POST',
        path: '/v1/api-keys',
        route: '/v1/api-keys',
        status: 201,
        location: `/v1/api-keys/${key.body.id}`,
      },
      {
        apiKeyId: 'bootstrap',
        method: 'POST',
        path: '/v1/devices',
        route: '/v1/devices',
        status: 201,
        location: '/v1/devices/audited-meter',
      },
    ]);
    for (const entry of entries) expect(entry.address).toMatch(/127\.0\.0\.1/);

    const { rows } = await api.db.query<{ row: string }>('select audit_log::text as row from audit_log');
    for (const secret of [
      device.body.secret,
      key.body.key,
      webhook.body.secret,
      'ofk_test-api-key-with-every-scope',
    ]) {
      expect(secret).toEqual(expect.any(String));
      for (const { row } of rows) expect(row).not.toContain(secret);
    }

    expect((await auditLog(`?apiKeyId=${key.body.id}`)).map((entry) => entry.path)).toEqual([
      '/v1/api-keys',
      '/v1/groups',
    ]);
    expect((await auditLog('?method=DELETE')).length).toBe(1);
    expect((await auditLog('?pathPrefix=/v1/devices')).length).toBe(1);

    const csv = await request(api.app).get('/v1/audit-log/export.csv').set(api.auth).expect(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('id,at,apiKeyId,method,path,route,status,location,address');
    expect(lines).toHaveLength(entries.length + 1);
  });

  it('cannot be changed, not even by otaflow itself, and is read with the admin scope only', async () => {
    await expect(api.db.query('update audit_log set status = 200')).rejects.toThrow(/append-only/);
    await expect(api.db.query('delete from audit_log')).rejects.toThrow(/append-only/);
    await expect(api.db.query('truncate audit_log')).rejects.toThrow(/append-only/);
    const reader = await request(api.app)
      .post('/v1/api-keys')
      .set(api.auth)
      .send({ name: 'reader', scopes: ['read', 'write'] })
      .expect(201);
    await request(api.app).get('/v1/audit-log').set(bearer(reader.body.key)).expect(403);
  });
});
