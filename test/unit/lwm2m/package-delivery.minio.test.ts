/**
 * Block-wise package delivery from a real MinIO (the provisioned binary; `npm run provision` first
 * if it is missing) to the simulated device over UDP, with a dropped connection resumed midway.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Lwm2mGateway, startLwm2mGateway } from '../../../src/lwm2m/gateway';
import { CHUNK_BYTES } from '../../../src/lwm2m/package-chunks';
import type { DeliverablePackage } from '../../../src/lwm2m/package-source';
import { createPackageStore, type PackageStore } from '../../../src/packages/package-store';
import { SimulatedLwm2mDevice } from '../../../src/simulator/lwm2m-device';
import { Lwm2mPath } from '../../../workflows/lwm2m/definitions';
import { silentLogger } from '../api/fakes';
import { startTestMinio, type TestMinio } from '../packages/minio-server';
import { FakeLwm2mRegistry, RecordingLwm2mSink } from './fakes';

let minio: TestMinio;
let store: PackageStore;
let gateway: Lwm2mGateway;
const registry = new FakeLwm2mRegistry();
const catalogue = new Map<string, DeliverablePackage>();
const ranges: number[] = [];
const devices: SimulatedLwm2mDevice[] = [];
// Two 64 KiB chunks and a short third one: 257 blocks of 512 bytes, the last one short.
const content = randomBytes(2 * CHUNK_BYTES + 77);

beforeAll(async () => {
  minio = await startTestMinio();
  store = createPackageStore({ ...minio, bucket: 'otaflow-lwm2m-test' });
  await store.ensureBucket();
  const stored = await store.putPackage('packages/fw-2.0.0.bin', Readable.from([content]), 1024 * 1024);
  catalogue.set('fw-2', { objectKey: 'packages/fw-2.0.0.bin', ...stored });
  gateway = await startLwm2mGateway({
    host: '127.0.0.1',
    port: 0,
    gatewayId: 'gw-minio',
    registry,
    sink: new RecordingLwm2mSink(),
    packages: {
      lookup: async (id) => catalogue.get(id),
      cacheBytes: 1024 * 1024,
      store: {
        openRange: (key, offset, length) => {
          ranges.push(offset);
          return store.openRange(key, offset, length);
        },
      },
    },
    log: silentLogger,
  });
}, 120_000);

afterAll(async () => {
  await Promise.all(devices.map((device) => device.stop()));
  await gateway?.stop();
  await minio?.stop();
});

async function startDevice(endpoint: string, dropDownloadAtBlock?: number) {
  registry.protocols.set(endpoint, 'lwm2m');
  const device = new SimulatedLwm2mDevice({
    endpoint,
    serverUri: `coap://127.0.0.1:${gateway.port}`,
    blockSize: 512,
    dropDownloadAtBlock,
    log: silentLogger,
  });
  devices.push(device);
  await device.start();
  return device;
}

it('delivers the package block by block from MinIO and the device resumes after a drop', async () => {
  const device = await startDevice('minio-dl-1', 17);
  const resumed: number[] = [];
  device.on('download-resumed', ({ offset }) => resumed.push(offset));
  const finished = new Promise((resolve) => device.once('download-finished', resolve));
  const pkg = { id: 'fw-2', sha256: catalogue.get('fw-2')?.sha256 ?? '' };
  gateway.commands.write(
    'minio-dl-1',
    Lwm2mPath.firmwarePackageUri,
    gateway.commands.packageUri(pkg, 'minio-dl-1'),
  );
  expect(await finished).toMatchObject({ size: content.length, sha256: pkg.sha256 });
  expect(resumed).toEqual([17 * 512]);
  // Read from MinIO a chunk at a time, each chunk once: not once per block.
  expect(ranges).toEqual([0, CHUNK_BYTES, 2 * CHUNK_BYTES]);
}, 60_000);

it('refuses a URI whose versionCheckCode belongs to no version of the package', async () => {
  const device = await startDevice('minio-dl-2');
  const failed = new Promise((resolve) => device.once('upgrade-failed', resolve));
  const readsBefore = ranges.length;
  gateway.commands.write(
    'minio-dl-2',
    Lwm2mPath.firmwarePackageUri,
    `coap://127.0.0.1:${gateway.port}/fw/fw-2/00000000deadbeef`,
  );
  expect(await failed).toEqual({ object: 5, result: 7 });
  expect(ranges.length).toBe(readsBefore);
}, 30_000);
