import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/api/auth';
import type { ApiClient } from '../../src/cli/api-client';
import { deviceCredentials } from '../../src/mqtt/device-auth';
import { SimulatedLwm2mDevice } from '../../src/simulator/lwm2m-device';
import { SimulatedMqttDevice } from '../../src/simulator/mqtt-device';
import { freePort } from '../../src/stack/free-port';
import { type PlatformChild, startPlatformChild, stopGracefully } from '../support/platform-child-process';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

/**
 * otaflow split by OTAFLOW_ROLES over three processes on one Temporal, PostgreSQL, MinIO and
 * Mosquitto, as docs/deployment.md deploys it: the API (with the webhook dispatcher), the workers,
 * and the gateways. Each serves only what its roles serve, and an MQTT and an LwM2M device upgrade
 * through them together.
 */

const PRODUCT = { product: 'split-meter', model: 'SM-1' };
const TARGET = '2.0.0';

describe('otaflow split by role', () => {
  const credentialsHour = new Date();
  const mqttId = 'split-mqtt';
  const lwm2mId = 'split-lwm2m';
  const secret = `secret-of-${mqttId}-${credentialsHour.getTime()}`;
  let stack: RealStack;
  let front: PlatformChild;
  let workers: PlatformChild;
  let gateways: PlatformChild;
  let api: ApiClient;
  let start: (roles: string, env?: NodeJS.ProcessEnv) => Promise<PlatformChild>;
  const dataDirs: string[] = [];
  const stops: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    stack = await startRealStack({
      deviceAccounts: [deviceCredentials(mqttId, secret, '0', credentialsHour)],
    });
    const apiPort = await freePort();
    // What every process shares: the stack, the keys, and the API address download URLs name.
    const shared: NodeJS.ProcessEnv = {
      OTAFLOW_API_PORT: String(apiPort),
      OTAFLOW_TLS: 'off',
      OTAFLOW_SECRET_KEY: randomBytes(32).toString('hex'),
      OTAFLOW_API_KEY: generateApiKey(),
      TEMPORAL_ADDRESS: stack.temporal.address,
      DATABASE_URL: stack.postgres.url,
      MINIO_ENDPOINT: stack.minio.endpoint,
      MINIO_ACCESS_KEY: stack.minio.accessKey,
      MINIO_SECRET_KEY: stack.minio.secretKey,
      MINIO_BUCKET: `otaflow-test-${apiPort}`,
      MQTT_URL: stack.mqtt.url,
      MQTT_SERVICE_USERNAME: stack.mqtt.serviceAccount.username,
      MQTT_SERVICE_PASSWORD: stack.mqtt.serviceAccount.password,
      LWM2M_HOST: '127.0.0.1',
      LWM2M_PORT: '0',
      LWM2M_DTLS: 'off',
    };
    start = async (roles: string, env: NodeJS.ProcessEnv = {}) => {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-split-'));
      dataDirs.push(dataDir);
      const child = await startPlatformChild({
        ...shared,
        ...env,
        OTAFLOW_ROLES: roles,
        OTAFLOW_DATA_DIR: dataDir,
      });
      stops.push(() => stopGracefully(child.process));
      return child;
    };
    front = await start('api,webhooks');
    workers = await start('upgrade-worker,task-worker');
    gateways = await start('mqtt-gateway,lwm2m-gateway', { OTAFLOW_GATEWAY_ID: 'split-gateway-1' });
    if (!front.api) throw new Error('the API process serves no API');
    api = front.api;
  }, 240_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
    await stack?.stop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('serves from each process only what its roles serve', () => {
    expect(front.addresses.api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(front.addresses.lwm2m).toBeUndefined();
    expect(workers.addresses.api).toBeUndefined();
    expect(workers.addresses.lwm2m).toBeUndefined();
    expect(gateways.addresses.api).toBeUndefined();
    expect(gateways.addresses.lwm2m).toMatch(/^coap:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses to start a process whose secret key is not the one the others share', async () => {
    await expect(start('webhooks', { OTAFLOW_SECRET_KEY: randomBytes(32).toString('hex') })).rejects.toThrow(
      /OTAFLOW_SECRET_KEY is not the key this database's secrets are sealed with/,
    );
  }, 90_000);

  it('upgrades an MQTT and an LwM2M device through the three processes', async () => {
    const lwm2mAddress = gateways.addresses.lwm2m;
    if (!lwm2mAddress) throw new Error('no LwM2M gateway');
    await api.post('/v1/devices', { id: mqttId, protocol: 'mqtt', ...PRODUCT, secret });
    await api.post('/v1/devices', { id: lwm2mId, protocol: 'lwm2m', ...PRODUCT, lwm2mSecurity: 'none' });
    const mqttDevice = new SimulatedMqttDevice({
      deviceId: mqttId,
      secret,
      brokerUrl: stack.mqtt.url,
      firmwareVersion: '1.0.0',
      credentialsHour,
    });
    const lwm2mDevice = new SimulatedLwm2mDevice({
      endpoint: lwm2mId,
      serverUri: lwm2mAddress,
      cellId: 310,
      firmwareVersion: '1.0.0',
      updatedVersion: TARGET,
    });
    stops.push(
      () => mqttDevice.stop(),
      () => lwm2mDevice.stop(),
    );
    await Promise.all([mqttDevice.start(), lwm2mDevice.start()]);

    const form = new FormData();
    form.set('name', 'split-meter firmware');
    form.set('version', TARGET);
    form.set('kind', 'firmware');
    form.set('product', PRODUCT.product);
    form.set('model', PRODUCT.model);
    form.set('file', new Blob([randomBytes(16 * 1024)]), 'sm1-2.0.0.bin');
    const pkg = await api.postForm<{ id: string }>('/v1/packages', form);
    const task = await api.post<{ id: string }>('/v1/tasks', {
      packageId: pkg.id,
      target: { deviceIds: [mqttId, lwm2mId] },
    });
    await expect
      .poll(async () => (await api.get<{ state: string }>(`/v1/tasks/${task.id}`)).state, {
        timeout: 120_000,
        interval: 500,
      })
      .toBe('completed');
    const rows = await api.get<{ items: { deviceId: string; outcome: string }[] }>(
      `/v1/tasks/${task.id}/devices`,
    );
    expect(Object.fromEntries(rows.items.map((row) => [row.deviceId, row.outcome]))).toEqual({
      [mqttId]: 'succeeded',
      [lwm2mId]: 'succeeded',
    });
    expect([mqttDevice.firmwareVersion, lwm2mDevice.firmwareVersion]).toEqual([TARGET, TARGET]);
  }, 150_000);
});
