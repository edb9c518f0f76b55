import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/api/auth';
import type { ApiClient } from '../../src/cli/api-client';
import { deviceCredentials } from '../../src/mqtt/device-auth';
import type { EventEnvelope } from '../../src/mqtt/ota-protocol';
import { SimulatedLwm2mDevice } from '../../src/simulator/lwm2m-device';
import { SimulatedMqttDevice } from '../../src/simulator/mqtt-device';
import { freePort } from '../../src/stack/free-port';
import {
  deviceOperationWorkflowId,
  upgradeResultReportedSignal,
  versionReportedSignal,
} from '../../workflows/definitions';
import { type PlatformChild, type RoleProcesses, roleProcesses } from '../support/platform-child-process';
import { outcomesOf, runTaskToCompletion, uploadFirmware } from '../support/rollout';
import { type RealStack, stackEnvironment, startRealStack } from '../support/stack/real-stack';

/**
 * otaflow split by OTAFLOW_ROLES over four processes on one Temporal, PostgreSQL, MinIO and
 * Mosquitto, as docs/deployment.md deploys it: the API (with the webhook dispatcher), the workers,
 * the gateways, and a second pair of gateways. Each serves only what its roles serve; MQTT and LwM2M
 * devices upgrade through them together, with two MQTT gateways on the broker's shared subscription
 * each device report becomes one signal (as the workflows' histories show), and an LwM2M device that
 * registers again through the other gateway takes its commands there.
 */

const PRODUCT = { product: 'split-meter', model: 'SM-1' };
const TARGET = '2.0.0';

