import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../../src/api/create-api';
import { brokerAuthHttpRouter } from '../../../src/api/routes/broker-auth';
import { createDeviceRegistry } from '../../../src/db/device-registry';
import { createDeviceAuthenticator, deviceCredentials } from '../../../src/mqtt/device-auth';
import { openTempDatabase } from '../db/temp-database';
import { testApiDeps, testApiKey, testSecrets } from './test-api';

const token = 'broker-auth-token-0123456789';
const service = { username: 'otaflow-gateway', password: 'gateway-password' };
const base = `/internal/mqtt-auth/${token}`;

function apiWith(db: Awaited<ReturnType<typeof openTempDatabase>>['db'], authToken?: string) {
  return createApi({
    ...testApiDeps(db),
    brokerAuth: authToken
      ? {
          token: authToken,
          authenticate: createDeviceAuthenticator({
            registry: createDeviceRegistry(db, testSecrets),
            serviceAccount: service,
          }),
          serviceUsername: service.username,
        }
      : undefined,
  });
}

let temp: Awaited<ReturnType<typeof openTempDatabase>>;
let app: ReturnType<typeof createApi>;
beforeAll(async () => {
  temp = await openTempDatabase();
  app = apiWith(temp.db, token);
  for (const id of ['meter-1', 'meter-2']) {
    await request(app)
      .post('/v1/devices')
      .set('authorization', `Bearer ${testApiKey}`)
      .send({ id, protocol: 'mqtt', product: 'meter', model: 'm1', secret: `${id}-secret` })
      .expect(201);
  }
}, 60_000);
afterAll(() => temp.dispose());

const login = (body: object) => request(app).post(`${base}/user`).send(body);
const acl = (username: string, topic: string, acc: number) =>
  request(app)
    .post(`${base}/acl`)
    .send({ username, clientid: `${username}-client`, topic, acc });

describe('user check (device login)', () => {
  it('allows a device with the right HMAC password', async () => {
    const { clientId, username, password } = deviceCredentials('meter-1', 'meter-1-secret');
    await login({ clientid: clientId, username, password }).expect(200);
  });

  it('denies a wrong password, a password made with another device secret and an unknown device', async () => {
    const right = deviceCredentials('meter-1', 'meter-1-secret');
    await login({ clientid: right.clientId, username: right.username, password: 'f'.repeat(64) }).expect(403);
    const other = deviceCredentials('meter-1', 'meter-2-secret');
    await login({ clientid: other.clientId, username: other.username, password: other.password }).expect(403);
    const unknown = deviceCredentials('meter-9', 'meter-9-secret');
    const refused = await login({
      clientid: unknown.clientId,
      username: unknown.username,
      password: unknown.password,
    }).expect(403);
    expect(refused.body).toEqual({ ok: false, error: "unknown or disabled device 'meter-9'" });
  });

  it('allows the service account with its password only', async () => {
    await login({ clientid: 'gateway-1', ...service }).expect(200);
    await login({ clientid: 'gateway-1', username: service.username, password: 'guess-guess' }).expect(403);
  });
});

describe('superuser check', () => {
  it('makes the service account superuser and no device', async () => {
    await request(app).post(`${base}/superuser`).send({ username: service.username }).expect(200);
    await request(app).post(`${base}/superuser`).send({ username: 'meter-1' }).expect(403);
  });
});

