import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApi } from '../../../src/api/create-api';
import { loadTrustedSigningKeys } from '../../../src/packages/package-signing';
import { openTempDatabase } from '../db/temp-database';
import { memoryPackageStore } from './fakes';
import { testApiDeps, testApiKey } from './test-api';

const auth = { authorization: `Bearer ${testApiKey}` };
const release = generateKeyPairSync('ed25519');
const factory = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const stranger = generateKeyPairSync('ed25519');

let keysDir: string;
let temp: Awaited<ReturnType<typeof openTempDatabase>>;
const store = memoryPackageStore();
let strict: Express;
let lenient: Express;

beforeAll(async () => {
  keysDir = await mkdtemp(path.join(os.tmpdir(), 'otaflow-signing-keys-'));
  await writeFile(
    path.join(keysDir, 'release-2026.pem'),
    release.publicKey.export({ type: 'spki', format: 'pem' }),
  );
  await writeFile(
    path.join(keysDir, 'factory.pem'),
    factory.publicKey.export({ type: 'spki', format: 'pem' }),
  );
  const trustedKeys = await loadTrustedSigningKeys(keysDir);
  temp = await openTempDatabase();
  strict = createApi({
    ...testApiDeps(temp.db, store),
    packageSigning: { trustedKeys, unsignedAllowed: false },
  });
  lenient = createApi({
    ...testApiDeps(temp.db, store),
    packageSigning: { trustedKeys: [], unsignedAllowed: true },
  });
}, 60_000);
afterAll(async () => {
  await temp.dispose();
  await rm(keysDir, { recursive: true, force: true });
});

let version = 0;
const content = Buffer.from('signed firmware image '.repeat(200));
const digestOf = (bytes: Buffer) => createHash('sha256').update(bytes).digest();
const signatureOf = (bytes: Buffer, key: KeyObject, ecdsa = false) =>
  sign(ecdsa ? 'sha256' : null, digestOf(bytes), key).toString('base64');

function upload(app: Express, extra: Record<string, string>, file = content) {
  version++;
  const req = request(app).post('/v1/packages').set(auth);
  for (const [name, value] of Object.entries({
    name: 'fw',
    version: `3.0.${version}`,
    kind: 'firmware',
    product: 'meter',
    model: 'signed',
    ...extra,
  }))
    req.field(name, value);
  return req.attach('file', file, 'fw.bin');
}

describe('signed packages', () => {
  it('accepts a package signed by a trusted Ed25519 or ECDSA P-256 key, and shows who signed it', async () => {
    const ed = await upload(strict, { signature: signatureOf(content, release.privateKey) }).expect(201);
    expect(ed.body).toMatchObject({ signedBy: 'release-2026', signature: expect.any(String) });
    const ec = await upload(strict, {
      signature: signatureOf(content, factory.privateKey, true),
      sha256: digestOf(content).toString('hex'),
    }).expect(201);
    expect(ec.body.signedBy).toBe('factory');
    expect(
      (await request(strict).get(`/v1/packages/${ec.body.id}`).set(auth).expect(200)).body.signedBy,
    ).toBe('factory');
  });

  it('refuses a tampered, a mis-signed or an unsigned package with a 400 that says why, storing nothing', async () => {
    const before = store.objects.size;
    const tampered = Buffer.from(content);
    tampered.writeUInt8(tampered.readUInt8(10) ^ 1, 10);
    const refusedTampered = await upload(
      strict,
      { signature: signatureOf(content, release.privateKey) },
      tampered,
    ).expect(400);
    expect(refusedTampered.body.detail).toBe('the signature does not verify with any trusted release key');
    expect(refusedTampered.body.errors[0]).toMatchObject({ path: 'signature' });

    const foreign = await upload(strict, { signature: signatureOf(content, stranger.privateKey) }).expect(
      400,
    );
    expect(foreign.body.errors[0].message).toMatch(/by factory, release-2026/);

    const unsigned = await upload(strict, {}).expect(400);
    expect(unsigned.body.detail).toBe('this deployment accepts signed packages only');

    const wrongDigest = await upload(strict, {
      signature: signatureOf(content, release.privateKey),
      sha256: 'ab'.repeat(32),
    }).expect(400);
    expect(wrongDigest.body.errors[0]).toMatchObject({ path: 'sha256' });

    expect(store.objects.size).toBe(before);
    const { rows } = await temp.db.query(
      "select id from packages where model = 'signed' and signed_by is null",
    );
    expect(rows).toEqual([]);
  });

  it('accepts unsigned packages where no keys are configured, and refuses a signature it cannot check', async () => {
    expect((await upload(lenient, {}).expect(201)).body).toMatchObject({ signedBy: null, signature: null });
    const unverifiable = await upload(lenient, {
      signature: signatureOf(content, release.privateKey),
    }).expect(400);
    expect(unverifiable.body.errors[0].message).toMatch(/OTAFLOW_PACKAGE_SIGNING_KEYS_DIR/);
  });

  it('names a key file it cannot use', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'otaflow-bad-keys-'));
    await writeFile(path.join(dir, 'old.pem'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
    await expect(loadTrustedSigningKeys(dir)).rejects.toThrow(
      /old\.pem is a rsa .*Ed25519 or ECDSA P-256 only/,
    );
    await rm(dir, { recursive: true, force: true });
  });
});