describe('otaflow split by role', () => {
  const credentialsHour = new Date();
  const mqttIds = ['split-mqtt-1', 'split-mqtt-2', 'split-mqtt-3', 'split-mqtt-4'];
  const lwm2mId = 'split-lwm2m';
  const secretOf = (deviceId: string) => `secret-of-${deviceId}-${credentialsHour.getTime()}`;
  let stack: RealStack;
  let front: PlatformChild;
  let workers: PlatformChild;
  let gateways: PlatformChild;
  let secondGateways: PlatformChild;
  let api: ApiClient;
  let processes: RoleProcesses;
  const stops: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    stack = await startRealStack({
      deviceAccounts: mqttIds.map((id) => deviceCredentials(id, secretOf(id), '0', credentialsHour)),
    });
    // What every process shares: the stack, the keys, and the API address download URLs name.
    const shared: NodeJS.ProcessEnv = {
      ...stackEnvironment(stack, await freePort()),
      OTAFLOW_TLS: 'off',
      OTAFLOW_API_KEY: generateApiKey(),
      LWM2M_HOST: '127.0.0.1',
      LWM2M_PORT: '0',
      LWM2M_DTLS: 'off',
    };
    processes = roleProcesses(shared);
    front = await processes.start('api,webhooks');
    workers = await processes.start('upgrade-worker,task-worker');
    gateways = await processes.start('mqtt-gateway,lwm2m-gateway', { OTAFLOW_GATEWAY_ID: 'split-gateway-1' });
    secondGateways = await processes.start('mqtt-gateway,lwm2m-gateway', {
      OTAFLOW_GATEWAY_ID: 'split-gateway-2',
    });
    if (!front.api) throw new Error('the API process serves no API');
    api = front.api;
  }, 240_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
    await processes?.stopAll();
    await stack?.stop();
  });

  it('serves from each process only what its roles serve', async () => {
    expect(front.addresses.api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(front.addresses.health).toBeUndefined();
    for (const { addresses } of [workers, gateways]) {
      const answer = await fetch(`${addresses.health}/healthz`);
      expect(answer.status).toBe(200);
    }
    expect(await (await fetch(`${workers.addresses.health}/healthz`)).json()).toEqual({
      status: 'ok',
      roles: ['upgrade-worker', 'task-worker'],
    });
    // Each process checks what it depends on: the gateways also their broker and the package store.
    const readiness = async (url: string) => {
      const answer = await fetch(url);
      const body = (await answer.json()) as { status: string; dependencies: object };
      return {
        code: answer.status,
        status: body.status,
        dependencies: Object.keys(body.dependencies).sort(),
      };
    };
    expect(await readiness(`${workers.addresses.health}/readyz`)).toEqual({
      code: 200,
      status: 'ready',
      dependencies: ['database', 'temporal'],
    });
    expect(await readiness(`${gateways.addresses.health}/readyz`)).toEqual({
      code: 200,
      status: 'ready',
      dependencies: ['database', 'mqtt-broker', 'package-store', 'temporal'],
    });
    expect(await readiness(`${front.addresses.api}/readyz`)).toEqual({
      code: 200,
      status: 'ready',
      dependencies: ['database', 'package-store', 'temporal'],
    });
    expect(front.addresses.lwm2m).toBeUndefined();
    expect(workers.addresses.api).toBeUndefined();
    expect(workers.addresses.lwm2m).toBeUndefined();
    expect(gateways.addresses.api).toBeUndefined();
    expect(gateways.addresses.lwm2m).toMatch(/^coap:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses to start a process whose secret key is not the one the others share', async () => {
    await expect(
      processes.start('webhooks', { OTAFLOW_SECRET_KEY: randomBytes(32).toString('hex') }),
    ).rejects.toThrow(/OTAFLOW_SECRET_KEY is not the key this database's secrets are sealed with/);
  }, 90_000);

  it('upgrades MQTT and LwM2M devices through them, each report signalled once', async () => {
    const lwm2mAddress = gateways.addresses.lwm2m;
    if (!lwm2mAddress) throw new Error('no LwM2M gateway');
    for (const id of mqttIds) {
      await api.post('/v1/devices', { id, protocol: 'mqtt', ...PRODUCT, secret: secretOf(id) });
    }
    await api.post('/v1/devices', { id: lwm2mId, protocol: 'lwm2m', ...PRODUCT, lwm2mSecurity: 'none' });
    const sentReports = new Map<string, { versions: number; results: number }>();
    const mqttDevices = mqttIds.map((id) => {
      const device = new SimulatedMqttDevice({
        deviceId: id,
        secret: secretOf(id),
        brokerUrl: stack.mqtt.url,
        firmwareVersion: '1.0.0',
        credentialsHour,
      });
      const sent = { versions: 0, results: 0 };
      sentReports.set(id, sent);
      device.on('uplink', (message: EventEnvelope) => {
        for (const service of message.services) {
          if (service.event_type === 'version_report') sent.versions++;
          const { progress, result_code: resultCode } = service.paras as {
            progress?: number;
            result_code?: number;
          };
          if (
            service.event_type === 'upgrade_progress_report' &&
            (resultCode !== 0 || (progress ?? 100) >= 100)
          ) {
            sent.results++;
          }
        }
      });
      return device;
    });
    const lwm2mDevice = new SimulatedLwm2mDevice({
      endpoint: lwm2mId,
      serverUri: lwm2mAddress,
      cellId: 310,
      firmwareVersion: '1.0.0',
      updatedVersion: TARGET,
    });
    stops.push(...mqttDevices.map((device) => () => device.stop()), () => lwm2mDevice.stop());
    await Promise.all([...mqttDevices.map((device) => device.start()), lwm2mDevice.start()]);

    const pkg = await uploadFirmware(api, { ...PRODUCT, version: TARGET, bytes: 16 * 1024 });
    const taskId = await runTaskToCompletion(api, pkg.id, [...mqttIds, lwm2mId], 120_000);
    expect(await outcomesOf(api, taskId)).toEqual({
      ...Object.fromEntries(mqttIds.map((id) => [id, 'succeeded'])),
      [lwm2mId]: 'succeeded',
    });
    expect([...mqttDevices, lwm2mDevice].map((device) => device.firmwareVersion)).toEqual(
      [...mqttIds, lwm2mId].map(() => TARGET),
    );

    // Two MQTT gateways, one signal per report: each device sent one result, and versions when asked.
    const connection = await Connection.connect({ address: stack.temporal.address });
    try {
      const client = new Client({ connection });
      for (const id of mqttIds) {
        const history = await client.workflow.getHandle(deviceOperationWorkflowId(id)).fetchHistory();
        const signalled = (name: string) =>
          (history.events ?? []).filter(
            (event) => event.workflowExecutionSignaledEventAttributes?.signalName === name,
          ).length;
        const sent = sentReports.get(id);
        expect(sent?.results, id).toBe(1);
        expect(signalled(upgradeResultReportedSignal.name), id).toBe(1);
        expect(signalled(versionReportedSignal.name), id).toBeGreaterThan(0);
        expect(signalled(versionReportedSignal.name), id).toBeLessThanOrEqual(sent?.versions ?? 0);
      }
    } finally {
      await connection.close();
    }
  }, 150_000);

  it('moves an LwM2M device that registers again through another gateway: its commands follow it', async () => {
    const id = 'split-lwm2m-moving';
    const [first, second] = [gateways.addresses.lwm2m, secondGateways.addresses.lwm2m];
    if (!first || !second) throw new Error('two LwM2M gateways expected');
    await api.post('/v1/devices', {
      id,
      protocol: 'lwm2m',
      ...PRODUCT,
      model: 'SM-2',
      lwm2mSecurity: 'none',
    });
    const device = (serverUri: string, lifetimeSeconds: number) =>
      new SimulatedLwm2mDevice({
        endpoint: id,
        serverUri,
        cellId: 311,
        firmwareVersion: '1.0.0',
        updatedVersion: TARGET,
        lifetimeSeconds,
      });
    // Registered through the first gateway, then gone quiet (a new NAT binding) and registered again
    // through the second; the first registration's lifetime runs out meanwhile.
    const before = device(first, 5);
    await before.start();
    await before.powerOff();
    const after = device(second, 300);
    stops.push(() => after.stop());
    await after.start();
    await new Promise((resolve) => setTimeout(resolve, 8_000));
    expect((await api.get<{ online: boolean }>(`/v1/devices/${id}`)).online).toBe(true);

    const pkg = await uploadFirmware(api, { ...PRODUCT, model: 'SM-2', version: TARGET });
    await runTaskToCompletion(api, pkg.id, [id], 60_000);
    expect(after.firmwareVersion).toBe(TARGET);
  }, 120_000);
});
