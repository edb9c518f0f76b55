import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client';
import { deviceCredentials } from '../../src/mqtt/device-auth';
import { type SimulatedDeviceBehaviour, SimulatedMqttDevice } from '../../src/simulator/mqtt-device';
import { deviceOperationWorkflowId } from '../../workflows/definitions';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

/**
 * The MQTT flow of seed 001 end to end on the real stack: Temporal dev server, MinIO, PostgreSQL and
 * Mosquitto (or otaflow's embedded broker), otaflow started as `npm start` starts it, and devices
 * that speak the seed platform's device protocol over real sockets.
 */

const PRODUCT = { product: 'water-meter', model: 'WM-2' };
const TARGET = '2.0.0';
const TASK_DEADLINE_MS = 180_000;

interface TaskDevice {
  deviceId: string;
  step: string;
  outcome: string | null;
  failureCause: string | null;
  fromVersion: string | null;
}

async function uploadFirmware(
  api: ApiClient,
  content: Buffer,
  model = PRODUCT.model,
): Promise<{ id: string; sha256: string }> {
  const form = new FormData();
  form.set('name', 'meter firmware');
  form.set('version', TARGET);
  form.set('kind', 'firmware');
  form.set('product', PRODUCT.product);
  form.set('model', model);
  form.set('supportedSourceVersions', '1.0.0,1.1.0');
  form.set('file', new Blob([content]), 'wm2-2.0.0.bin');
  return api.postForm('/v1/packages', form);
}

