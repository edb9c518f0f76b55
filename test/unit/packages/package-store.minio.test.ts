/**
 * Package upload and device download against a real MinIO server (the provisioned binary, see
 * minio-server.ts): run `npm run provision` first if it is missing.
 */

import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDownloadTokens } from '../../../activities/download-tokens';
import { createApi } from '../../../src/api/create-api';
import { createMetrics } from '../../../src/metrics/metrics';
import { openDownloadToken, sealDownloadToken } from '../../../src/packages/download-token';
import {
  createPackageStore,
  EmptyPackageError,
  type PackageStore,
  PackageTooLargeError,
} from '../../../src/packages/package-store';
import { freePort } from '../../../src/stack/free-port';
import { testApiDeps, testApiKey, testDownloads, testTokenKey as tokenKey } from '../api/test-api';
import { openTempDatabase } from '../db/temp-database';
import { startTestMinio, type TestMinio } from './minio-server';

let minio: TestMinio;
let temp: Awaited<ReturnType<typeof openTempDatabase>>;
let store: PackageStore;
let app: ReturnType<typeof createApi>;
const metrics = createMetrics();
const httpBytesServed = async () =>
  (await metrics.packageBytesServed.get()).values.find(({ labels }) => labels.transport === 'http')?.value ??
  0;
const publicBaseUrl = 'https://ota.example.test';

beforeAll(async () => {
  [minio, temp] = await Promise.all([startTestMinio(), openTempDatabase()]);
  store = createPackageStore({ ...minio, bucket: 'otaflow-test' });
  await store.ensureBucket();
  await store.ensureBucket();
  app = createApi({ ...testApiDeps(temp.db, store), metrics });
}, 120_000);

afterAll(async () => {
  await Promise.all([minio?.stop(), temp?.dispose()]);
});

// Larger than one 8 MiB upload part, so the streamed multipart path is the one tested.
const content = randomBytes(9 * 1024 * 1024 + 123);

function uploadPackage(version: string, file: Buffer) {
  return request(app)
    .post('/v1/packages')
    .set('authorization', `Bearer ${testApiKey}`)
    .field('name', 'meter firmware')
    .field('version', version)
    .field('kind', 'firmware')
    .field('product', 'meter')
    .field('model', 'm1')
    .attach('file', file, 'fw.bin');
}

function download(packageId: string, token: string | undefined, range?: string) {
  const req = request(app).get(`/ota/packages/${packageId}/file`).buffer(true).parse(binaryParser);
  if (token !== undefined) req.set('Authorization', `Bearer ${token}`);
  if (range) req.set('Range', range);
  return req;
}

function binaryParser(res: request.Response, callback: (error: Error | null, body: Buffer) => void) {
  // In Node, superagent hands parsers the raw response stream.
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => callback(null, Buffer.concat(chunks)));
}

function problemOf(body: Buffer): { detail: string } {
  return JSON.parse(body.toString('utf8'));
}

