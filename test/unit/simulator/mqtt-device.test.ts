import { once } from 'node:events';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMqttCommandActivities } from '../../../activities/mqtt-commands';
import { createVersionAnswers, signallingVersionAnswers } from '../../../src/mqtt/device-answers';
import { createDeviceAuthenticator } from '../../../src/mqtt/device-auth';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../../src/mqtt/embedded-broker';
import { type MqttGateway, startMqttGateway } from '../../../src/mqtt/gateway';
import { type SimulatedDeviceBehaviour, SimulatedMqttDevice } from '../../../src/simulator/mqtt-device';
import type { PackageInfo, PackageKind } from '../../../workflows/definitions';
import { eventually, InMemoryRegistry, InMemoryUplinkInbox, RecordingSink } from '../mqtt/fakes';
import { type PackageServer, startPackageServer } from './package-server';

const log = pino({ level: 'silent' });
const service = { username: 'otaflow-gateway', password: 'service-password' };

let registry: InMemoryRegistry;
let sink: RecordingSink;
let broker: EmbeddedBroker;
let gateway: MqttGateway;
let packages: PackageServer;
let commands: ReturnType<typeof createMqttCommandActivities>;
const versionAnswers = createVersionAnswers();
/** The steps the combined commands record for the API, as `recordUpgradeStep` receives them. */
const recordedSteps: Array<{ deviceId: string; step: string; details?: { fromVersion?: string } }> = [];
const devices: SimulatedMqttDevice[] = [];
let nextDevice = 0;

beforeAll(async () => {
  registry = new InMemoryRegistry();
  sink = new RecordingSink();
  broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    authenticate: createDeviceAuthenticator({ registry, serviceAccount: service }),
    log,
  });
  gateway = await startMqttGateway({
    brokerUrl: broker.url,
    clientId: 'otaflow-gateway-test',
    ...service,
    registry,
    sink: signallingVersionAnswers(sink, versionAnswers),
    inbox: new InMemoryUplinkInbox(),
    presence: broker,
    log,
  });
  packages = await startPackageServer();
  commands = createMqttCommandActivities({
    gateway,
    registry,
    platform: {
      recordUpgradeStep: async (_taskId, deviceId, step, details) => {
        recordedSteps.push(details ? { deviceId, step, details } : { deviceId, step });
      },
      issueDownloadToken: async () => {
        const { url, accessToken, expiresAt } = delivery();
        return { url, accessToken, expiresAt };
      },
    },
    versionAnswers,
  });
});

afterEach(async () => {
  await Promise.all(devices.splice(0).map((device) => device.stop()));
});

afterAll(async () => {
  await gateway.stop();
  await broker.stop();
  await packages.close();
});

async function startDevice(behaviour: SimulatedDeviceBehaviour = {}): Promise<SimulatedMqttDevice> {
  nextDevice += 1;
  const deviceId = `sim_${nextDevice}`;
  registry.secrets.set(deviceId, `secret-${nextDevice}`);
  const device = new SimulatedMqttDevice({
    ...behaviour,
    deviceId,
    secret: `secret-${nextDevice}`,
    brokerUrl: broker.url,
    softwareVersion: '1.0.0',
    firmwareVersion: 'fw-1',
    log,
  });
  devices.push(device);
  await device.start();
  if (!behaviour.offline) await eventually(() => expect(registry.online.get(deviceId)).toBe(true));
  return device;
}

function delivery(overrides: Partial<{ sha256: string }> = {}) {
  return {
    url: packages.url,
    accessToken: packages.token,
    expiresAt: Math.floor(Date.now() / 1000) + 86_400,
    version: '2.0.0',
    fileName: 'pkg.bin',
    size: packages.body.length,
    sha256: packages.sha256,
    ...overrides,
  };
}

function packageOf(kind: PackageKind): PackageInfo {
  const { version, fileName, size, sha256 } = delivery();
  return { id: 'pkg-1', kind, version, fileName, size, sha256, supportedSourceVersions: [] };
}

/** Seed steps 4 and 6–7, as the workflow asks the gateway for them. */
const queryVersion = (deviceId: string) =>
  commands.queryVersionIfOnline({ taskId: 'task-1', deviceId }, 'fail');
const deliver = (deviceId: string, kind: PackageKind) =>
  commands.deliverUpgrade({ taskId: 'task-1', deviceId }, packageOf(kind), '1.0.0');

function stepsOf(deviceId: string) {
  return recordedSteps.filter((entry) => entry.deviceId === deviceId).map(({ deviceId: _, ...step }) => step);
}

function signalsOf(deviceId: string) {
  return sink.calls.filter((call) => call.deviceId === deviceId);
}

