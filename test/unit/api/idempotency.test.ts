import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startTestApi } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
}, 60_000);
afterAll(() => api.dispose());
beforeEach(() => api.reset());

const meter = { id: 'meter-1', protocol: 'mqtt', product: 'meter', model: 'm1' };

async function count(table: string) {
  const { rows } = await api.db.query<{ count: number }>(`select count(*)::int as count from ${table}`);
  return rows[0]?.count;
}

const create = (path: string, body: object, key: string, auth = api.auth) =>
  request(api.app).post(path).set(auth).set('Idempotency-Key', key).send(body);

describe('Idempotency-Key', () => {
  it('replays the first answer (status, body, Location) for a repeat, creating nothing more', async () => {
    const first = await create('/v1/devices', meter, 'k-1').expect(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const repeat = await create('/v1/devices', meter, 'k-1').expect(201);
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(repeat.headers.location).toBe('/v1/devices/meter-1');
    // The secret shown once is shown again to the same client retrying the same request.
    expect(repeat.body).toEqual(first.body);
    expect(await count('devices')).toBe(1);

    const group = await create('/v1/groups', { name: 'g' }, 'k-2').expect(201);
    const again = await create('/v1/groups', { name: 'g' }, 'k-2').expect(201);
    expect(again.body.id).toBe(group.body.id);
    expect(await count('device_groups')).toBe(1);
  });

  it('keeps no secret of a first answer in clear, and still replays it whole', async () => {
    const device = await create('/v1/devices', meter, 'k-device').expect(201);
    const key = await create('/v1/api-keys', { name: 'ci', scopes: ['read'] }, 'k-key').expect(201);
    const webhook = await create(
      '/v1/webhooks',
      { url: 'https://hooks.example.com/otaflow', events: ['task.completed'] },
      'k-webhook',
    ).expect(201);
    const secrets = [device.body.secret, key.body.key, webhook.body.secret];
    for (const secret of secrets) expect(secret).toEqual(expect.any(String));

    const { rows } = await api.db.query<{ stored: string }>(
      'select response::text as stored from idempotency_keys',
    );
    expect(rows).toHaveLength(3);
    for (const { stored } of rows) for (const secret of secrets) expect(stored).not.toContain(secret);

    expect((await create('/v1/devices', meter, 'k-device').expect(201)).body).toEqual(device.body);
    expect(
      (await create('/v1/api-keys', { name: 'ci', scopes: ['read'] }, 'k-key').expect(201)).body,
    ).toEqual(key.body);
  });

  it('refuses the same key for another request with 422 naming Idempotency-Key', async () => {
    await create('/v1/devices', meter, 'k-1').expect(201);
    const otherBody = await create('/v1/devices', { ...meter, id: 'meter-2' }, 'k-1').expect(422);
    expect(otherBody.body.errors[0].path).toBe('Idempotency-Key');
    const otherPath = await create('/v1/groups', { name: 'g' }, 'k-1').expect(422);
    expect(otherPath.body.errors[0].path).toBe('Idempotency-Key');
    expect(await count('devices')).toBe(1);
    expect(await count('device_groups')).toBe(0);
  });

  it('keeps keys per API key', async () => {
    const other = await request(api.app)
      .post('/v1/api-keys')
      .set(api.auth)
      .send({ name: 'other', scopes: ['write'] })
      .expect(201);
    await create('/v1/devices', meter, 'shared').expect(201);
    const second = await create('/v1/devices', { ...meter, id: 'meter-2' }, 'shared', {
      authorization: `Bearer ${other.body.key}`,
    }).expect(201);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(await count('devices')).toBe(2);
  });

  it('does not store an error answer: a corrected retry may reuse the key', async () => {
    const bad = await create('/v1/devices', { ...meter, protocol: 'coap' }, 'k-1').expect(400);
    expect(bad.headers['idempotent-replayed']).toBeUndefined();
    await create('/v1/devices', meter, 'k-1').expect(201);
    await create('/v1/devices', meter, 'k-2').expect(409);
    expect(await count('idempotency_keys')).toBe(1);
  });

  it('answers 409 while the first request with the key is still running', async () => {
    const server = api.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      // A package upload whose file is still arriving: the first request is running.
      const boundary = 'slow-upload-boundary';
      const field = (name: string, value: string) =>
        `--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
      const first = http.request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/packages',
        headers: {
          ...api.auth,
          'idempotency-key': 'busy',
          'content-type': `multipart/form-data; boundary=${boundary}`,
        },
      });
      const answered = new Promise<number>((resolve) =>
        first.on('response', (res) => resolve(res.statusCode ?? 0)),
      );
      first.write(
        ['name', 'version', 'kind', 'product', 'model']
          .map((name) => field(name, { version: '2.0.0', kind: 'firmware' }[name] ?? 'meter'))
          .join('') +
          `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="fw.bin"\r\n\r\nfirst half`,
      );
      await vi.waitFor(async () => expect(await count('idempotency_keys')).toBe(1));

      const busy = await request(api.app)
        .post('/v1/packages')
        .set(api.auth)
        .set('Idempotency-Key', 'busy')
        .field('name', 'x')
        .expect(409);
      expect(busy.body.errors[0].path).toBe('Idempotency-Key');
      expect(busy.headers['retry-after']).toBe('1');

      first.end(`, second half\r\n--${boundary}--\r\n`);
      expect(await answered).toBe(201);
      const replay = await request(api.app)
        .post('/v1/packages')
        .set(api.auth)
        .set('Idempotency-Key', 'busy')
        .field('name', 'x')
        .expect(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(await count('packages')).toBe(1);
    } finally {
      server.close();
    }
  });

  it('forgets a key after 24 hours', async () => {
    await create('/v1/devices', meter, 'old').expect(201);
    await api.db.query(`update idempotency_keys set created_at = now() - interval '25 hours'`);
    const reused = await create('/v1/devices', { ...meter, id: 'meter-2' }, 'old').expect(201);
    expect(reused.headers['idempotent-replayed']).toBeUndefined();
  });

  it('refuses a key over 255 characters, naming the header', async () => {
    const response = await create('/v1/devices', meter, 'k'.repeat(256)).expect(400);
    expect(response.body.errors).toEqual([{ path: 'Idempotency-Key', message: '1 to 255 characters' }]);
    expect(await count('devices')).toBe(0);
  });

  it('applies to task creation and package uploads too', async () => {
    const upload = () =>
      request(api.app)
        .post('/v1/packages')
        .set(api.auth)
        .set('Idempotency-Key', 'pkg')
        .field('name', 'fw')
        .field('version', '2.0.0')
        .field('kind', 'firmware')
        .field('product', 'meter')
        .field('model', 'm1')
        .attach('file', Buffer.from('image'), 'fw.bin');
    const first = await upload().expect(201);
    const repeat = await upload().expect(201);
    expect(repeat.headers['idempotent-replayed']).toBe('true');
    expect(repeat.body.id).toBe(first.body.id);
    expect(await count('packages')).toBe(1);

    // Whatever the tasks route answers first (here: an invalid body), the middleware is in front of it.
    const task = await create('/v1/tasks', {}, 'task-1').expect(400);
    expect(task.headers['idempotent-replayed']).toBeUndefined();
    const mismatch = await create('/v1/devices', meter, 'pkg').expect(422);
    expect(mismatch.body.errors[0].path).toBe('Idempotency-Key');
  });
});
