import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadBootstrapApiKey } from '../../../src/api/auth';
import { startTestApi } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
}, 60_000);
afterAll(() => api.dispose());
beforeEach(() => api.reset());

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function createKey(scopes: string[], name = 'ci') {
  const response = await request(api.app)
    .post('/v1/api-keys')
    .set(api.auth)
    .send({ name, scopes })
    .expect(201);
  return response.body as { id: string; key: string; scopes: string[] };
}

describe('API keys', () => {
  it('refuses a request without a key, with a malformed header or an unknown key (401, WWW-Authenticate)', async () => {
    const missing = await request(api.app).get('/v1/devices').expect(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(missing.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(missing.body).toMatchObject({ status: 401, detail: 'an API key is required' });
    const basic = await request(api.app)
      .get('/v1/devices')
      .set('authorization', 'Basic dXNlcjpwdw==')
      .expect(401);
    expect(basic.body.errors[0].path).toBe('authorization');
    const unknown = await request(api.app).get('/v1/devices').set(bearer('ofk_not-a-real-key')).expect(401);
    expect(unknown.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(unknown.body.detail).toBe('unknown API key');
  });

  it('protects /openapi.json and every /v1 route, but not /healthz', async () => {
    await request(api.app).get('/openapi.json').expect(401);
    await request(api.app).get('/openapi.json').set(api.auth).expect(200);
    await request(api.app).post('/v1/devices').send({}).expect(401);
    await request(api.app).get('/v1/no-such-route').expect(401);
    await request(api.app).get('/healthz').expect(200);
  });

  it('creates a key shown once and stored only as a hash; the key works', async () => {
    const created = await createKey(['read']);
    expect(created.key).toMatch(/^ofk_[A-Za-z0-9_-]{43}$/);
    expect(created.scopes).toEqual(['read']);
    const { rows } = await api.db.query<{ key_hash: string }>('select key_hash from api_keys');
    expect(rows[0]?.key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(rows)).not.toContain(created.key);
    await request(api.app).get('/v1/devices').set(bearer(created.key)).expect(200);
    const listed = await request(api.app).get('/v1/api-keys').set(api.auth).expect(200);
    expect(listed.body.items).toEqual([
      expect.objectContaining({ id: created.id, name: 'ci', revokedAt: null }),
    ]);
    expect(listed.body.items[0]).not.toHaveProperty('key');
    expect(listed.body.items[0].lastUsedAt).not.toBeNull();
  });

  it('refuses a method the key has no scope for with 403 naming the scope', async () => {
    const reader = await createKey(['read']);
    const write = await request(api.app)
      .post('/v1/groups')
      .set(bearer(reader.key))
      .send({ name: 'g' })
      .expect(403);
    expect(write.body.detail).toBe('this API key lacks the write scope');
    expect(
      await request(api.app)
        .get('/v1/groups')
        .set(api.auth)
        .then((r) => r.body.items),
    ).toEqual([]);

    const writer = await createKey(['write']);
    const read = await request(api.app).get('/v1/devices').set(bearer(writer.key)).expect(403);
    expect(read.body.detail).toMatch(/read scope/);
    await request(api.app).post('/v1/groups').set(bearer(writer.key)).send({ name: 'g' }).expect(201);

    const admin = await request(api.app).get('/v1/api-keys').set(bearer(writer.key)).expect(403);
    expect(admin.body.detail).toMatch(/admin scope/);
    const adminOnly = await createKey(['admin']);
    await request(api.app).get('/v1/api-keys').set(bearer(adminOnly.key)).expect(200);
  });

  it('refuses a revoked key at once; revoking twice keeps the first time', async () => {
    const key = await createKey(['read']);
    await request(api.app).get('/v1/devices').set(bearer(key.key)).expect(200);
    await request(api.app).delete(`/v1/api-keys/${key.id}`).set(api.auth).expect(204);
    const refused = await request(api.app).get('/v1/devices').set(bearer(key.key)).expect(401);
    expect(refused.body.detail).toBe('this API key has been revoked');
    const first = (await request(api.app).get(`/v1/api-keys/${key.id}`).set(api.auth)).body.revokedAt;
    expect(first).not.toBeNull();
    await request(api.app).delete(`/v1/api-keys/${key.id}`).set(api.auth).expect(204);
    expect((await request(api.app).get(`/v1/api-keys/${key.id}`).set(api.auth)).body.revokedAt).toBe(first);
    await request(api.app).delete('/v1/api-keys/key_nope').set(api.auth).expect(404);
  });

  it('names bad fields of a new key', async () => {
    const response = await request(api.app)
      .post('/v1/api-keys')
      .set(api.auth)
      .send({ name: '', scopes: ['read', 'root', 'read'] })
      .expect(400);
    expect(response.body.errors.map((error: { path: string }) => error.path).sort()).toEqual([
      'name',
      'scopes.1',
    ]);
  });
});

describe('the bootstrap key', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'otaflow-api-key-'));
    return () => rm(dataDir, { recursive: true, force: true });
  });

  it('is generated on first start into an owner-only file and reused later', async () => {
    const first = await loadBootstrapApiKey({ dataDir });
    expect(first).toMatchObject({ generated: true, file: path.join(dataDir, 'api-key') });
    expect(first.key).toMatch(/^ofk_/);
    expect((await stat(path.join(dataDir, 'api-key'))).mode & 0o777).toBe(0o600);
    expect((await readFile(path.join(dataDir, 'api-key'), 'utf8')).trim()).toBe(first.key);
    const again = await loadBootstrapApiKey({ dataDir });
    expect(again).toEqual({ ...first, generated: false });
  });

  it('is OTAFLOW_API_KEY when configured, and then no file is written', async () => {
    const configured = await loadBootstrapApiKey({ dataDir, configuredKey: 'k'.repeat(40) });
    expect(configured).toEqual({ key: 'k'.repeat(40), generated: false });
    await expect(stat(path.join(dataDir, 'api-key'))).rejects.toThrow(/ENOENT/);
  });
});
