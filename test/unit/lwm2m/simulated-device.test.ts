/**
 * The simulated LwM2M device's injected faults, seen from the gateway the way a workflow sees
 * them: the update result codes it reports, and the steps at which it goes silent.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Lwm2mGateway, startLwm2mGateway } from '../../../src/lwm2m/gateway';
import {
  type FirmwareFailureCode,
  SimulatedLwm2mDevice,
  type SimulatedLwm2mDeviceOptions,
} from '../../../src/simulator/lwm2m-device';
import { Lwm2mPath } from '../../../workflows/lwm2m/definitions';
import { silentLogger } from '../api/fakes';
import { eventually, FakeLwm2mRegistry, InMemoryPackages, RecordingLwm2mSink } from './fakes';

let registry: FakeLwm2mRegistry;
let sink: RecordingLwm2mSink;
let packages: InMemoryPackages;
let gateway: Lwm2mGateway;
let devices: SimulatedLwm2mDevice[];
let uri: string;

const QUIET_MS = 400;
const quietly = () => new Promise((resolve) => setTimeout(resolve, QUIET_MS));

beforeEach(async () => {
  registry = new FakeLwm2mRegistry();
  sink = new RecordingLwm2mSink();
  packages = new InMemoryPackages();
  devices = [];
  gateway = await startLwm2mGateway({
    host: '127.0.0.1',
    port: 0,
    gatewayId: 'gw',
    registry,
    sink,
    packages,
    log: silentLogger,
  });
  const bytes = randomBytes(5_000);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  packages.objects.set('k', bytes);
  packages.packages.set('p', { objectKey: 'k', sha256, size: bytes.length });
  uri = gateway.commands.packageUri({ id: 'p', sha256 }, 'any-device');
});

afterEach(async () => {
  await Promise.all(devices.map((device) => device.stop()));
  await gateway.stop();
});

async function startDevice(endpoint: string, options: Partial<SimulatedLwm2mDeviceOptions> = {}) {
  registry.protocols.set(endpoint, 'lwm2m');
  const device = new SimulatedLwm2mDevice({
    endpoint,
    serverUri: `coap://127.0.0.1:${gateway.port}`,
    updateDurationMs: 20,
    log: silentLogger,
    ...options,
  });
  devices.push(device);
  await device.start();
  gateway.commands.observe(endpoint, [Lwm2mPath.firmwareState, Lwm2mPath.firmwareUpdateResult]);
  await eventually(() => expect(sink.reported(endpoint)['/5/0/3']).toBe(0));
  return device;
}

describe('firmware update result codes', () => {
  it.each([2, 3, 4, 5, 6, 7, 9] as FirmwareFailureCode[])(
    'reports result %i from the download',
    async (code) => {
      const endpoint = `fail-${code}`;
      await startDevice(endpoint, { failWith: code });
      gateway.commands.write(endpoint, Lwm2mPath.firmwarePackageUri, uri);
      await eventually(() => expect(sink.reported(endpoint)).toMatchObject({ '/5/0/3': 0, '/5/0/5': code }));
    },
  );

  it('reports result 8 when the update itself fails, keeping the old version', async () => {
    const device = await startDevice('fail-8', { failWith: 8, firmwareVersion: '1.0.0' });
    gateway.commands.write('fail-8', Lwm2mPath.firmwarePackageUri, uri);
    await eventually(() => expect(sink.reported('fail-8')['/5/0/3']).toBe(2));
    gateway.commands.execute('fail-8', Lwm2mPath.firmwareUpdate);
    await eventually(() => expect(sink.reported('fail-8')).toMatchObject({ '/5/0/3': 0, '/5/0/5': 8 }));
    expect(device.firmwareVersion).toBe('1.0.0');
  });
});

describe('going silent', () => {
  it('does not answer the version query', async () => {
    const device = await startDevice('quiet-version', { silentAt: 'version' });
    const heard = new Promise((resolve) => device.once('request', resolve));
    gateway.commands.read('quiet-version', [Lwm2mPath.firmwareVersion]);
    await heard;
    await quietly();
    expect(sink.reported('quiet-version')['/3/0/3']).toBeUndefined();
    expect(sink.failures('quiet-version')).toEqual([]);
  });

  it('does not answer the radio query but still gives its cell ID', async () => {
    await startDevice('quiet-radio', { silentAt: 'radio', cellId: 77 });
    gateway.commands.read('quiet-radio', [
      Lwm2mPath.radioSignalStrength,
      Lwm2mPath.signalSnr,
      Lwm2mPath.cellId,
    ]);
    await eventually(() => expect(sink.reported('quiet-radio')['/4/0/8']).toBe(77));
    await quietly();
    expect(sink.reported('quiet-radio')).not.toHaveProperty('/4/0/2');
    expect(sink.reported('quiet-radio')).not.toHaveProperty('/4/0/11');
  });

  it('does not answer the cell ID query', async () => {
    const device = await startDevice('quiet-cell', { silentAt: 'cell-id' });
    const heard = new Promise((resolve) => device.once('request', resolve));
    gateway.commands.read('quiet-cell', [Lwm2mPath.cellId, '/4/0']);
    await heard;
    await quietly();
    expect(Object.keys(sink.reported('quiet-cell')).filter((path) => path.startsWith('/4/'))).toEqual([]);
  });

  it.each([
    ['download-start', 0],
    ['download-finish', 1],
  ] as const)('stops at %s (state stays %i)', async (silentAt, state) => {
    const endpoint = `quiet-${silentAt}`;
    const device = await startDevice(endpoint, { silentAt });
    const finished: unknown[] = [];
    device.on('download-finished', (event) => finished.push(event));
    gateway.commands.write(endpoint, Lwm2mPath.firmwarePackageUri, uri);
    await quietly();
    expect(sink.reported(endpoint)['/5/0/3']).toBe(state);
    expect(finished).toEqual([]);
  });

  it.each([
    ['update-start', 2],
    ['result', 3],
  ] as const)('stops at %s (state stays %i)', async (silentAt, state) => {
    const endpoint = `quiet-${silentAt}`;
    const device = await startDevice(endpoint, { silentAt, firmwareVersion: '1.0.0' });
    gateway.commands.write(endpoint, Lwm2mPath.firmwarePackageUri, uri);
    await eventually(() => expect(sink.reported(endpoint)['/5/0/3']).toBe(2));
    gateway.commands.execute(endpoint, Lwm2mPath.firmwareUpdate);
    await quietly();
    expect(sink.reported(endpoint)).toMatchObject({ '/5/0/3': state, '/5/0/5': 0 });
    expect(device.firmwareVersion).toBe('1.0.0');
  });
});

it('installs a software package through object 9', async () => {
  const device = await startDevice('sw-1', { softwareVersion: '1.0.0', updatedVersion: '1.1.0' });
  gateway.commands.observe('sw-1', [Lwm2mPath.softwareUpdateState, Lwm2mPath.softwareUpdateResult]);
  gateway.commands.write('sw-1', Lwm2mPath.softwarePackageUri, uri);
  await eventually(() => expect(sink.reported('sw-1')).toMatchObject({ '/9/0/7': 3, '/9/0/9': 3 }));
  gateway.commands.execute('sw-1', Lwm2mPath.softwareInstall);
  await eventually(() => expect(sink.reported('sw-1')).toMatchObject({ '/9/0/7': 4, '/9/0/9': 2 }));
  expect(device.softwareVersion).toBe('1.1.0');
});

it('announces downloads with its cell, so concurrency per cell can be measured at the device side', async () => {
  const device = await startDevice('cell-dl', { cellId: 9, blockDelayMs: 5 });
  const events: string[] = [];
  device.on('download-started', ({ cellId }) => events.push(`started in ${cellId}`));
  device.on('download-finished', ({ cellId }) => events.push(`finished in ${cellId}`));
  gateway.commands.write('cell-dl', Lwm2mPath.firmwarePackageUri, uri);
  await eventually(() => expect(events).toEqual(['started in 9', 'finished in 9']));
});
