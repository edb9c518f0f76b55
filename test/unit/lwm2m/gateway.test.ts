/**
 * The LwM2M gateway and the simulated device talking over real UDP on 127.0.0.1: registration,
 * device management from the gateway's socket, queue mode, and block-wise package delivery.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Lwm2mGateway, startLwm2mGateway } from '../../../src/lwm2m/gateway';
import { versionCheckCode } from '../../../src/lwm2m/package-blocks';
import { createMetrics } from '../../../src/metrics/metrics';
import { SimulatedLwm2mDevice, type SimulatedLwm2mDeviceOptions } from '../../../src/simulator/lwm2m-device';
import { Lwm2mPath } from '../../../workflows/lwm2m/definitions';
import { silentLogger } from '../api/fakes';
import { eventually, FakeLwm2mRegistry, InMemoryPackages, RecordingLwm2mSink } from './fakes';

let registry: FakeLwm2mRegistry;
let sink: RecordingLwm2mSink;
let packages: InMemoryPackages;
let gateway: Lwm2mGateway;
const devices: SimulatedLwm2mDevice[] = [];
const metrics = createMetrics();
/** Package blocks and bytes the gateway served over CoAP so far, and the package requests it answered 2.xx. */
async function servedOverCoap() {
  const bytes = (await metrics.packageBytesServed.get()).values.find(
    ({ labels }) => labels.transport === 'coap',
  );
  const blocks = (await metrics.coapBlocksServed.get()).values[0];
  const requests = (await metrics.coapRequests.get()).values.find(
    ({ labels }) => labels.interface === 'package' && labels.method === 'GET' && labels.code === '2.xx',
  );
  return { blocks: blocks?.value ?? 0, bytes: bytes?.value ?? 0, requests: requests?.value ?? 0 };
}

async function startGateway(queueModeAwakeMs = 93_000, port = 0) {
  gateway = await startLwm2mGateway({
    host: '127.0.0.1',
    port,
    gatewayId: 'gw-test',
    registry,
    sink,
    packages,
    log: silentLogger,
    queueModeAwakeMs,
    metrics,
  });
}

async function startDevice(options: Partial<SimulatedLwm2mDeviceOptions> & { endpoint: string }) {
  registry.protocols.set(options.endpoint, registry.protocols.get(options.endpoint) ?? 'lwm2m');
  const device = new SimulatedLwm2mDevice({
    serverUri: `coap://127.0.0.1:${gateway.port}`,
    log: silentLogger,
    ...options,
  });
  devices.push(device);
  await device.start();
  return device;
}

/** Stops the gateway and starts it again on its port, with a fresh sink and the same registry. */
async function restartGateway() {
  const { port } = gateway;
  await gateway.stop();
  sink = new RecordingLwm2mSink();
  await startGateway(93_000, port);
}

function addPackage(id: string, bytes: Buffer) {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  packages.objects.set(`packages/${id}`, bytes);
  packages.packages.set(id, { objectKey: `packages/${id}`, sha256, size: bytes.length });
  return { id, sha256 };
}

beforeEach(async () => {
  registry = new FakeLwm2mRegistry();
  sink = new RecordingLwm2mSink();
  packages = new InMemoryPackages();
  await startGateway();
});

afterEach(async () => {
  await Promise.all(devices.splice(0).map((device) => device.stop()));
  await gateway.stop();
});

