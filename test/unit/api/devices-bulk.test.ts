import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApi, testSecrets } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
}, 60_000);
afterAll(() => api.dispose());
beforeEach(() => api.reset());

const meter = { id: 'meter-1', protocol: 'mqtt', product: 'meter', model: 'm1' };

describe('tags and filters', () => {
  it('keeps tags given at creation and replaces them with PATCH', async () => {
    const created = await request(api.app)
      .post('/v1/devices')
      .set(api.auth)
      .send({ ...meter, tags: ['eu-west', 'ring=canary'] })
      .expect(201);
    expect(created.body.tags).toEqual(['eu-west', 'ring=canary']);
    const patched = await request(api.app)
      .patch('/v1/devices/meter-1')
      .set(api.auth)
      .send({ tags: ['us-east'] })
      .expect(200);
    expect(patched.body.tags).toEqual(['us-east']);
    expect((await request(api.app).get('/v1/devices/meter-1').set(api.auth)).body.tags).toEqual(['us-east']);
  });

  it('refuses bad, duplicate and too many tags, naming each, and changes nothing', async () => {
    await request(api.app).post('/v1/devices').set(api.auth).send(meter).expect(201);
    const bad = await request(api.app)
      .patch('/v1/devices/meter-1')
      .set(api.auth)
      .send({ tags: ['ok', 'has space', 'ok'] })
      .expect(400);
    expect(bad.body.errors.map((error: { path: string }) => error.path)).toEqual(['tags.1', 'tags.2']);
    const many = await request(api.app)
      .patch('/v1/devices/meter-1')
      .set(api.auth)
      .send({ tags: Array.from({ length: 33 }, (_, i) => `t${i}`) })
      .expect(400);
    expect(many.body.errors[0].path).toBe('tags');
    expect((await request(api.app).get('/v1/devices/meter-1').set(api.auth)).body.tags).toEqual([]);
    await request(api.app).patch('/v1/devices/nobody').set(api.auth).send({ tags: [] }).expect(404);
  });

  it('filters the list by protocol, product, model, tag and version', async () => {
    const devices = [
      { id: 'a', protocol: 'mqtt', product: 'meter', model: 'm1', tags: ['eu'] },
      { id: 'b', protocol: 'lwm2m', product: 'meter', model: 'm1', tags: ['eu', 'canary'] },
      { id: 'c', protocol: 'mqtt', product: 'valve', model: 'v2', tags: ['us'] },
    ];
    await request(api.app).post('/v1/devices/bulk').set(api.auth).send({ devices }).expect(201);
    await api.db.query(`update devices set firmware_version = '1.0.0' where id = 'a'`);
    await api.db.query(`update devices set software_version = '1.0.0' where id = 'c'`);
    const ids = async (query: string) =>
      (await request(api.app).get(`/v1/devices?${query}`).set(api.auth).expect(200)).body.items.map(
        (device: { id: string }) => device.id,
      );
    expect(await ids('protocol=mqtt')).toEqual(['a', 'c']);
    expect(await ids('product=meter&model=m1')).toEqual(['a', 'b']);
    expect(await ids('tag=eu')).toEqual(['a', 'b']);
    expect(await ids('tag=eu&protocol=lwm2m')).toEqual(['b']);
    expect(await ids('version=1.0.0')).toEqual(['a', 'c']);
    expect(await ids('tag=nobody')).toEqual([]);
    const bad = await request(api.app).get('/v1/devices?protocol=coap&tag=a%20b').set(api.auth).expect(400);
    expect(bad.body.errors.map((error: { path: string }) => error.path)).toEqual(['protocol', 'tag']);
  });
});

describe('POST /v1/devices/bulk', () => {
  it('creates every device and shows each secret once, in request order', async () => {
    const devices = Array.from({ length: 250 }, (_, i) => ({
      ...meter,
      id: `bulk-${String(i).padStart(3, '0')}`,
    }));
    devices[1] = { ...meter, id: 'bulk-001', secret: 'given-secret-1' } as (typeof devices)[number];
    const response = await request(api.app)
      .post('/v1/devices/bulk')
      .set(api.auth)
      .send({ devices })
      .expect(201);
    expect(response.body.items.map((device: { id: string }) => device.id)).toEqual(devices.map((d) => d.id));
    expect(response.body.items[1].secret).toBe('given-secret-1');
    expect(new Set(response.body.items.map((device: { secret: string }) => device.secret)).size).toBe(250);
    const { rows } = await api.db.query<{ secret_ciphertext: string }>(
      `select secret_ciphertext from devices where id = 'bulk-001'`,
    );
    expect(testSecrets.decrypt(rows[0]?.secret_ciphertext ?? '')).toBe('given-secret-1');
  });

  it('creates nothing when one device is invalid, duplicated or exists, naming devices.<i>.<field>', async () => {
    await request(api.app).post('/v1/devices').set(api.auth).send(meter).expect(201);
    const invalid = await request(api.app)
      .post('/v1/devices/bulk')
      .set(api.auth)
      .send({
        devices: [
          { ...meter, id: 'x1' },
          { ...meter, id: 'x2', protocol: 'coap' },
          { ...meter, id: 'x1' },
        ],
      })
      .expect(400);
    expect(invalid.body.errors.map((error: { path: string }) => error.path)).toEqual([
      'devices.1.protocol',
      'devices.2.id',
    ]);
    const existing = await request(api.app)
      .post('/v1/devices/bulk')
      .set(api.auth)
      .send({ devices: [{ ...meter, id: 'x1' }, meter] })
      .expect(409);
    expect(existing.body.errors).toEqual([
      { path: 'devices.1.id', message: 'device meter-1 exists already' },
    ]);
    const list = await request(api.app).get('/v1/devices').set(api.auth);
    expect(list.body.items.map((device: { id: string }) => device.id)).toEqual(['meter-1']);
  });

  it('imports 10,000 devices in one request, and refuses an empty list and 10,001', async () => {
    const fleet = (count: number) =>
      Array.from({ length: count }, (_, i) => ({ ...meter, id: `fleet-${i}`, tags: ['import'] }));
    const response = await request(api.app)
      .post('/v1/devices/bulk')
      .set(api.auth)
      .send({ devices: fleet(10_000) })
      .expect(201);
    expect(response.body.items).toHaveLength(10_000);
    const { rows } = await api.db.query<{ count: number }>(
      `select count(*)::int as count from devices where tags @> array['import']`,
    );
    expect(rows[0]?.count).toBe(10_000);

    const empty = await request(api.app)
      .post('/v1/devices/bulk')
      .set(api.auth)
      .send({ devices: [] })
      .expect(400);
    expect(empty.body.errors[0].path).toBe('devices');
    const tooMany = await request(api.app)
      .post('/v1/devices/bulk')
      .set(api.auth)
      .send({ devices: fleet(10_001).map((device) => ({ ...device, id: `more-${device.id}` })) })
      .expect(400);
    expect(tooMany.body.errors).toEqual([{ path: 'devices', message: expect.stringMatching(/10000/) }]);
  }, 60_000);
});
