import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDeviceAuthenticator, deviceCredentials } from '../../../src/mqtt/device-auth';
import { type EmbeddedBroker, startEmbeddedBroker } from '../../../src/mqtt/embedded-broker';
import { type MqttGateway, startMqttGateway } from '../../../src/mqtt/gateway';
import {
  buildProgressReport,
  buildVersionQuery,
  buildVersionReport,
  eventsDownTopic,
  eventsUpTopic,
} from '../../../src/mqtt/ota-protocol';
import { eventually, InMemoryRegistry, InMemoryUplinkInbox, RecordingSink } from './fakes';

const log = pino({ level: 'silent' });
const service = { username: 'otaflow-gateway', password: 'service-password' };

let registry: InMemoryRegistry;
let sink: RecordingSink;
let broker: EmbeddedBroker;
let gateway: MqttGateway;
const clients: MqttClient[] = [];

async function connectDevice(deviceId: string, secret: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(broker.url, {
    ...deviceCredentials(deviceId, secret),
    reconnectPeriod: 0,
  });
  clients.push(client);
  return client;
}

function publishUp(client: MqttClient, deviceId: string, message: unknown) {
  return client.publishAsync(eventsUpTopic(deviceId), JSON.stringify(message), { qos: 1 });
}

beforeAll(async () => {
  registry = new InMemoryRegistry();
  registry.secrets.set('dev-a', 'secret-a');
  registry.secrets.set('dev-b', 'secret-b');
  broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    authenticate: createDeviceAuthenticator({ registry, serviceAccount: service }),
    log,
  });
});

beforeEach(async () => {
  sink = new RecordingSink();
  gateway = await startMqttGateway({
    brokerUrl: broker.url,
    clientId: 'otaflow-gateway-test',
    ...service,
    registry,
    sink,
    inbox: new InMemoryUplinkInbox(),
    presence: broker,
    log,
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.endAsync(true)));
  await gateway.stop();
  registry.online.clear();
  registry.presenceAt.clear();
  registry.progress.length = 0;
});

afterAll(async () => {
  await broker.stop();
});

describe('embedded broker', () => {
  it('refuses a device with a wrong password', async () => {
    await expect(
      mqtt.connectAsync(broker.url, { ...deviceCredentials('dev-a', 'wrong'), reconnectPeriod: 0 }),
    ).rejects.toThrow(/Bad username or password/i);
  });

  it('reports presence: connect marks the device online and signals it, disconnect marks it offline', async () => {
    const device = await connectDevice('dev-a', 'secret-a');
    await eventually(() => {
      expect(registry.online.get('dev-a')).toBe(true);
      expect(sink.calls).toEqual([{ signal: 'deviceOnline', deviceId: 'dev-a' }]);
    });
    await device.endAsync();
    await eventually(() => expect(registry.online.get('dev-a')).toBe(false));
  });

  it("refuses a device's subscription to another device's topics", async () => {
    const device = await connectDevice('dev-a', 'secret-a');
    await expect(device.subscribeAsync(eventsDownTopic('dev-b'), { qos: 1 })).rejects.toThrow(
      /Subscribe error/,
    );
    await expect(device.subscribeAsync('$oc/devices/+/sys/events/down', { qos: 1 })).rejects.toThrow(
      /Subscribe error/,
    );
    const [own] = await device.subscribeAsync(eventsDownTopic('dev-a'), { qos: 1 });
    expect(own?.qos).toBe(1);
  });

  it("drops a device's publish to another device's uplink topic", async () => {
    const device = await connectDevice('dev-a', 'secret-a');
    const closed = new Promise<void>((resolve) => device.once('close', () => resolve()));
    device.publish(
      eventsUpTopic('dev-b'),
      JSON.stringify(buildVersionReport('dev-b', { softwareVersion: 'forged' })),
      {
        qos: 1,
      },
    );
    await closed;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(registry.versions.get('dev-b')).toBeUndefined();
    expect(sink.calls.filter((call) => call.deviceId === 'dev-b')).toEqual([]);
  });
});