describe('registration interface', () => {
  it('registers, updates and deregisters a provisioned device', async () => {
    const device = await startDevice({ endpoint: 'meter-1' });
    expect(device.registered).toBe(true);
    await eventually(() => expect(sink.calls).toEqual([{ signal: 'deviceOnline', deviceId: 'meter-1' }]));
    expect(registry.online.get('meter-1')).toBe(true);
    expect(registry.locations.get('meter-1')).toMatchObject({
      gatewayId: 'gw-test',
      address: '127.0.0.1',
      queueMode: false,
    });
    expect(gateway.commands.isRegistered('meter-1')).toBe(true);

    await device.sendUpdate();
    await eventually(() =>
      expect(sink.calls.filter((call) => call.signal === 'deviceOnline')).toHaveLength(2),
    );

    await device.deregister();
    await eventually(() => expect(registry.online.get('meter-1')).toBe(false));
    expect(registry.locations.has('meter-1')).toBe(false);
    expect(gateway.commands.isRegistered('meter-1')).toBe(false);
  });

  it('marks the device offline when its lifetime passes without an update', async () => {
    const device = await startDevice({ endpoint: 'meter-2', lifetimeSeconds: 1, updateIntervalMs: 60_000 });
    await eventually(() => expect(registry.online.get('meter-2')).toBe(true));
    await device.powerOff();
    await eventually(() => expect(registry.online.get('meter-2')).toBe(false), 3_000);
    expect(gateway.commands.isRegistered('meter-2')).toBe(false);
  });

  it('refuses endpoints that are unknown or not LwM2M devices with 4.03', async () => {
    registry.protocols.set('mqtt-device', 'mqtt');
    await expect(startDevice({ endpoint: 'mqtt-device' })).rejects.toThrow('registration refused with 4.03');
    const stranger = new SimulatedLwm2mDevice({
      endpoint: 'stranger',
      serverUri: `coap://127.0.0.1:${gateway.port}`,
      log: silentLogger,
    });
    devices.push(stranger);
    await expect(stranger.start()).rejects.toThrow('registration refused with 4.03');
    expect(sink.calls).toEqual([]);
    expect(registry.online.size).toBe(0);
  });

  it('answers an update of an unknown registration with 4.04, and the device registers again', async () => {
    const device = await startDevice({ endpoint: 'meter-3' });
    const { port } = gateway;
    await gateway.stop();
    gateway = await startLwm2mGateway({
      host: '127.0.0.1',
      port,
      gatewayId: 'gw-test',
      registry,
      sink,
      packages,
      log: silentLogger,
    });
    await device.sendUpdate();
    expect(device.registered).toBe(true);
    await eventually(() => expect(gateway.commands.isRegistered('meter-3')).toBe(true));
  });
});

