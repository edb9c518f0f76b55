/**
 * A device's download token: the MinIO presigned query (MinIO checks the object, the signature and the
 * expiry) wrapped with the device it was issued to and when, under otaflow's own HMAC, so that otaflow
 * can refuse the tokens of a disabled device, or every token of a device or a package issued before a
 * revocation. The device sends it back unchanged (`Authorization: Bearer <token>`).
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export interface DownloadTokenClaims {
  deviceId: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  presignedQuery: string;
}

/** The token-signing key, derived from the data dir's secret key (so no second secret to keep). */
export function downloadTokenKey(secretKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), 'otaflow download tokens', 32));
}

const mac = (key: Buffer, payload: string) => createHmac('sha256', key).update(payload).digest();

export function sealDownloadToken(key: Buffer, claims: DownloadTokenClaims): string {
  const payload = Buffer.from(
    JSON.stringify([claims.deviceId, claims.issuedAt, claims.presignedQuery]),
  ).toString('base64url');
  return `${payload}.${mac(key, payload).toString('base64url')}`;
}

/** The claims of a token otaflow sealed, or why it is not one. */
export function openDownloadToken(key: Buffer, token: string): DownloadTokenClaims | 'malformed' | 'forged' {
  const [payload, signature, ...rest] = token.split('.');
  if (!payload || !signature || rest.length > 0) return 'malformed';
  const expected = mac(key, payload);
  const presented = Buffer.from(signature, 'base64url');
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return 'forged';
  try {
    const [deviceId, issuedAt, presignedQuery] = JSON.parse(
      Buffer.from(payload, 'base64url').toString('utf8'),
    );
    if (typeof deviceId === 'string' && typeof issuedAt === 'number' && typeof presignedQuery === 'string') {
      return { deviceId, issuedAt, presignedQuery };
    }
  } catch {
    // not JSON: malformed below
  }
  return 'malformed';
}