async function waitForTask(api: ApiClient, taskId: string): Promise<Map<string, TaskDevice>> {
  const deadline = Date.now() + TASK_DEADLINE_MS;
  while (Date.now() < deadline) {
    const task = await api.get<{ state: string }>(`/v1/tasks/${taskId}`);
    if (task.state === 'completed' || task.state === 'cancelled') {
      const page = await api.get<{ items: TaskDevice[] }>(`/v1/tasks/${taskId}/devices?limit=500`);
      return new Map(page.items.map((row) => [row.deviceId, row]));
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`task ${taskId} did not finish within ${TASK_DEADLINE_MS} ms`);
}

describe('MQTT upgrades through Mosquitto, PostgreSQL, MinIO and the Temporal dev server', () => {
  // Mosquitto checks static password files, so the devices sign with a fixed hour (signType 0).
  const credentialsHour = new Date();
  const fleet: Array<{ id: string; firmwareVersion: string; behaviour: SimulatedDeviceBehaviour }> = [
    { id: 'wm-healthy', firmwareVersion: '1.0.0', behaviour: { dropConnectionOnceAt: 100_000 } },
    { id: 'wm-latest', firmwareVersion: TARGET, behaviour: {} },
    {
      id: 'wm-full',
      firmwareVersion: '1.1.0',
      behaviour: { failWith: { resultCode: 5, description: 'flash full' } },
    },
    { id: 'wm-corrupt', firmwareVersion: '1.0.0', behaviour: { corruptDownload: true } },
    { id: 'wm-ancient', firmwareVersion: '0.9.0', behaviour: {} },
  ];
  const secretOf = (deviceId: string) => `secret-of-${deviceId}-${credentialsHour.getTime()}`;
  let stack: RealStack;
  let platform: TestPlatform;
  const devices: SimulatedMqttDevice[] = [];

  beforeAll(async () => {
    stack = await startRealStack({
      deviceAccounts: fleet.map(({ id }) => {
        const { username, password } = deviceCredentials(id, secretOf(id), '0', credentialsHour);
        return { username, password };
      }),
    });
    platform = await startTestPlatform(stack);
  });

  afterAll(async () => {
    await Promise.all(devices.map((device) => device.stop()));
    await platform?.stop();
    await stack?.stop();
  });

  it('upgrades, skips, and fails each device with the seed cause, visible per device through the API', async () => {
    for (const device of fleet) {
      await platform.api.post('/v1/devices', {
        id: device.id,
        protocol: 'mqtt',
        ...PRODUCT,
        secret: secretOf(device.id),
      });
      const simulated = new SimulatedMqttDevice({
        deviceId: device.id,
        secret: secretOf(device.id),
        brokerUrl: stack.mqtt.url,
        firmwareVersion: device.firmwareVersion,
        credentialsHour,
        ...device.behaviour,
      });
      devices.push(simulated);
      await simulated.start();
    }
    const pkg = await uploadFirmware(platform.api, randomBytes(300_000));
    const task = await platform.api.post<{ id: string }>('/v1/tasks', {
      packageId: pkg.id,
      target: { deviceIds: fleet.map((device) => device.id) },
    });

    const results = await waitForTask(platform.api, task.id);

    expect(results.get('wm-healthy')).toMatchObject({
      outcome: 'succeeded',
      fromVersion: '1.0.0',
      failureCause: null,
    });
    expect(results.get('wm-latest')).toMatchObject({ outcome: 'already-latest', failureCause: null });
    expect(results.get('wm-full')).toMatchObject({
      outcome: 'failed',
      failureCause: 'Not enough storage for the new firmware package',
    });
    expect(results.get('wm-corrupt')).toMatchObject({
      outcome: 'failed',
      failureCause: 'Integrity check failure for new downloaded package',
    });
    expect(results.get('wm-ancient')).toMatchObject({
      outcome: 'failed',
      failureCause: 'Source version not supported by the package',
    });

    const healthy = devices.find((device) => device.deviceId === 'wm-healthy');
    expect(healthy?.firmwareVersion).toBe(TARGET);
    const registered = await platform.api.get<{ firmwareVersion: string; online: boolean }>(
      '/v1/devices/wm-healthy',
    );
    expect(registered).toMatchObject({ firmwareVersion: TARGET, online: true });

    const status = await platform.api.get<{ counts: { byOutcome: Record<string, number> } }>(
      `/v1/tasks/${task.id}`,
    );
    expect(status.counts.byOutcome).toEqual({ succeeded: 1, 'already-latest': 1, failed: 3 });

    // wm-latest answered its version query at once: the query completed after the answer had been
    // signalled, so the workflow started no timeout timer for it (a billed action saved).
    const connection = await Connection.connect({ address: stack.temporal.address });
    try {
      const history = await new Client({ connection }).workflow
        .getHandle(deviceOperationWorkflowId('wm-latest'))
        .fetchHistory();
      expect(history.events?.filter((event) => event.timerStartedEventAttributes)).toEqual([]);
    } finally {
      await connection.close();
    }
  });
});

/**
 * A device written only from the seed platform's public protocol, sharing no code with otaflow. Like
 * the platform's device SDKs it sends no SUBSCRIBE: the platform subscribes it implicitly.
 */
async function connectProtocolOnlyDevice(
  brokerUrl: string,
  deviceId: string,
  secret: string,
  firmwareVersion: string,
) {
  const hour = new Date().toISOString().replace(/[-T:]/g, '').slice(0, 10);
  const client = await mqtt.connectAsync(brokerUrl, {
    clientId: `${deviceId}_0_1_${hour}`,
    username: deviceId,
    password: createHmac('sha256', hour).update(secret).digest('hex'),
    reconnectPeriod: 0,
  });
  const up = (eventType: string, paras: object) =>
    client.publishAsync(
      `$oc/devices/${deviceId}/sys/events/up`,
      JSON.stringify({
        object_device_id: deviceId,
        services: [{ service_id: '$ota', event_type: eventType, paras }],
      }),
      { qos: 1 },
    );
  const state = { firmwareVersion, downloadedSha256: '' };
  client.on('message', async (_topic, payload) => {
    const message = JSON.parse(payload.toString());
    for (const service of message.services) {
      if (service.event_type === 'version_query')
        await up('version_report', { fw_version: state.firmwareVersion });
      if (service.event_type === 'firmware_upgrade') {
        const { url, access_token: token, sign, version } = service.paras;
        const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
        const body = Buffer.from(await response.arrayBuffer());
        state.downloadedSha256 = createHash('sha256').update(body).digest('hex');
        await up('upgrade_progress_report', { result_code: 0, progress: 50, version: state.firmwareVersion });
        if (state.downloadedSha256 !== sign) {
          await up('upgrade_progress_report', { result_code: 7, version: state.firmwareVersion });
          return;
        }
        state.firmwareVersion = version;
        await up('upgrade_progress_report', { result_code: 0, progress: 100, version });
      }
    }
  });
  return { client, state };
}

describe('MQTT upgrades through otaflow’s embedded broker', () => {
  let stack: RealStack;
  let platform: TestPlatform;

  beforeAll(async () => {
    stack = await startRealStack();
    platform = await startTestPlatform(stack, { embeddedBroker: true });
  });

  afterAll(async () => {
    await platform?.stop();
    await stack?.stop();
  });

  it('upgrades a device that speaks only the seed platform protocol, and refuses a wrong secret', async () => {
    const secret = 'seed-platform-device-secret';
    const model = 'WM-2-plain';
    await platform.api.post('/v1/devices', {
      id: 'plain-device',
      protocol: 'mqtt',
      ...PRODUCT,
      model,
      secret,
    });
    await expect(
      connectProtocolOnlyDevice(platform.addresses.mqtt, 'plain-device', 'not-the-secret', '1.0.0'),
    ).rejects.toThrow(/Bad username or password|Not authorized/i);

    const device = await connectProtocolOnlyDevice(platform.addresses.mqtt, 'plain-device', secret, '1.0.0');
    try {
      const content = randomBytes(64_000);
      const pkg = await uploadFirmware(platform.api, content, model);
      const task = await platform.api.post<{ id: string }>('/v1/tasks', {
        packageId: pkg.id,
        target: { deviceIds: ['plain-device'] },
      });
      const results = await waitForTask(platform.api, task.id);
      expect(results.get('plain-device')).toMatchObject({ outcome: 'succeeded', failureCause: null });
      expect(device.state.firmwareVersion).toBe(TARGET);
      expect(device.state.downloadedSha256).toBe(createHash('sha256').update(content).digest('hex'));
    } finally {
      await device.client.endAsync();
    }
  });

  it('fails a second task on a busy device with Task Conflict, and cancels the first', async () => {
    await platform.api.post('/v1/devices', {
      id: 'sleepy',
      protocol: 'mqtt',
      ...PRODUCT,
      model: 'WM-2-sleepy',
      secret: 'sleepy-secret-123',
    });
    const pkg = await uploadFirmware(platform.api, randomBytes(10_000), 'WM-2-sleepy');
    const first = await platform.api.post<{ id: string }>('/v1/tasks', {
      packageId: pkg.id,
      target: { deviceIds: ['sleepy'] },
    });
    // The device is offline: the first task's upgrade waits (up to 25 h) for it to come online.
    await expect
      .poll(
        async () =>
          (await platform.api.get<{ items: TaskDevice[] }>(`/v1/tasks/${first.id}/devices`)).items[0]?.step,
        {
          timeout: 30_000,
        },
      )
      .toBe('waiting-online');

    const second = await platform.api.post<{ id: string }>('/v1/tasks', {
      packageId: pkg.id,
      target: { deviceIds: ['sleepy'] },
    });
    const secondResults = await waitForTask(platform.api, second.id);
    expect(secondResults.get('sleepy')).toMatchObject({ outcome: 'failed', failureCause: 'Task Conflict' });

    await platform.api.post(`/v1/tasks/${first.id}/cancel`, {});
    const firstResults = await waitForTask(platform.api, first.id);
    expect(firstResults.get('sleepy')).toMatchObject({ outcome: 'cancelled' });
  });
});