describe('device management', () => {
  it('reads resources in the format the device chooses', async () => {
    for (const answerFormat of ['tlv', 'senml-json', 'text'] as const) {
      const endpoint = `reader-${answerFormat}`;
      await startDevice({
        endpoint,
        answerFormat,
        firmwareVersion: '3.1.4',
        cellId: 4242,
        rsrp: -101,
        sinr: 3,
      });
      gateway.commands.read(endpoint, [Lwm2mPath.firmwareVersion, Lwm2mPath.cellId, '/4/0']);
      await eventually(() =>
        expect(sink.reported(endpoint)).toMatchObject({
          '/3/0/3': '3.1.4',
          '/4/0/8': 4242,
          '/4/0/2': -101,
          '/4/0/11': 3,
        }),
      );
    }
  });

  it('reports a resource the device lacks as a failed command with its CoAP code', async () => {
    await startDevice({ endpoint: 'meter-4' });
    gateway.commands.read('meter-4', ['/3/0/999']);
    await eventually(() =>
      expect(sink.failures('meter-4')).toEqual([
        {
          operation: 'read',
          paths: ['/3/0/999'],
          code: '4.04',
          detail: 'device answered 4.04 to GET /3/0/999 with Accept 0 (text/plain)',
        },
      ]),
    );
  });

  it('reads and observes a client that answers only an explicit Accept (as Wakaama-built clients do)', async () => {
    await startDevice({
      endpoint: 'strict-1',
      acceptOnly: ['text', 'senml-json'],
      announcedContentFormat: 110,
      firmwareVersion: '3.1.4',
      cellId: 4242,
      rsrp: -101,
      sinr: 3,
    });
    gateway.commands.read('strict-1', [Lwm2mPath.firmwareVersion, '/4/0']);
    gateway.commands.observe('strict-1', [Lwm2mPath.firmwareState]);
    await eventually(() =>
      expect(sink.reported('strict-1')).toMatchObject({
        '/3/0/3': '3.1.4',
        '/4/0/8': 4242,
        '/4/0/2': -101,
        '/4/0/11': 3,
        '/5/0/3': 0,
      }),
    );
    expect(sink.failures('strict-1')).toEqual([]);
  });

  it('retries once in another format after 4.06, and names every answer when both are refused', async () => {
    // Announces SenML JSON but was built with TLV only: text and SenML JSON are refused, TLV is not tried.
    await startDevice({ endpoint: 'strict-2', acceptOnly: ['tlv'], announcedContentFormat: 110 });
    gateway.commands.read('strict-2', [Lwm2mPath.firmwareVersion]);
    await eventually(() =>
      expect(sink.failures('strict-2')).toEqual([
        {
          operation: 'read',
          paths: ['/3/0/3'],
          code: '4.06',
          detail:
            'device answered 4.06 to GET /3/0/3 with Accept 0 (text/plain), and 4.06 with Accept 110 (SenML JSON)',
        },
      ]),
    );
    // An LwM2M 1.0 client without an announcement gets TLV as the second choice, which this one takes.
    await startDevice({
      endpoint: 'strict-3',
      acceptOnly: ['tlv'],
      lwm2mVersion: '1.0',
      firmwareVersion: '1.2.3',
    });
    gateway.commands.read('strict-3', [Lwm2mPath.firmwareVersion]);
    await eventually(() => expect(sink.reported('strict-3')).toMatchObject({ '/3/0/3': '1.2.3' }));
  });

  it('observes the update state, writes the package URI, executes the update, and cancels', async () => {
    const device = await startDevice({ endpoint: 'meter-5', updatedVersion: '2.0.0', lwm2mVersion: '1.0' });
    const pkg = addPackage('pkg-1', randomBytes(3000));
    gateway.commands.observe('meter-5', [Lwm2mPath.firmwareState, Lwm2mPath.firmwareUpdateResult]);
    await eventually(() => expect(sink.reported('meter-5')).toEqual({ '/5/0/3': 0, '/5/0/5': 0 }));

    gateway.commands.write(
      'meter-5',
      Lwm2mPath.firmwarePackageUri,
      gateway.commands.packageUri(pkg, 'meter-5'),
    );
    await eventually(() => expect(sink.reported('meter-5')['/5/0/3']).toBe(2));
    const states = () =>
      sink.calls.flatMap((call) =>
        call.signal === 'resourcesReported' ? [call.report.values['/5/0/3']] : [],
      );
    expect(states().filter((state) => state !== undefined)).toEqual([0, 1, 2]);

    gateway.commands.execute('meter-5', Lwm2mPath.firmwareUpdate);
    await eventually(() => expect(sink.reported('meter-5')).toMatchObject({ '/5/0/3': 0, '/5/0/5': 1 }));
    expect(states().filter((state) => state !== undefined)).toEqual([0, 1, 2, 3, 0]);
    gateway.commands.read('meter-5', [Lwm2mPath.firmwareVersion]);
    await eventually(() => expect(sink.reported('meter-5')['/3/0/3']).toBe('2.0.0'));
    expect(device.firmwareVersion).toBe('2.0.0');

    gateway.commands.cancelObservation('meter-5', [Lwm2mPath.firmwareState, Lwm2mPath.firmwareUpdateResult]);
    const reportsBefore = sink.calls.length;
    gateway.commands.write('meter-5', Lwm2mPath.firmwarePackageUri, '');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sink.calls.slice(reportsBefore).filter((call) => call.signal === 'resourcesReported')).toEqual([]);
  });

  it('answers a batch read at once and signals only the progress a workflow waits for, with what it kept', async () => {
    await startDevice({ endpoint: 'meter-6', updatedVersion: '2.0.0', lwm2mVersion: '1.0' });
    const pkg = addPackage('pkg-2', randomBytes(3000));
    const reports = () =>
      sink.calls.flatMap((call) =>
        call.signal === 'resourcesReported' && call.deviceId === 'meter-6' ? [call.report] : [],
      );

    expect(
      await gateway.commands.sendBatch('meter-6', [{ op: 'read', paths: ['/3/0/3', '/3/0/999'] }], {
        answerWithinMs: 2_000,
      }),
    ).toEqual({
      values: { '/3/0/3': '1.0.0' },
      refused: [
        {
          operation: 'read',
          paths: ['/3/0/999'],
          code: '4.04',
          detail: 'device answered 4.04 to GET /3/0/999 with Accept 0 (text/plain)',
        },
      ],
      kept: {},
    });

    // Downloading (state 1) is quiet: kept, and sent along with "downloaded" (state 2).
    await gateway.commands.sendBatch(
      'meter-6',
      [
        { op: 'observe', paths: [Lwm2mPath.firmwareState, Lwm2mPath.firmwareUpdateResult] },
        {
          op: 'write',
          path: Lwm2mPath.firmwarePackageUri,
          value: gateway.commands.packageUri(pkg, 'meter-6'),
        },
      ],
      { quiet: { '/5/0/3': [0, 1], '/5/0/5': [0] }, answerWithinMs: 2_000 },
    );
    await eventually(() => expect(reports()).toHaveLength(1));
    expect(reports()[0]).toMatchObject({ values: { '/5/0/3': 2 }, earlier: { '/5/0/3': [1] } });

    // While updating, only the result is signalled; the states it passed through come with it.
    await gateway.commands.sendBatch('meter-6', [{ op: 'execute', path: Lwm2mPath.firmwareUpdate }], {
      quiet: { '/5/0/3': [0, 1, 2, 3], '/5/0/5': [0] },
      answerWithinMs: 2_000,
    });
    await eventually(() => expect(reports()).toHaveLength(2));
    expect(reports()[1]?.values).toEqual({ '/5/0/5': 1 });
    const passedThrough = [
      ...(reports()[1]?.earlier?.['/5/0/3'] ?? []),
      ...((await flush())['/5/0/3'] ?? []),
    ];
    expect(passedThrough).toEqual([3, 0]);

    await gateway.commands.sendBatch('meter-6', [{ op: 'cancel-observation', paths: ['/5/0/3', '/5/0/5'] }], {
      answerWithinMs: 2_000,
    });

    async function flush() {
      return (await gateway.commands.sendBatch('meter-6', [], { answerWithinMs: 2_000 })).kept;
    }
  });

  it('takes its registrations up again when it restarts: a device that has not updated since answers', async () => {
    await startDevice({ endpoint: 'meter-10', firmwareVersion: '1.4.0', lifetimeSeconds: 300 });
    await startDevice({ endpoint: 'meter-11', lifetimeSeconds: 300 });
    await eventually(() => expect(registry.kept.size).toBe(2));
    // meter-11's lifetime ran out while the gateway was down.
    const meter11 = registry.kept.get('meter-11');
    if (meter11) meter11.updatedAt = new Date(Date.now() - 301_000);

    await restartGateway();
    gateway.commands.read('meter-10', [Lwm2mPath.firmwareVersion]);
    await eventually(() => expect(sink.reported('meter-10')).toEqual({ '/3/0/3': '1.4.0' }));
    expect(() => gateway.commands.read('meter-11', [Lwm2mPath.firmwareVersion])).toThrow(
      /no live LwM2M registration/,
    );
    await eventually(() => expect(registry.online.get('meter-11')).toBe(false));
    expect(registry.locations.has('meter-11')).toBe(false);
  });

  it('observes again what a batch observed when it restarts, reporting the first answers', async () => {
    const observed = [Lwm2mPath.firmwareState, Lwm2mPath.firmwareUpdateResult];
    await startDevice({ endpoint: 'meter-9', updatedVersion: '2.0.0', lifetimeSeconds: 300 });
    await gateway.commands.sendBatch('meter-9', [{ op: 'observe', paths: observed }], {
      answerWithinMs: 100,
    });
    expect(await registry.observedPaths('meter-9')).toEqual([...observed].sort());

    await restartGateway();
    await eventually(() => expect(sink.reported('meter-9')).toEqual({ '/5/0/3': 0, '/5/0/5': 0 }));

    // Observed for real: the download's progress is notified to the restarted gateway.
    const pkg = addPackage('pkg-again', randomBytes(2000));
    gateway.commands.write(
      'meter-9',
      Lwm2mPath.firmwarePackageUri,
      gateway.commands.packageUri(pkg, 'meter-9'),
    );
    await eventually(() => expect(sink.reported('meter-9')['/5/0/3']).toBe(2));

    await gateway.commands.sendBatch('meter-9', [{ op: 'cancel-observation', paths: observed }], {
      answerWithinMs: 100,
    });
    expect(await registry.observedPaths('meter-9')).toEqual([]);
  });

  it('refuses commands for a device with no registration here', () => {
    expect(() => gateway.commands.read('nobody', ['/3/0/3'])).toThrow(/no live LwM2M registration/);
  });
});