describe('package upload and download through MinIO', () => {
  let packageId: string;
  let token: string;

  it('streams an upload into MinIO with the right SHA-256 and size', async () => {
    const response = await uploadPackage('2.0.0', content).expect(201);
    expect(response.body).toMatchObject({
      size: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
    });
    packageId = response.body.id;
  }, 60_000);

  it('issues a 24-hour download token', async () => {
    const tokens = createDownloadTokens({ downloads: testDownloads(temp.db, store, publicBaseUrl) });
    const before = Math.floor(Date.now() / 1000);
    const delivery = await tokens.issueDownloadToken(packageId, 'meter-1');
    expect(delivery.url).toBe(`${publicBaseUrl}/ota/packages/${packageId}/file`);
    expect(delivery.expiresAt - before).toBeGreaterThanOrEqual(24 * 3600);
    expect(delivery.expiresAt - before).toBeLessThanOrEqual(24 * 3600 + 5);
    token = delivery.accessToken;
  });

  it('serves the whole file to a device with the Bearer token, counting the bytes served', async () => {
    const before = await httpBytesServed();
    const response = await download(packageId, token).expect(200);
    expect((await httpBytesServed()) - before).toBe(content.length);
    expect(response.headers['accept-ranges']).toBe('bytes');
    expect(Number(response.headers['content-length'])).toBe(content.length);
    expect(Buffer.compare(response.body, content)).toBe(0);
  }, 60_000);

  it('resumes a download: a Range request gets 206 and those bytes', async () => {
    const response = await download(packageId, token, 'bytes=1000-1999').expect(206);
    expect(response.headers['content-range']).toBe(`bytes 1000-1999/${content.length}`);
    expect(Buffer.compare(response.body, content.subarray(1000, 2000))).toBe(0);
  });

  it('refuses a missing, malformed or tampered token', async () => {
    const missing = await download(packageId, undefined).expect(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    await download(packageId, 'not-a-token').expect(401);

    // otaflow's seal broken (the device ID changed), and MinIO's signature broken under a good seal.
    const claims = openDownloadToken(tokenKey, token);
    if (typeof claims === 'string') throw new Error(`the issued token does not open: ${claims}`);
    const [payload] = token.split('.');
    const forged = `${Buffer.from(JSON.stringify(['other-meter', claims.issuedAt, claims.presignedQuery])).toString('base64url')}.${token.split('.')[1]}`;
    expect(forged.split('.')[0]).not.toBe(payload);
    const refusedForged = await download(packageId, forged).expect(403);
    expect(problemOf(refusedForged.body).detail).toBe('the access token is not valid for this package');
    const query = new URLSearchParams(claims.presignedQuery);
    const signature = query.get('X-Amz-Signature') ?? '';
    query.set('X-Amz-Signature', `${signature.startsWith('0') ? '1' : '0'}${signature.slice(1)}`);
    const tampered = sealDownloadToken(tokenKey, { ...claims, presignedQuery: query.toString() });
    const refusedTampered = await download(packageId, tampered).expect(403);
    expect(problemOf(refusedTampered.body).detail).toBe('the access token is not valid for this package');
  });

  it('refuses a token issued for another package', async () => {
    const other = await uploadPackage('2.0.1', Buffer.from('another package')).expect(201);
    const response = await download(other.body.id, token).expect(403);
    expect(problemOf(response.body).detail).toBe('the access token is not valid for this package');
  });

  it('refuses an expired token', async () => {
    const downloads = testDownloads(temp.db, store, publicBaseUrl);
    const shortLived = await downloads.issueDownload(packageId, 'meter-1', 1);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const response = await download(packageId, shortLived.accessToken).expect(403);
    expect(problemOf(response.body).detail).toBe('the access token has expired');
  });
});

describe('whether the package store is reachable', () => {
  it('answers with its bucket, and says which bucket is missing or that the server is not there', async () => {
    await expect(store.checkReachable()).resolves.toBeUndefined();
    const absentBucket = createPackageStore({ ...minio, bucket: 'otaflow-absent' });
    await expect(absentBucket.checkReachable()).rejects.toThrow('bucket otaflow-absent does not exist');
    const noServer = createPackageStore({
      ...minio,
      endpoint: `http://127.0.0.1:${await freePort()}`,
      bucket: 'otaflow-test',
    });
    await expect(noServer.checkReachable()).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('revoking download tokens', () => {
  const admin = { authorization: `Bearer ${testApiKey}` };
  const tokens = () => createDownloadTokens({ downloads: testDownloads(temp.db, store, publicBaseUrl) });
  let packageId: string;

  beforeAll(async () => {
    packageId = (await uploadPackage('5.0.0', Buffer.from('revocable package'))).body.id;
    for (const id of ['meter-r1', 'meter-r2']) {
      await request(app)
        .post('/v1/devices')
        .set(admin)
        .send({ id, protocol: 'mqtt', product: 'meter', model: 'm1' })
        .expect(201);
    }
  });

  it("refuses a device's tokens issued before its revocation, not those of other devices or issued after", async () => {
    const before = (await tokens().issueDownloadToken(packageId, 'meter-r1')).accessToken;
    const other = (await tokens().issueDownloadToken(packageId, 'meter-r2')).accessToken;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await request(app).post('/v1/devices/meter-r1/revoke-tokens').set(admin).expect(204);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const refused = await download(packageId, before).expect(403);
    expect(problemOf(refused.body).detail).toBe(
      'the access token was revoked with every token of its device',
    );
    await download(packageId, other).expect(200);
    await download(packageId, (await tokens().issueDownloadToken(packageId, 'meter-r1')).accessToken).expect(
      200,
    );
  });

  it("refuses a disabled device's tokens, and every earlier token of a revoked package", async () => {
    const token = (await tokens().issueDownloadToken(packageId, 'meter-r2')).accessToken;
    await request(app).post('/v1/devices/meter-r2/disable').set(admin).expect(200);
    const disabled = await download(packageId, token).expect(403);
    expect(problemOf(disabled.body).detail).toBe('the access token was revoked: its device is disabled');
    await request(app).post('/v1/devices/meter-r2/enable').set(admin).expect(200);
    await download(packageId, token).expect(200);

    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await request(app).post(`/v1/packages/${packageId}/revoke-tokens`).set(admin).expect(204);
    const revoked = await download(packageId, token).expect(403);
    expect(problemOf(revoked.body).detail).toBe(
      'the access token was revoked with every token of this package',
    );
    await request(app).post('/v1/packages/pkg_nope/revoke-tokens').set(admin).expect(404);
    await request(app).post('/v1/devices/nobody/revoke-tokens').set(admin).expect(404);
  });
});

describe('package store failures leave no object behind', () => {
  async function objectExists(objectKey: string) {
    const range = await store.openRange(objectKey, 0, 1).then(
      () => true,
      () => false,
    );
    return range;
  }

  it('refuses a file over the limit and removes what was written', async () => {
    // Past the limit only after a whole 8 MiB part went up.
    const mebibytes = Array.from({ length: 10 }, (_, index) =>
      content.subarray(index * 2 ** 20, (index + 1) * 2 ** 20),
    );
    await expect(
      store.putPackage('packages/too-large', Readable.from(mebibytes), 8.5 * 2 ** 20),
    ).rejects.toThrow(PackageTooLargeError);
    expect(await objectExists('packages/too-large')).toBe(false);
  }, 60_000);

  it('refuses an empty file', async () => {
    await expect(store.putPackage('packages/empty', Readable.from([]), 1024)).rejects.toThrow(
      EmptyPackageError,
    );
    expect(await objectExists('packages/empty')).toBe(false);
  });

  it('removes the partial object when the source fails mid-stream', async () => {
    async function* failing() {
      yield Buffer.alloc(1024, 1);
      throw new Error('client went away');
    }
    await expect(store.putPackage('packages/aborted', Readable.from(failing()), 1024 * 1024)).rejects.toThrow(
      'client went away',
    );
    expect(await objectExists('packages/aborted')).toBe(false);
  });
});
