import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import path from 'node:path';
import { secretSetting } from '../data-dir-secrets';

/**
 * Device secrets are needed in clear to check the MQTT HMAC password, so they are encrypted at rest
 * (AES-256-GCM) rather than hashed. Ciphertexts read `v1.<iv>.<tag>.<ciphertext>`, base64url parts.
 */
export interface SecretBox {
  encrypt(plaintext: string): string;
  /** Throws when the ciphertext was tampered with or sealed under another key. */
  decrypt(ciphertext: string): string;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const FORMAT = 'v1';

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== KEY_BYTES)
    throw new Error(`the secret key must be ${KEY_BYTES} bytes, got ${key.length}`);
  return {
    encrypt(plaintext) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [FORMAT, iv, cipher.getAuthTag(), sealed].map((part) => part.toString('base64url')).join('.');
    },
    decrypt(ciphertext) {
      const [format, iv, tag, sealed] = ciphertext.split('.');
      if (format !== FORMAT || iv === undefined || tag === undefined || sealed === undefined) {
        throw new Error('not an otaflow secret ciphertext');
      }
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64url')), decipher.final()]).toString(
        'utf8',
      );
    },
  };
}

/** A device secret for a device provisioned without one: 256 random bits. */
export function generateDeviceSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The key from `OTAFLOW_SECRET_KEY` (64 hex digits or base64 of 32 bytes); without one, the key kept
 * in `<dataDir>/secret.key` (readable by the owner only), generated on first use.
 */
export async function loadSecretKey(options: { configuredKey?: string; dataDir: string }): Promise<Buffer> {
  if (options.configuredKey) return parseKey(options.configuredKey, 'OTAFLOW_SECRET_KEY');
  const { value } = await secretSetting({
    dataDir: options.dataDir,
    fileName: 'secret.key',
    generate: () => randomBytes(KEY_BYTES).toString('hex'),
    check: (text) => /^[0-9a-fA-F]{64}$/.test(text) || Buffer.from(text, 'base64').length === KEY_BYTES,
    holds: `${KEY_BYTES} bytes as 64 hex digits or base64`,
  });
  return parseKey(value, path.join(options.dataDir, 'secret.key'));
}

function parseKey(text: string, source: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new Error(`${source} must hold ${KEY_BYTES} bytes as 64 hex digits or base64`);
  }
  return key;
}