describe('queue mode', () => {
  it('holds a command for a sleeping device until its next update', async () => {
    await gateway.stop();
    await startGateway(300);
    const device = await startDevice({
      endpoint: 'sleepy',
      queueMode: true,
      awakeMs: 300,
      updateIntervalMs: 60_000,
    });
    expect(registry.locations.get('sleepy')?.queueMode).toBe(true);
    const heard: string[] = [];
    device.on('request', ({ path }) => heard.push(path));
    device.on('request-while-asleep', ({ path }) => heard.push(`lost ${path}`));
    await new Promise((resolve) => setTimeout(resolve, 500));

    gateway.commands.read('sleepy', [Lwm2mPath.firmwareVersion]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heard).toEqual([]);
    expect(sink.reported('sleepy')).toEqual({});

    await device.sendUpdate();
    await eventually(() => expect(sink.reported('sleepy')).toEqual({ '/3/0/3': '1.0.0' }));
    expect(heard).toEqual(['/3/0/3']);
  });
});

describe('package delivery', () => {
  it('delivers a multi-block package that verifies, reading the store once for every device', async () => {
    const content = randomBytes(10_000);
    const pkg = addPackage('pkg-2', content);
    const device = await startDevice({ endpoint: 'dl-1', blockSize: 1024, dropDownloadAtBlock: 4 });
    const finished = new Promise((resolve) => device.once('download-finished', resolve));
    const resumed = new Promise((resolve) => device.once('download-resumed', resolve));
    gateway.commands.write('dl-1', Lwm2mPath.firmwarePackageUri, gateway.commands.packageUri(pkg, 'dl-1'));
    expect(await resumed).toEqual({ offset: 4 * 1024 });
    expect(await finished).toMatchObject({ size: content.length, sha256: pkg.sha256 });

    const second = await startDevice({ endpoint: 'dl-1b', blockSize: 512 });
    const secondFinished = new Promise((resolve) => second.once('download-finished', resolve));
    const before = await servedOverCoap();
    gateway.commands.write('dl-1b', Lwm2mPath.firmwarePackageUri, gateway.commands.packageUri(pkg, 'dl-1b'));
    expect(await secondFinished).toMatchObject({ size: content.length, sha256: pkg.sha256 });
    const after = await servedOverCoap();
    expect({
      blocks: after.blocks - before.blocks,
      bytes: after.bytes - before.bytes,
      requests: after.requests - before.requests,
    }).toEqual({
      blocks: Math.ceil(content.length / 512),
      bytes: content.length,
      requests: Math.ceil(content.length / 512),
    });
    // One 64 KiB chunk holds the whole package: read once, whatever the devices and block sizes.
    expect(packages.rangesRead).toEqual([{ offset: 0, length: content.length }]);
  });

  it('refuses a versionCheckCode that is not the package’s, so the device reports Invalid URI', async () => {
    const pkg = addPackage('pkg-3', randomBytes(2000));
    const device = await startDevice({ endpoint: 'dl-2' });
    const failed = new Promise((resolve) => device.once('upgrade-failed', resolve));
    const wrongCode = versionCheckCode('f'.repeat(64));
    gateway.commands.write(
      'dl-2',
      Lwm2mPath.firmwarePackageUri,
      `coap://127.0.0.1:${gateway.port}/fw/${pkg.id}/${wrongCode}`,
    );
    expect(await failed).toEqual({ object: 5, result: 7 });
    expect(packages.rangesRead).toEqual([]);
  });
});
