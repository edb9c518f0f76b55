/**
 * LwM2M pre-shared keys provisioned through the API: who gets one, what is shown once, what is kept
 * sealed, and what the DTLS terminator's key lookup and the gateway's registry then see.
 */
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApi } from '../../../src/api/create-api';
import { findPskKeyCiphertext } from '../../../src/db/devices';
import { createLwm2mGatewayRegistry } from '../../../src/db/lwm2m-registrations';
import { startTestApi, testApiDeps, testSecrets } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
let dtlsApp: ReturnType<typeof createApi>;
beforeAll(async () => {
  api = await startTestApi();
  const deps = testApiDeps(api.db);
  dtlsApp = createApi({ ...deps, config: { ...deps.config, LWM2M_DTLS: 'on' } });
}, 60_000);
afterAll(() => api.dispose());
beforeEach(() => api.reset());

const meter = { protocol: 'lwm2m', product: 'meter', model: 'nb1' };

async function sealedKey(identity: string): Promise<string | undefined> {
  const sealed = await findPskKeyCiphertext(api.db, identity);
  return sealed === undefined ? undefined : testSecrets.decrypt(sealed);
}

describe('LwM2M pre-shared keys', () => {
  it('are generated for a new LwM2M device while LwM2M over DTLS is on, shown once, kept sealed', async () => {
    const created = await request(dtlsApp)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'nb-1', ...meter });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: 'nb-1',
      pskIdentity: 'nb-1',
      pskKey: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(await sealedKey('nb-1')).toBe(created.body.pskKey);
    expect(await findPskKeyCiphertext(api.db, 'nb-1')).not.toContain(created.body.pskKey);

    const read = await request(dtlsApp).get('/v1/devices/nb-1').set(api.auth).expect(200);
    expect(read.body.pskIdentity).toBe('nb-1');
    expect(read.body).not.toHaveProperty('pskKey');
    expect(await createLwm2mGatewayRegistry(api.db).lwm2mDevice('nb-1')).toEqual({ pskIdentity: 'nb-1' });
  });

  it('take a given identity and key; an explicit none means plain CoAP', async () => {
    const key = 'A1'.repeat(16);
    const keyed = await request(dtlsApp)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'nb-2', ...meter, pskIdentity: 'urn:imei:490154203237518', pskKey: key })
      .expect(201);
    expect(keyed.body).toMatchObject({ pskIdentity: 'urn:imei:490154203237518', pskKey: key.toLowerCase() });
    expect(await sealedKey('urn:imei:490154203237518')).toBe(key.toLowerCase());

    const plain = await request(dtlsApp)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'nb-3', ...meter, lwm2mSecurity: 'none' })
      .expect(201);
    expect(plain.body.pskIdentity).toBeNull();
    expect(plain.body).not.toHaveProperty('pskKey');
    expect(await createLwm2mGatewayRegistry(api.db).lwm2mDevice('nb-3')).toEqual({ pskIdentity: null });
  });

  it('are not given by default while LwM2M over DTLS is off, nor ever to MQTT devices', async () => {
    const plain = await request(api.app)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'nb-4', ...meter })
      .expect(201);
    expect(plain.body.pskIdentity).toBeNull();
    const mqtt = await request(dtlsApp)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'mq-1', protocol: 'mqtt', product: 'meter', model: 'm1' })
      .expect(201);
    expect(mqtt.body.pskIdentity).toBeNull();
  });

  it('refuse bad input naming the field, and create nothing', async () => {
    const cases: [object, string, string][] = [
      [{ pskKey: 'abc' }, 'pskKey', '16 to 64 bytes in hex'],
      [{ pskKey: '00'.repeat(15) }, 'pskKey', '16 to 64 bytes in hex'],
      [{ pskIdentity: 'bad\u0007identity' }, 'pskIdentity', '1 to 128 characters, no control characters'],
      [{ lwm2mSecurity: 'none', pskKey: '00'.repeat(16) }, 'pskKey', "not with lwm2mSecurity 'none'"],
      [{ lwm2mSecurity: 'x509' }, 'lwm2mSecurity', ''],
      [{ protocol: 'mqtt', pskIdentity: 'mq' }, 'pskIdentity', 'only for protocol lwm2m'],
    ];
    for (const [fields, path, message] of cases) {
      const response = await request(dtlsApp)
        .post('/v1/devices')
        .set(api.auth)
        .send({ id: 'nb-bad', ...meter, ...fields });
      expect(response.status, JSON.stringify(fields)).toBe(400);
      const error = response.body.errors.find((each: { path: string }) => each.path === path);
      expect(error, JSON.stringify(response.body.errors)).toBeDefined();
      expect(error.message).toContain(message);
    }
    await request(dtlsApp).get('/v1/devices/nb-bad').set(api.auth).expect(404);
  });

  it('are unique: a taken identity is a 409 naming pskIdentity, for one device or a bulk import', async () => {
    await request(dtlsApp)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'nb-5', ...meter })
      .expect(201);
    const taken = await request(dtlsApp)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'nb-6', ...meter, pskIdentity: 'nb-5' })
      .expect(409);
    expect(taken.body.errors).toEqual([{ path: 'pskIdentity', message: 'already taken' }]);

    const bulk = await request(dtlsApp)
      .post('/v1/devices/bulk')
      .set(api.auth)
      .send({
        devices: [
          { id: 'nb-7', ...meter },
          { id: 'nb-8', ...meter, pskIdentity: 'nb-7' },
        ],
      })
      .expect(409);
    expect(bulk.body.errors).toEqual([{ path: 'pskIdentity', message: 'already taken' }]);
    await request(dtlsApp).get('/v1/devices/nb-7').set(api.auth).expect(404);
  });

  it('are replaced through POST /v1/devices/{id}/psk: a new key shown once, the identity kept or changed', async () => {
    const created = await request(dtlsApp)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'nb-9', ...meter })
      .expect(201);
    const rotated = await request(dtlsApp).post('/v1/devices/nb-9/psk').set(api.auth).send({}).expect(200);
    expect(rotated.body).toMatchObject({
      id: 'nb-9',
      pskIdentity: 'nb-9',
      pskKey: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(rotated.body.pskKey).not.toBe(created.body.pskKey);
    expect(await sealedKey('nb-9')).toBe(rotated.body.pskKey);

    const renamed = await request(dtlsApp)
      .post('/v1/devices/nb-9/psk')
      .set(api.auth)
      .send({ pskIdentity: 'urn:imei:490154203237519', pskKey: 'ab'.repeat(20) })
      .expect(200);
    expect(renamed.body).toMatchObject({ pskIdentity: 'urn:imei:490154203237519', pskKey: 'ab'.repeat(20) });
    expect(await sealedKey('nb-9')).toBeUndefined();
    expect(await sealedKey('urn:imei:490154203237519')).toBe('ab'.repeat(20));

    // A device provisioned without security gets its first key the same way.
    await request(dtlsApp)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'nb-10', ...meter, lwm2mSecurity: 'none' })
      .expect(201);
    const keyed = await request(dtlsApp).post('/v1/devices/nb-10/psk').set(api.auth).send({}).expect(200);
    expect(keyed.body.pskIdentity).toBe('nb-10');
  });

  it('are set only for LwM2M devices, with a valid key and a free identity', async () => {
    await request(dtlsApp)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'mq-2', protocol: 'mqtt', product: 'meter', model: 'm1' })
      .expect(201);
    await request(dtlsApp)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'nb-11', ...meter })
      .expect(201);
    await request(dtlsApp)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'nb-12', ...meter })
      .expect(201);
    const mqtt = await request(dtlsApp).post('/v1/devices/mq-2/psk').set(api.auth).send({}).expect(409);
    expect(mqtt.body.errors).toEqual([{ path: 'id', message: 'not an LwM2M device' }]);
    await request(dtlsApp).post('/v1/devices/nb-missing/psk').set(api.auth).send({}).expect(404);
    const bad = await request(dtlsApp)
      .post('/v1/devices/nb-11/psk')
      .set(api.auth)
      .send({ pskKey: 'zz' })
      .expect(400);
    expect(bad.body.errors[0].path).toBe('pskKey');
    const taken = await request(dtlsApp)
      .post('/v1/devices/nb-11/psk')
      .set(api.auth)
      .send({ pskIdentity: 'nb-12' })
      .expect(409);
    expect(taken.body.errors).toEqual([{ path: 'pskIdentity', message: 'already taken' }]);
    expect((await request(dtlsApp).get('/v1/devices/nb-11').set(api.auth)).body.pskIdentity).toBe('nb-11');
  });
});
