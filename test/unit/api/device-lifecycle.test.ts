import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApi } from '../../../src/api/create-api';
import { createDeviceRegistry } from '../../../src/db/device-registry';
import { createLwm2mGatewayRegistry } from '../../../src/db/lwm2m-registrations';
import { createDeviceAuthenticator, deviceCredentials } from '../../../src/mqtt/device-auth';
import { insertFirmwareAndMeters, startTestApi, testApiDeps, testSecrets } from './test-api';

let api: Awaited<ReturnType<typeof startTestApi>>;
beforeAll(async () => {
  api = await startTestApi();
}, 60_000);
afterAll(() => api.dispose());
beforeEach(() => api.reset());

async function login(deviceId: string, secret: string): Promise<boolean> {
  const authenticate = createDeviceAuthenticator({
    registry: createDeviceRegistry(api.db, testSecrets),
    serviceAccount: { username: 'otaflow-gateway', password: 'service-password' },
  });
  return (await authenticate(deviceCredentials(deviceId, secret))).ok;
}

describe("a device's secret", () => {
  it('is rotated through the API: the old one stops working, the new one is shown once and kept sealed', async () => {
    const created = await request(api.app)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'rotating-meter', protocol: 'mqtt', product: 'meter', model: 'm1' })
      .expect(201);
    expect(await login('rotating-meter', created.body.secret)).toBe(true);

    const rotated = await request(api.app)
      .post('/v1/devices/rotating-meter/secret')
      .set(api.auth)
      .expect(200);
    expect(rotated.body).toMatchObject({ id: 'rotating-meter', secret: expect.any(String) });
    expect(rotated.body.secret).not.toBe(created.body.secret);
    expect(await login('rotating-meter', created.body.secret)).toBe(false);
    expect(await login('rotating-meter', rotated.body.secret)).toBe(true);
    const { rows } = await api.db.query<{ sealed: string }>(
      "select secret_ciphertext as sealed from devices where id = 'rotating-meter'",
    );
    expect(rows[0]?.sealed).not.toContain(rotated.body.secret);

    const given = await request(api.app)
      .post('/v1/devices/rotating-meter/secret')
      .set(api.auth)
      .send({ secret: 'a-secret-of-my-own' })
      .expect(200);
    expect(given.body.secret).toBe('a-secret-of-my-own');
    expect(await login('rotating-meter', 'a-secret-of-my-own')).toBe(true);

    await request(api.app)
      .post('/v1/devices/rotating-meter/secret')
      .set(api.auth)
      .send({ secret: 'short' })
      .expect(400);
    await request(api.app).post('/v1/devices/no-such-meter/secret').set(api.auth).expect(404);
  });
});

describe('a disabled device', () => {
  it('may not log in or register, has its running upgrade cancelled as disabled, and comes back when enabled', async () => {
    const mqttDevice = await request(api.app)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'disabled-meter', protocol: 'mqtt', product: 'meter', model: 'm1' })
      .expect(201);
    await request(api.app)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'disabled-nb', protocol: 'lwm2m', product: 'meter', model: 'nb' })
      .expect(201);
    const lwm2m = createLwm2mGatewayRegistry(api.db);
    expect(await lwm2m.lwm2mDevice('disabled-nb')).toEqual({ pskIdentity: null });

    const disabled = await request(api.app)
      .post('/v1/devices/disabled-meter/disable')
      .set(api.auth)
      .expect(200);
    expect(disabled.body.disabledAt).toEqual(expect.any(String));
    await request(api.app).post('/v1/devices/disabled-nb/disable').set(api.auth).expect(200);
    expect(await login('disabled-meter', mqttDevice.body.secret)).toBe(false);
    expect(await lwm2m.lwm2mDevice('disabled-nb')).toBeUndefined();
    // The upgrade is told why before it is cancelled.
    expect(api.temporal.signalled.map(({ workflowId, signal }) => `${signal} ${workflowId}`)).toEqual([
      'deviceDisabled device-operation:disabled-meter',
      'deviceDisabled device-operation:disabled-nb',
    ]);
    expect(api.temporal.cancelled).toEqual([
      'device-operation:disabled-meter',
      'device-operation:disabled-nb',
    ]);

    const again = await request(api.app).post('/v1/devices/disabled-meter/disable').set(api.auth).expect(200);
    expect(again.body.disabledAt).toBe(disabled.body.disabledAt);
    const enabled = await request(api.app)
      .post('/v1/devices/disabled-meter/enable')
      .set(api.auth)
      .expect(200);
    expect(enabled.body.disabledAt).toBeNull();
    expect(await login('disabled-meter', mqttDevice.body.secret)).toBe(true);
    await request(api.app).post('/v1/devices/nobody/disable').set(api.auth).expect(404);
  });
});

