import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCredentials } from '../../src/mqtt/device-auth';
import {
  buildProgressReport,
  buildVersionReport,
  eventsUpTopic,
  parseDownlink,
} from '../../src/mqtt/ota-protocol';
import { freePort } from '../../src/stack/free-port';
import {
  deviceOperationWorkflowId,
  deviceUpgradeStatusQuery,
  upgradeResultReportedSignal,
} from '../../workflows/definitions';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import {
  startTestMinio,
  startTestMosquitto,
  startTestPostgres,
  startTestTemporal,
  type TestTemporal,
} from '../support/stack/components';
import type { RealStack } from '../support/stack/real-stack';

/**
 * Devices report their results while Temporal, and then the database, are down for a minute: every
 * result still reaches its upgrade, once. Before, the gateway acknowledged each report to the broker
 * first and dropped it when its signal or its database write failed for more than about 15 s: the
 * device, which really upgraded, failed a day later with "Wait for the device to report upgrade
 * result timeout".
 */

const OUTAGE_MS = 60_000;
const PRODUCT = { product: 'outage-meter', model: 'OM-1' };
const TARGET = '2.0.0';
const hour = new Date();

let temporalDataDir: string;
let temporalPort: number;
let temporal: TestTemporal;
let stack: RealStack;
let platform: TestPlatform;
let taskId: string;
const devices: MqttClient[] = [];

/** Seed-protocol devices that answer version queries and keep each upgrade event until told to report. */
const upgradeEvents = new Map<string, MqttClient>();

function credentialsOf(deviceId: string) {
  return deviceCredentials(deviceId, `secret-of-${deviceId}`, '0', hour);
}

async function connectDevice(deviceId: string): Promise<void> {
  const client = await mqtt.connectAsync(stack.mqtt.url, {
    ...credentialsOf(deviceId),
    reconnectPeriod: 1_000,
  });
  devices.push(client);
  client.on('message', (_topic, payload) => {
    const parsed = parseDownlink(deviceId, payload);
    if (!parsed.ok) return;
    for (const event of parsed.value) {
      if (event.type === 'version_query') {
        void client.publishAsync(
          eventsUpTopic(deviceId),
          JSON.stringify(buildVersionReport(deviceId, { firmwareVersion: '1.0.0' })),
          { qos: 1 },
        );
      }
      if (event.type === 'firmware_upgrade') upgradeEvents.set(deviceId, client);
    }
  });
}

async function reportSuccess(deviceId: string): Promise<void> {
  const client = upgradeEvents.get(deviceId);
  if (!client) throw new Error(`${deviceId} has no upgrade to report`);
  await client.publishAsync(
    eventsUpTopic(deviceId),
    JSON.stringify(buildProgressReport(deviceId, { resultCode: 0, progress: 100, version: TARGET })),
    { qos: 1 },
  );
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

beforeAll(async () => {
  temporalDataDir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-outage-temporal-'));
  temporalPort = await freePort();
  const ids = ['outage-a1', 'outage-a2', 'outage-b1', 'outage-b2'];
  const [started, minio, mosquitto, postgres] = await Promise.all([
    startTestTemporal({ dataDir: temporalDataDir, port: temporalPort }),
    startTestMinio(),
    startTestMosquitto(ids.map((id) => ({ username: id, password: credentialsOf(id).password }))),
    startTestPostgres(),
  ]);
  temporal = started;
  stack = {
    temporal,
    minio,
    mqtt: mosquitto,
    postgres,
    secretKey: randomBytes(32).toString('hex'),
    stop: async () => {
      await Promise.all([temporal.stop(), minio.stop(), mosquitto.stop(), postgres.stop()]);
    },
  };
  platform = await startTestPlatform(stack);
  for (const id of ids) {
    await platform.api.post('/v1/devices', { id, protocol: 'mqtt', ...PRODUCT, secret: `secret-of-${id}` });
    await connectDevice(id);
  }
  const form = new FormData();
  for (const [name, value] of Object.entries({ name: 'fw', version: TARGET, kind: 'firmware', ...PRODUCT }))
    form.set(name, value);
  form.set('file', new Blob([Buffer.alloc(1024, 7)]), 'fw.bin');
  const pkg = await platform.api.postForm<{ id: string }>('/v1/packages', form);
  ({ id: taskId } = await platform.api.post<{ id: string }>('/v1/tasks', {
    packageId: pkg.id,
    target: { deviceIds: ids },
  }));
  await until(() => upgradeEvents.size === ids.length, 'every device to receive its upgrade event');
  // The outages are to hit the results, not the deliveries: a delivery whose completion Temporal never
  // heard of is published again after its timeout, and a result received before that second
  // notification does not answer it (workflows/mqtt/mqtt-upgrade.ts).
  for (const id of ids) {
    const stepOf = () =>
      withUpgradeOf(id, async (upgrade) => (await upgrade.query(deviceUpgradeStatusQuery)).step);
    await until(
      async () => (await stepOf()) === 'downloading',
      `Temporal to know that ${id}'s upgrade was delivered`,
    );
  }
}, 180_000);

afterAll(async () => {
  await Promise.all(devices.map((device) => device.endAsync(true)));
  await platform?.stop();
  await stack?.stop();
  rmSync(temporalDataDir, { recursive: true, force: true });
}, 60_000);

async function outcomeOf(deviceId: string): Promise<string | null | undefined> {
  const page = await platform.api.get<{ items: Array<{ deviceId: string; outcome: string | null }> }>(
    `/v1/tasks/${taskId}/devices`,
  );
  return page.items.find((row) => row.deviceId === deviceId)?.outcome;
}

async function withUpgradeOf<T>(deviceId: string, use: (upgrade: WorkflowHandle) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: temporal.address });
  try {
    return await use(new Client({ connection }).workflow.getHandle(deviceOperationWorkflowId(deviceId)));
  } finally {
    await connection.close();
  }
}

async function resultSignals(deviceId: string): Promise<number> {
  const history = await withUpgradeOf(deviceId, (upgrade) => upgrade.fetchHistory());
  return (history.events ?? []).filter(
    (event) =>
      event.workflowExecutionSignaledEventAttributes?.signalName === upgradeResultReportedSignal.name,
  ).length;
}

describe('device results during outages', () => {
  it('reach their upgrades once after the Temporal server was down for a minute', async () => {
    await temporal.stop();
    await reportSuccess('outage-a1');
    await reportSuccess('outage-a2');
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    temporal = await startTestTemporal({ dataDir: temporalDataDir, port: temporalPort });

    for (const id of ['outage-a1', 'outage-a2']) {
      await until(async () => (await outcomeOf(id)) === 'succeeded', `${id} to succeed`);
      expect(await resultSignals(id)).toBe(1);
    }
  }, 300_000);

  it('reach their upgrades once after the database was down for a minute', async () => {
    const outage = await stack.postgres.interrupt();
    await reportSuccess('outage-b1');
    await reportSuccess('outage-b2');
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    await outage.start();

    for (const id of ['outage-b1', 'outage-b2']) {
      await until(async () => (await outcomeOf(id)) === 'succeeded', `${id} to succeed`);
      expect(await resultSignals(id)).toBe(1);
    }
  }, 300_000);
});