describe('acl check', () => {
  it('lets a device publish and subscribe to its own topics', async () => {
    await acl('meter-1', '$oc/devices/meter-1/sys/events/up', 2).expect(200);
    await acl('meter-1', '$oc/devices/meter-1/sys/events/down', 4).expect(200);
    await acl('meter-1', '$oc/devices/meter-1/sys/#', 4).expect(200);
    await acl('meter-1', '$oc/devices/meter-1/sys/events/down', 1).expect(200);
  });

  it("refuses another device's topics and anything outside $oc/devices/{id}/sys for publishing", async () => {
    await acl('meter-1', '$oc/devices/meter-2/sys/events/up', 2).expect(403);
    await acl('meter-1', '$oc/devices/meter-2/sys/events/down', 4).expect(403);
    await acl('meter-1', '$oc/devices/meter-2/sys/events/down', 1).expect(403);
    await acl('meter-1', '$oc/devices/+/sys/events/down', 4).expect(403);
    await acl('meter-1', '$oc/devices/meter-1/other', 2).expect(403);
    await acl('meter-1', '$oc/devices/meter-1/sys/events/up', 3).expect(200);
    await acl('meter-1', '#', 4).expect(403);
  });

  it('lets the service account use every device’s sys topics as on the embedded broker', async () => {
    await acl(service.username, '$oc/devices/meter-2/sys/events/down', 2).expect(200);
    await acl(service.username, '$oc/devices/+/sys/events/up', 4).expect(200);
  });

  it("lets the service account, and no device, read what otaflow's plugin moves, shared or not", async () => {
    await acl(service.username, 'otaflow/uplinks/+', 4).expect(200);
    await acl(service.username, '$share/otaflow-gateways/otaflow/uplinks/+', 4).expect(200);
    await acl(service.username, '$share/otaflow-gateways/$oc/devices/+/sys/events/up', 4).expect(200);
    await acl(service.username, 'otaflow/uplinks/meter-2', 1).expect(200);
    await acl(service.username, 'otaflow/presence/+', 4).expect(200);
    await acl(service.username, 'otaflow/uplinks/#', 4).expect(403);
    await acl(service.username, 'otaflow/uplinks/meter-2', 2).expect(403);
    await acl('meter-1', 'otaflow/uplinks/meter-1', 1).expect(403);
    await acl('meter-1', 'otaflow/uplinks/meter-1', 2).expect(403);
    await acl('meter-1', '$share/g/$oc/devices/meter-1/sys/events/down', 4).expect(403);
    await acl('meter-1', 'otaflow/presence/meter-1', 2).expect(403);
  });
});

describe('protection and input', () => {
  it('refuses requests without the right token in the path', async () => {
    const { clientId, username, password } = deviceCredentials('meter-1', 'meter-1-secret');
    const body = { clientid: clientId, username, password };
    await request(app).post('/internal/mqtt-auth/user').send(body).expect(403);
    const wrong = await request(app)
      .post('/internal/mqtt-auth/not-the-token-at-all/user')
      .send(body)
      .expect(403)
      .expect('content-type', /application\/problem\+json/);
    expect(wrong.body.detail).toBe('wrong or missing MQTT auth token in the path');
  });

  it('is not mounted at all without a configured token', async () => {
    const { clientId, username, password } = deviceCredentials('meter-1', 'meter-1-secret');
    await request(apiWith(temp.db))
      .post(`${base}/user`)
      .send({ clientid: clientId, username, password })
      .expect(404);
  });

  it('answers bad or missing parameters with 400 naming them', async () => {
    const missing = await login({ username: 'meter-1' }).expect(400);
    expect(missing.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['clientid', 'password']);
    const badAcc = await acl('meter-1', '$oc/devices/meter-1/sys/events/up', 7).expect(400);
    expect(badAcc.body.errors.map((e: { path: string }) => e.path)).toEqual(['acc']);
    await request(app)
      .post(`${base}/acl`)
      .set('content-type', 'application/json')
      .send('{"username":')
      .expect(400);
    await request(app).post(`${base}/superuser`).expect(400);
  });
});

describe('failures', () => {
  it('answers 500 when the registry fails, logging neither the token nor the password', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const failing = express().use(
      '/auth',
      brokerAuthHttpRouter({
        token,
        serviceUsername: service.username,
        authenticate: async () => {
          throw new Error('database unavailable');
        },
        log,
      }),
    );
    await request(failing)
      .post(`/auth/${token}/user`)
      .send({ clientid: 'meter-1_0_0_2025060112', username: 'meter-1', password: 'device-hmac-password' })
      .expect(500);
    expect(lines.join('')).toContain('database unavailable');
    expect(lines.join('')).not.toContain(token);
    expect(lines.join('')).not.toContain('device-hmac-password');
  });
});