describe("a device's live connections", () => {
  it('are closed when it is disabled or its secret rotated', async () => {
    const disconnected: string[] = [];
    const app = createApi({
      ...testApiDeps(api.db),
      deviceConnections: { disconnect: (deviceId) => void disconnected.push(deviceId) },
    });
    await request(app)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'connected-meter', protocol: 'mqtt', product: 'meter', model: 'm1' })
      .expect(201);
    await request(app).post('/v1/devices/connected-meter/secret').set(api.auth).expect(200);
    await request(app).post('/v1/devices/connected-meter/disable').set(api.auth).expect(200);
    await request(app).post('/v1/devices/connected-meter/enable').set(api.auth).expect(200);
    expect(disconnected).toEqual(['connected-meter', 'connected-meter']);
  });
});

describe('deleting a device', () => {
  it('takes a disabled device no task still upgrades; its finished task rows keep its ID', async () => {
    await insertFirmwareAndMeters(api.db, ['gone-meter']);
    const task = await request(api.app)
      .post('/v1/tasks')
      .set(api.auth)
      .send({ packageId: 'pkg_1', target: { deviceIds: ['gone-meter'] } })
      .expect(201);

    const enabled = await request(api.app).delete('/v1/devices/gone-meter').set(api.auth).expect(409);
    expect(enabled.body.detail).toBe('disable device gone-meter before deleting it');
    await request(api.app).post('/v1/devices/gone-meter/disable').set(api.auth).expect(200);
    const upgrading = await request(api.app).delete('/v1/devices/gone-meter').set(api.auth).expect(409);
    expect(upgrading.body.detail).toBe(`tasks still upgrade device gone-meter: ${task.body.id}`);

    await api.db.query(
      "update task_devices set step = 'cancelled', finished_at = now() where device_id = 'gone-meter'",
    );
    await request(api.app).delete('/v1/devices/gone-meter').set(api.auth).expect(204);
    await request(api.app).get('/v1/devices/gone-meter').set(api.auth).expect(404);
    const { rows } = await api.db.query("select task_id from task_devices where device_id = 'gone-meter'");
    expect(rows).toEqual([{ task_id: task.body.id }]);
    await request(api.app).delete('/v1/devices/gone-meter').set(api.auth).expect(404);
  });
});

describe('a retired package', () => {
  it('can be used by no new task, and keeps its first retirement time', async () => {
    await insertFirmwareAndMeters(api.db, ['meter-r1']);
    const retired = await request(api.app).post('/v1/packages/pkg_1/retire').set(api.auth).expect(200);
    expect(retired.body.retiredAt).toEqual(expect.any(String));
    const again = await request(api.app).post('/v1/packages/pkg_1/retire').set(api.auth).expect(200);
    expect(again.body.retiredAt).toBe(retired.body.retiredAt);

    const refused = await request(api.app)
      .post('/v1/tasks')
      .set(api.auth)
      .send({ packageId: 'pkg_1', target: { deviceIds: ['meter-r1'] } })
      .expect(422);
    expect(refused.body.detail).toBe('package pkg_1 is retired');
    expect(refused.body.errors[0]).toMatchObject({ path: 'packageId' });
    const { rows } = await api.db.query('select id from tasks');
    expect(rows).toEqual([]);
    await request(api.app).post('/v1/packages/pkg_nope/retire').set(api.auth).expect(404);
  });
});