describe('gateway', () => {
  it('handles at start the uplinks a silent gateway recorded and never handled, and beats', async () => {
    await gateway.stop();
    sink = new RecordingSink();
    const inbox = new InMemoryUplinkInbox();
    const report = buildVersionReport('dev-b', { softwareVersion: 'left-behind' });
    inbox.orphans.push({
      id: '41',
      deviceId: 'dev-b',
      payload: Buffer.from(JSON.stringify(report)),
      receivedAt: new Date(),
    });
    gateway = await startMqttGateway({
      brokerUrl: broker.url,
      clientId: 'otaflow-gateway-test-adopting',
      ...service,
      registry,
      sink,
      inbox,
      log,
    });
    await eventually(() =>
      expect(sink.calls).toContainEqual({
        signal: 'versionReported',
        deviceId: 'dev-b',
        report: { softwareVersion: 'left-behind' },
      }),
    );
    await eventually(() => expect(inbox.kept.size).toBe(0));
    expect(inbox.heartbeats).toBe(1);
  });

  it('ignores a retained uplink: the broker replays it at each subscription, whenever it was sent', async () => {
    const device = await connectDevice('dev-a', 'secret-a');
    const stale = buildProgressReport('dev-a', { resultCode: 0, progress: 100, version: '2.0' });
    await device.publishAsync(eventsUpTopic('dev-a'), JSON.stringify(stale), { qos: 1, retain: true });
    await gateway.stop();
    sink = new RecordingSink();
    gateway = await startMqttGateway({
      brokerUrl: broker.url,
      clientId: 'otaflow-gateway-test-fresh-session',
      ...service,
      registry,
      sink,
      inbox: new InMemoryUplinkInbox(),
      log,
    });
    await publishUp(device, 'dev-a', buildVersionReport('dev-a', { softwareVersion: '1.0' }));
    await eventually(() => expect(sink.calls.map((call) => call.signal)).toContain('versionReported'));
    expect(sink.calls.filter((call) => call.signal === 'upgradeResultReported')).toEqual([]);
    await device.publishAsync(eventsUpTopic('dev-a'), '', { qos: 1, retain: true });
  });

  it('records a version report and signals the device workflow', async () => {
    const device = await connectDevice('dev-a', 'secret-a');
    await publishUp(
      device,
      'dev-a',
      buildVersionReport('dev-a', { softwareVersion: '1.0', firmwareVersion: 'fw1' }),
    );
    await eventually(() =>
      expect(sink.calls).toContainEqual({
        signal: 'versionReported',
        deviceId: 'dev-a',
        report: { softwareVersion: '1.0', firmwareVersion: 'fw1' },
      }),
    );
    expect(registry.versions.get('dev-a')).toEqual({ softwareVersion: '1.0', firmwareVersion: 'fw1' });
  });

  it('records progress reports without signalling, and signals the terminal success', async () => {
    const device = await connectDevice('dev-a', 'secret-a');
    for (const progress of [10, 50]) {
      await publishUp(
        device,
        'dev-a',
        buildProgressReport('dev-a', { resultCode: 0, progress, version: '2.0' }),
      );
    }
    await eventually(() => expect(registry.progress.map((entry) => entry.progress)).toEqual([10, 50]));
    expect(sink.calls.filter((call) => call.signal === 'upgradeResultReported')).toEqual([]);

    await publishUp(
      device,
      'dev-a',
      buildProgressReport('dev-a', {
        resultCode: 0,
        progress: 100,
        version: '2.0',
        description: 'upgrade success',
      }),
    );
    await eventually(() =>
      expect(sink.calls.filter((call) => call.signal === 'upgradeResultReported')).toEqual([
        {
          signal: 'upgradeResultReported',
          deviceId: 'dev-a',
          report: {
            resultCode: 0,
            version: '2.0',
            description: 'upgrade success',
            receivedAt: expect.any(String),
          },
        },
      ]),
    );
    expect(registry.progress.map((entry) => entry.progress)).toEqual([10, 50, 100]);
  });

  it('signals a failure code even without progress', async () => {
    const device = await connectDevice('dev-a', 'secret-a');
    await publishUp(
      device,
      'dev-a',
      buildProgressReport('dev-a', { resultCode: 5, version: '1.0', description: 'full' }),
    );
    await eventually(() =>
      expect(sink.calls).toContainEqual({
        signal: 'upgradeResultReported',
        deviceId: 'dev-a',
        report: { resultCode: 5, version: '1.0', description: 'full', receivedAt: expect.any(String) },
      }),
    );
  });

  it('ignores an invalid uplink and changes nothing', async () => {
    const device = await connectDevice('dev-b', 'secret-b');
    await eventually(() => expect(sink.calls).toHaveLength(1));
    const seenBefore = registry.lastSeen.get('dev-b');
    await device.publishAsync(eventsUpTopic('dev-b'), '{"services": [{"service_id": "$ota"', { qos: 1 });
    await publishUp(device, 'dev-b', {
      services: [{ service_id: '$ota', event_type: 'upgrade_progress_report', paras: { progress: 5 } }],
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(sink.calls).toEqual([{ signal: 'deviceOnline', deviceId: 'dev-b' }]);
    expect(registry.progress).toEqual([]);
    expect(registry.lastSeen.get('dev-b')).toBe(seenBefore);
  });

  it('publishes downlinks to the device with QoS 1', async () => {
    const device = await connectDevice('dev-a', 'secret-a');
    await device.subscribeAsync(eventsDownTopic('dev-a'), { qos: 1 });
    const received = new Promise<{ topic: string; payload: string; qos: number }>((resolve) =>
      device.once('message', (topic, payload, packet) =>
        resolve({ topic, payload: payload.toString(), qos: packet.qos }),
      ),
    );
    const query = buildVersionQuery('dev-a');
    await gateway.publishDownlink('dev-a', query);
    expect(await received).toEqual({
      topic: eventsDownTopic('dev-a'),
      payload: JSON.stringify(query),
      qos: 1,
    });
  });
  it("delivers downlinks to a device that never subscribes, as the seed platform's implicit subscription does", async () => {
    const device = await connectDevice('dev-a', 'secret-a');
    const received: Array<{ topic: string; payload: string }> = [];
    device.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
    await eventually(() => expect(sink.calls).toContainEqual({ signal: 'deviceOnline', deviceId: 'dev-a' }));
    const query = buildVersionQuery('dev-a');
    await gateway.publishDownlink('dev-a', query);
    await eventually(() =>
      expect(received).toEqual([{ topic: eventsDownTopic('dev-a'), payload: JSON.stringify(query) }]),
    );
  });

  it('delivers a downlink once to a device that also subscribes to it itself', async () => {
    const device = await connectDevice('dev-a', 'secret-a');
    await device.subscribeAsync(eventsDownTopic('dev-a'), { qos: 1 });
    let count = 0;
    device.on('message', () => count++);
    await gateway.publishDownlink('dev-a', buildVersionQuery('dev-a'));
    await eventually(() => expect(count).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(count).toBe(1);
  });

  it("does not deliver one device's downlinks to another device", async () => {
    const other = await connectDevice('dev-b', 'secret-b');
    let count = 0;
    other.on('message', () => count++);
    await connectDevice('dev-a', 'secret-a');
    await eventually(() => expect(sink.calls).toContainEqual({ signal: 'deviceOnline', deviceId: 'dev-a' }));
    await gateway.publishDownlink('dev-a', buildVersionQuery('dev-a'));
    await gateway.publishDownlink('dev-b', buildVersionQuery('dev-b'));
    await eventually(() => expect(count).toBe(1));
  });
});

describe('presence beside uplinks', () => {
  it('keeps a device that sends its result and disconnects at once offline', async () => {
    const device = await connectDevice('dev-a', 'secret-a');
    await eventually(() => expect(registry.online.get('dev-a')).toBe(true));
    await publishUp(
      device,
      'dev-a',
      buildProgressReport('dev-a', { resultCode: 0, progress: 100, version: '2.0' }),
    );
    await device.endAsync();
    await eventually(() =>
      expect(sink.calls.map((call) => call.signal)).toEqual(['deviceOnline', 'upgradeResultReported']),
    );
    await eventually(() => expect(registry.online.get('dev-a')).toBe(false));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(registry.online.get('dev-a')).toBe(false);
  });
});

describe('gateway with an external broker (no presence events)', () => {
  it('marks an offline device online on its first uplink and signals deviceOnline once', async () => {
    await gateway.stop();
    sink = new RecordingSink();
    gateway = await startMqttGateway({
      brokerUrl: broker.url,
      clientId: 'otaflow-gateway-test',
      ...service,
      registry,
      sink,
      inbox: new InMemoryUplinkInbox(),
      log,
    });
    const device = await connectDevice('dev-a', 'secret-a');
    await publishUp(device, 'dev-a', buildVersionReport('dev-a', { softwareVersion: '1.0' }));
    await publishUp(device, 'dev-a', buildVersionReport('dev-a', { softwareVersion: '1.0' }));
    await eventually(() =>
      expect(sink.calls.map((call) => call.signal)).toEqual([
        'deviceOnline',
        'versionReported',
        'versionReported',
      ]),
    );
    expect(registry.online.get('dev-a')).toBe(true);
  });
});

/** A sink whose signals fail while `failing` is set, as they do while Temporal is unreachable. */
class UnreachableSink extends RecordingSink {
  failing = true;
  override async upgradeResultReported(...args: Parameters<RecordingSink['upgradeResultReported']>) {
    if (this.failing) throw new Error('Temporal unavailable');
    await super.upgradeResultReported(...args);
  }
}

describe('uplinks through outages', () => {
  const result = () => buildProgressReport('dev-a', { resultCode: 0, progress: 100, version: '2.0' });
  const results = (calls: RecordingSink['calls']) =>
    calls.filter((call) => call.signal === 'upgradeResultReported');

  async function restartGateway(options: { sink: RecordingSink; inbox: InMemoryUplinkInbox }) {
    await gateway.stop();
    sink = options.sink;
    gateway = await startMqttGateway({
      brokerUrl: broker.url,
      clientId: 'otaflow-gateway-test',
      ...service,
      registry,
      sink: options.sink,
      inbox: options.inbox,
      presence: broker,
      log,
    });
  }

  it('hands a report over once the database is back', async () => {
    const inbox = new InMemoryUplinkInbox();
    inbox.failing = true;
    await restartGateway({ sink: new RecordingSink(), inbox });
    const device = await connectDevice('dev-a', 'secret-a');
    await publishUp(device, 'dev-a', result());
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(results(sink.calls)).toEqual([]);

    inbox.failing = false;
    await eventually(() => expect(results(sink.calls)).toHaveLength(1));
    await eventually(() => expect(inbox.kept.size).toBe(0));
  });

  it('does not acknowledge a report it could not record: the broker delivers it to the next gateway', async () => {
    const down = new InMemoryUplinkInbox();
    down.failing = true;
    await restartGateway({ sink: new RecordingSink(), inbox: down });
    const device = await connectDevice('dev-a', 'secret-a');
    await publishUp(device, 'dev-a', result());
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(results(sink.calls)).toEqual([]);

    // The gateway goes (a crash, a restart) while the database is still down; the next one is given
    // the report by the broker, because nobody acknowledged it.
    const inbox = new InMemoryUplinkInbox();
    await restartGateway({ sink: new RecordingSink(), inbox });
    await eventually(() => expect(results(sink.calls)).toHaveLength(1));
    await eventually(() => expect(inbox.kept.size).toBe(0));
  });

  it('keeps a recorded report while its signal fails, and signals it once when Temporal is back', async () => {
    const inbox = new InMemoryUplinkInbox();
    const unreachable = new UnreachableSink();
    await restartGateway({ sink: unreachable, inbox });
    const device = await connectDevice('dev-a', 'secret-a');
    await publishUp(device, 'dev-a', result());
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(inbox.kept.size).toBe(1);

    unreachable.failing = false;
    await eventually(() => expect(results(unreachable.calls)).toHaveLength(1));
    await eventually(() => expect(inbox.kept.size).toBe(0));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(results(unreachable.calls)).toHaveLength(1);
  });

  it('hands over, at its next start, what a gateway recorded and could not hand over before it stopped', async () => {
    const inbox = new InMemoryUplinkInbox();
    await restartGateway({ sink: new UnreachableSink(), inbox });
    const device = await connectDevice('dev-a', 'secret-a');
    await publishUp(device, 'dev-a', result());
    await eventually(() => expect(inbox.kept.size).toBe(1));

    const next = new RecordingSink();
    await restartGateway({ sink: next, inbox });
    await eventually(() =>
      expect(results(next.calls)).toEqual([
        {
          signal: 'upgradeResultReported',
          deviceId: 'dev-a',
          report: { resultCode: 0, version: '2.0', receivedAt: expect.any(String) },
        },
      ]),
    );
    await eventually(() => expect(inbox.kept.size).toBe(0));
  });
});
