import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSecretBox, generateDeviceSecret, loadSecretKey } from '../../../src/devices/secrets';

describe('device secret encryption', () => {
  const box = createSecretBox(Buffer.alloc(32, 1));

  it('decrypts what it encrypted, with a fresh IV each time', () => {
    const first = box.encrypt('s3cret-value');
    const second = box.encrypt('s3cret-value');
    expect(first).not.toBe(second);
    expect(first).not.toContain('s3cret');
    expect(box.decrypt(first)).toBe('s3cret-value');
    expect(box.decrypt(second)).toBe('s3cret-value');
  });

  it('refuses a tampered ciphertext', () => {
    const [format, iv, tag, sealed = ''] = box.encrypt('s3cret-value').split('.');
    const flipped = Buffer.from(sealed, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() => box.decrypt([format, iv, tag, flipped.toString('base64url')].join('.'))).toThrow();
    expect(() => box.decrypt('plain text')).toThrow(/not an otaflow secret/);
  });

  it('refuses a ciphertext sealed under another key', () => {
    const other = createSecretBox(Buffer.alloc(32, 2));
    expect(() => box.decrypt(other.encrypt('s3cret-value'))).toThrow();
  });

  it('generates long random device secrets', () => {
    const secret = generateDeviceSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateDeviceSecret()).not.toBe(secret);
  });
});

describe('secret key', () => {
  let dataDir: string | undefined;
  afterEach(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('generates a key file readable by its owner only, and reuses it', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'otaflow-key-'));
    const key = await loadSecretKey({ dataDir });
    const keyFile = path.join(dataDir, 'secret.key');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(key).toHaveLength(32);
    expect(await loadSecretKey({ dataDir })).toEqual(key);
    expect((await readFile(keyFile, 'utf8')).trim()).toBe(key.toString('hex'));
  });

  it('takes a configured key as hex or base64, and names the variable when it is wrong', async () => {
    const key = Buffer.alloc(32, 9);
    expect(await loadSecretKey({ configuredKey: key.toString('hex'), dataDir: '/nonexistent' })).toEqual(key);
    expect(await loadSecretKey({ configuredKey: key.toString('base64'), dataDir: '/nonexistent' })).toEqual(
      key,
    );
    await expect(loadSecretKey({ configuredKey: 'short', dataDir: '/nonexistent' })).rejects.toThrow(
      /OTAFLOW_SECRET_KEY/,
    );
  });
});
