import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApi, testSecrets } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi({ maxJsonBytes: 1024 });
}, 60_000);
afterAll(() => api.dispose());
beforeEach(() => api.reset());

const meter = { id: 'meter-1', protocol: 'mqtt', product: 'meter', model: 'm1' };

describe('POST /v1/devices', () => {
  it('provisions a device and shows a generated secret once', async () => {
    const created = await request(api.app).post('/v1/devices').set(api.auth).send(meter).expect(201);
    expect(created.body).toMatchObject({ ...meter, online: false, lastSeenAt: null });
    expect(created.body.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created.headers.location).toBe('/v1/devices/meter-1');

    const shown = await request(api.app).get('/v1/devices/meter-1').set(api.auth).expect(200);
    expect(shown.body).toMatchObject(meter);
    expect(shown.body).not.toHaveProperty('secret');
    const { rows } = await api.db.query<{ secret_ciphertext: string }>(
      'select secret_ciphertext from devices',
    );
    expect(testSecrets.decrypt(rows[0]?.secret_ciphertext ?? '')).toBe(created.body.secret);
  });

  it('keeps a given secret, encrypted', async () => {
    const created = await request(api.app)
      .post('/v1/devices')
      .set(api.auth)
      .send({ ...meter, secret: 'my-device-secret' })
      .expect(201);
    expect(created.body.secret).toBe('my-device-secret');
    const { rows } = await api.db.query<{ secret_ciphertext: string }>(
      'select secret_ciphertext from devices',
    );
    expect(rows[0]?.secret_ciphertext).not.toContain('my-device-secret');
  });

  it('refuses a duplicate ID with 409 and leaves the first device as it was', async () => {
    await request(api.app).post('/v1/devices').set(api.auth).send(meter).expect(201);
    const duplicate = await request(api.app)
      .post('/v1/devices')
      .set(api.auth)
      .send({ ...meter, product: 'other' })
      .expect(409);
    expect(duplicate.body.errors).toEqual([{ path: 'id', message: 'already taken' }]);
    expect((await request(api.app).get('/v1/devices/meter-1').set(api.auth)).body.product).toBe('meter');
  });

  it('names each bad field, as problem+json, and stores nothing', async () => {
    const response = await request(api.app)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'bad/id', protocol: 'coap', product: 'meter', model: 'm1', extra: 1 })
      .expect(400)
      .expect('content-type', /application\/problem\+json/);
    expect(response.body).toMatchObject({ type: 'about:blank', title: 'Invalid request', status: 400 });
    const paths = response.body.errors.map((error: { path: string }) => error.path);
    expect(paths).toEqual(expect.arrayContaining(['id', 'protocol']));
    expect(response.body.detail).toMatch(/protocol/);
    expect((await request(api.app).get('/v1/devices').set(api.auth)).body.items).toEqual([]);
  });

  it('refuses malformed JSON, a missing body and an oversized body', async () => {
    const malformed = await request(api.app)
      .post('/v1/devices')
      .set(api.auth)
      .set('content-type', 'application/json')
      .send('{"id":')
      .expect(400);
    expect(malformed.body.detail).toMatch(/not valid JSON/);
    const missing = await request(api.app).post('/v1/devices').set(api.auth).expect(400);
    expect(missing.body.detail).toMatch(/must be JSON/);
    await request(api.app)
      .post('/v1/devices')
      .set(api.auth)
      .send({ ...meter, product: 'x'.repeat(2000) })
      .expect(413);
  });
});

describe('GET /v1/devices', () => {
  it('pages with limit and cursor', async () => {
    for (const id of ['c', 'a', 'b'])
      await request(api.app)
        .post('/v1/devices')
        .set(api.auth)
        .send({ ...meter, id })
        .expect(201);
    const first = await request(api.app).get('/v1/devices?limit=2').set(api.auth).expect(200);
    expect(first.body.items.map((device: { id: string }) => device.id)).toEqual(['a', 'b']);
    const second = await request(api.app)
      .get(`/v1/devices?limit=2&cursor=${first.body.nextCursor}`)
      .set(api.auth)
      .expect(200);
    expect(second.body.items.map((device: { id: string }) => device.id)).toEqual(['c']);
    expect(second.body.nextCursor).toBeUndefined();
  });

  it('refuses a bad limit, naming it', async () => {
    const response = await request(api.app).get('/v1/devices?limit=0').set(api.auth).expect(400);
    expect(response.body.errors[0].path).toBe('limit');
  });

  it('answers 404 for an unknown device', async () => {
    const response = await request(api.app).get('/v1/devices/nobody').set(api.auth).expect(404);
    expect(response.body.detail).toBe('device nobody does not exist');
  });
});

describe('the rest of the surface', () => {
  it('answers /healthz', async () => {
    await request(api.app).get('/healthz').expect(200, { status: 'ok' });
  });

  it('answers /readyz without an API key, naming the dependencies it checked', async () => {
    const { body } = await request(api.app).get('/readyz').expect(200);
    expect(body).toEqual({
      status: 'ready',
      dependencies: { database: { reachable: true, ms: expect.any(Number) } },
    });
  });

  it('answers unknown routes with a 404 problem', async () => {
    const response = await request(api.app).get('/v1/nothing-here').set(api.auth).expect(404);
    expect(response.body.detail).toBe('no route for GET /v1/nothing-here');
  });

  it('serves an OpenAPI 3.1 document describing every endpoint', async () => {
    const { body } = await request(api.app).get('/openapi.json').set(api.auth).expect(200);
    expect(body.openapi).toBe('3.1.0');
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/devices',
        '/v1/devices/{id}',
        '/v1/packages',
        '/v1/packages/{id}',
        '/v1/tasks',
        '/v1/tasks/{id}',
        '/v1/tasks/{id}/devices',
        '/v1/tasks/{id}/cancel',
        '/ota/packages/{packageId}/file',
        '/healthz',
        '/readyz',
      ]),
    );
    expect(body.components.schemas.BulkCreateDevicesRequest.properties.devices).toMatchObject({
      type: 'array',
      minItems: 1,
      maxItems: 10_000,
    });
    expect(body.paths['/v1/packages'].post.requestBody.content).toHaveProperty('multipart/form-data');
  });
});

describe('GET /v1/fleet/versions', () => {
  it('counts the devices of each product and model per version, most common first, unreported ones too', async () => {
    for (const [id, model] of [
      ['a', 'm1'],
      ['b', 'm1'],
      ['c', 'm1'],
      ['d', 'm2'],
    ] as const) {
      await request(api.app)
        .post('/v1/devices')
        .set(api.auth)
        .send({ ...meter, id, model })
        .expect(201);
    }
    await api.db.query(`update devices set firmware_version = '2.0.0' where id in ('a', 'b')`);
    await api.db.query(
      `update devices set firmware_version = '1.0.0', software_version = '5.1' where id = 'c'`,
    );
    const versions = await request(api.app).get('/v1/fleet/versions').set(api.auth).expect(200);
    expect(versions.body.items).toEqual([
      { product: 'meter', model: 'm1', kind: 'firmware', version: '2.0.0', count: 2 },
      { product: 'meter', model: 'm1', kind: 'firmware', version: '1.0.0', count: 1 },
      { product: 'meter', model: 'm1', kind: 'software', version: null, count: 2 },
      { product: 'meter', model: 'm1', kind: 'software', version: '5.1', count: 1 },
      { product: 'meter', model: 'm2', kind: 'firmware', version: null, count: 1 },
      { product: 'meter', model: 'm2', kind: 'software', version: null, count: 1 },
    ]);
  });
});