describe('simulated MQTT device through the gateway', () => {
  it('answers a version query with its versions', async () => {
    const device = await startDevice();
    await queryVersion(device.deviceId);
    await eventually(() =>
      expect(signalsOf(device.deviceId)).toContainEqual({
        signal: 'versionReported',
        deviceId: device.deviceId,
        report: { softwareVersion: '1.0.0', firmwareVersion: 'fw-1' },
      }),
    );
  });

  it('stays silent when told to, and the query still completes, after its one-second wait for the answer', async () => {
    const device = await startDevice({ silent: true });
    const queried = once(device, 'version-query');
    const sentAt = Date.now();
    await queryVersion(device.deviceId);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(990);
    await queried;
    expect(signalsOf(device.deviceId).map((call) => call.signal)).toEqual(['deviceOnline']);
  });

  it('upgrades software: downloads, reports progress, and reports success with the new version', async () => {
    const device = await startDevice({ dropConnectionOnceAt: 4096 });
    const resumed = once(device, 'download-resumed');
    await deliver(device.deviceId, 'software');
    expect(await resumed).toEqual([4096]);
    await eventually(() =>
      expect(signalsOf(device.deviceId)).toContainEqual({
        signal: 'upgradeResultReported',
        deviceId: device.deviceId,
        report: {
          resultCode: 0,
          version: '2.0.0',
          description: 'upgrade success',
          receivedAt: expect.any(String),
        },
      }),
    );
    const progress = registry.progress
      .filter((entry) => entry.deviceId === device.deviceId)
      .map((e) => e.progress);
    expect(progress).toEqual([10, 50, 100]);
    expect(device.softwareVersion).toBe('2.0.0');
    expect(device.firmwareVersion).toBe('fw-1');
  });

  it('reports an integrity failure (7) when the download is corrupted', async () => {
    const device = await startDevice({ corruptDownload: true });
    await deliver(device.deviceId, 'firmware');
    await eventually(() =>
      expect(signalsOf(device.deviceId)).toContainEqual(
        expect.objectContaining({
          signal: 'upgradeResultReported',
          report: expect.objectContaining({ resultCode: 7 }),
        }),
      ),
    );
    expect(device.firmwareVersion).toBe('fw-1');
  });

  it('reports an injected result code (5: not enough space) without downloading', async () => {
    const device = await startDevice({ failWith: { resultCode: 5, description: 'flash full' } });
    const requestsBefore = packages.ranges.length;
    await deliver(device.deviceId, 'firmware');
    await eventually(() =>
      expect(signalsOf(device.deviceId)).toContainEqual({
        signal: 'upgradeResultReported',
        deviceId: device.deviceId,
        report: { resultCode: 5, version: 'fw-1', description: 'flash full', receivedAt: expect.any(String) },
      }),
    );
    expect(packages.ranges.length).toBe(requestsBefore);
  });

  it('reports success with its old version when told to report the wrong version', async () => {
    const device = await startDevice({ reportWrongVersion: true });
    await deliver(device.deviceId, 'software');
    await eventually(() =>
      expect(signalsOf(device.deviceId)).toContainEqual(
        expect.objectContaining({
          report: {
            resultCode: 0,
            version: '1.0.0',
            description: 'upgrade success',
            receivedAt: expect.any(String),
          },
        }),
      ),
    );
  });

  it('refuses commands to an offline device with a non-retryable DeviceNotOnline failure', async () => {
    const device = await startDevice({ offline: true });
    await expect(queryVersion(device.deviceId)).rejects.toMatchObject({
      type: 'DeviceNotOnline',
      nonRetryable: true,
    });
    await device.connect();
    await eventually(() =>
      expect(signalsOf(device.deviceId).map((call) => call.signal)).toEqual(['deviceOnline']),
    );
    await expect(queryVersion(device.deviceId)).resolves.toBe(true);
  });

  describe("mqttUpgrade's combined commands", () => {
    const upgradeOf = (deviceId: string) => ({ taskId: 'task-1', deviceId });

    it('queries an online device after recording step querying-version, and completes once its answer is signalled', async () => {
      const device = await startDevice();
      await expect(commands.queryVersionIfOnline(upgradeOf(device.deviceId), 'wait')).resolves.toBe(true);
      expect(stepsOf(device.deviceId)).toEqual([{ step: 'querying-version' }]);
      // Already there: the workflow task that sees the query done sees the answer too.
      expect(signalsOf(device.deviceId)).toContainEqual({
        signal: 'versionReported',
        deviceId: device.deviceId,
        report: { softwareVersion: '1.0.0', firmwareVersion: 'fw-1' },
      });
    });

    it('records an offline device as waiting-online without sending, or refuses it when told to fail', async () => {
      const device = await startDevice({ offline: true });
      await expect(commands.queryVersionIfOnline(upgradeOf(device.deviceId), 'wait')).resolves.toBe(false);
      expect(stepsOf(device.deviceId)).toEqual([{ step: 'waiting-online' }]);
      await expect(commands.queryVersionIfOnline(upgradeOf(device.deviceId), 'fail')).rejects.toMatchObject({
        type: 'DeviceNotOnline',
        nonRetryable: true,
      });
      expect(stepsOf(device.deviceId)).toEqual([{ step: 'waiting-online' }]);
    });

    it('delivers URL, token and package information, then records step downloading', async () => {
      const device = await startDevice();
      await commands.deliverUpgrade(upgradeOf(device.deviceId), packageOf('software'), '1.0.0');
      expect(stepsOf(device.deviceId)).toEqual([{ step: 'downloading', details: { fromVersion: '1.0.0' } }]);
      await eventually(() =>
        expect(signalsOf(device.deviceId)).toContainEqual({
          signal: 'upgradeResultReported',
          deviceId: device.deviceId,
          report: {
            resultCode: 0,
            version: '2.0.0',
            description: 'upgrade success',
            receivedAt: expect.any(String),
          },
        }),
      );
      expect(device.softwareVersion).toBe('2.0.0');
    });

    it('delivers nothing to a device that went offline', async () => {
      const device = await startDevice({ offline: true });
      await expect(
        commands.deliverUpgrade(upgradeOf(device.deviceId), packageOf('software'), '1.0.0'),
      ).rejects.toMatchObject({
        type: 'DeviceNotOnline',
      });
      expect(stepsOf(device.deviceId)).toEqual([]);
    });
  });
});
