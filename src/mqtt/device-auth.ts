/**
 * MQTT CONNECT authentication as the seed platform's device SDKs perform it ("one device, one secret"):
 *
 *   clientId = {device_id}_0_{signType}_{YYYYMMDDHH}   (UTC hour; "0" = device-ID identity)
 *   username = {device_id}
 *   password = hex(HMAC-SHA256(key = YYYYMMDDHH, message = device secret))
 *
 * signType "1" asks the platform to also check that the timestamp is current; "0" does not.
 * The gateway's own service account (configured username/password) is accepted as well.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { DeviceRegistry } from '../devices/registry';
import { isValidDeviceId } from './ota-protocol';

export type SignType = '0' | '1';

export type MqttPrincipal = { kind: 'device'; deviceId: string } | { kind: 'service' };

export type AuthResult = { ok: true; principal: MqttPrincipal } | { ok: false; reason: string };

export interface ConnectCredentials {
  clientId: string;
  username: string | undefined;
  password: Buffer | string | undefined;
}

export interface ServiceAccount {
  username: string;
  password: string;
}

/** How far a signType "1" timestamp may be from the current hour (device clock skew). */
const ALLOWED_SKEW_MS = 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;

/** `YYYYMMDDHH` of the UTC hour `at` falls in. */
export function hourTimestamp(at: Date): string {
  return at.toISOString().slice(0, 13).replace(/[-T]/g, '');
}

export function devicePassword(secret: string, timestamp: string): string {
  return createHmac('sha256', timestamp).update(secret).digest('hex');
}

/** The CONNECT fields a device computes from its ID and secret (what the SDKs do). */
export function deviceCredentials(
  deviceId: string,
  secret: string,
  signType: SignType = '1',
  at = new Date(),
): { clientId: string; username: string; password: string } {
  const timestamp = hourTimestamp(at);
  return {
    clientId: `${deviceId}_0_${signType}_${timestamp}`,
    username: deviceId,
    password: devicePassword(secret, timestamp),
  };
}

export interface DeviceClientId {
  deviceId: string;
  signType: SignType;
  timestamp: string;
  hourStart: Date;
}

/** Parsed from the right: device IDs of the seed platform themselves contain underscores. */
export function parseDeviceClientId(clientId: string): DeviceClientId | string {
  const match = /^(.+)_0_([01])_(\d{10})$/.exec(clientId);
  if (!match) return 'clientId is not {device_id}_0_{signType}_{YYYYMMDDHH}';
  const [, deviceId = '', signType, timestamp = ''] = match;
  const hourStart = new Date(
    Date.UTC(
      Number(timestamp.slice(0, 4)),
      Number(timestamp.slice(4, 6)) - 1,
      Number(timestamp.slice(6, 8)),
      Number(timestamp.slice(8, 10)),
    ),
  );
  if (hourTimestamp(hourStart) !== timestamp)
    return `clientId timestamp '${timestamp}' is not a valid UTC hour`;
  return { deviceId, signType: signType as SignType, timestamp, hourStart };
}

/** Constant-time string comparison; hashing first gives equal lengths without leaking them. */
export function secureEquals(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export interface DeviceAuthenticatorOptions {
  registry: Pick<DeviceRegistry, 'getDeviceSecret'>;
  serviceAccount: ServiceAccount;
  now?: () => Date;
  refusedLoginsPerDevicePerMinute?: number;
}

/**
 * Refused logins under one device ID per minute (someone guessing its secret, through the embedded
 * broker or Mosquitto alike); then logins under it are refused for the rest of the minute without a
 * lookup, the right secret's too.
 */
export const REFUSED_LOGINS_PER_DEVICE_PER_MINUTE = 20;

export type DeviceAuthenticator = (credentials: ConnectCredentials) => Promise<AuthResult>;

/**
 * The username of the service account is reserved: a CONNECT with it is only ever checked against
 * the service password, so no device may be registered under that ID.
 */
export function createDeviceAuthenticator(options: DeviceAuthenticatorOptions): DeviceAuthenticator {
  const now = options.now ?? (() => new Date());
  const points = options.refusedLoginsPerDevicePerMinute ?? REFUSED_LOGINS_PER_DEVICE_PER_MINUTE;
  const refusedLogins = new RateLimiterMemory({ points, duration: 60 });
  return async ({ clientId, username, password }) => {
    const presented = password === undefined ? '' : password.toString();
    if (username === options.serviceAccount.username) {
      return secureEquals(presented, options.serviceAccount.password)
        ? { ok: true, principal: { kind: 'service' } }
        : { ok: false, reason: 'wrong password for the service account' };
    }
    const parsed = parseDeviceClientId(clientId);
    if (typeof parsed === 'string') return { ok: false, reason: parsed };
    if (!isValidDeviceId(parsed.deviceId))
      return { ok: false, reason: 'device ID in clientId is not a valid device ID' };
    if (username !== parsed.deviceId) {
      return { ok: false, reason: `username does not match the device ID '${parsed.deviceId}' in clientId` };
    }
    if (parsed.signType === '1') {
      const offset = now().getTime() - parsed.hourStart.getTime();
      if (offset < -ALLOWED_SKEW_MS || offset >= HOUR_MS + ALLOWED_SKEW_MS) {
        return { ok: false, reason: `clientId timestamp ${parsed.timestamp} is not current (signType 1)` };
      }
    }
    const refusals = await refusedLogins.get(parsed.deviceId);
    if (refusals && refusals.consumedPoints >= points) {
      return { ok: false, reason: `too many refused logins for device '${parsed.deviceId}' in a minute` };
    }
    const secret = await options.registry.getDeviceSecret(parsed.deviceId);
    if (
      secret !== undefined &&
      secureEquals(presented.toLowerCase(), devicePassword(secret, parsed.timestamp))
    ) {
      return { ok: true, principal: { kind: 'device', deviceId: parsed.deviceId } };
    }
    await refusedLogins.penalty(parsed.deviceId);
    return secret === undefined
      ? { ok: false, reason: `unknown or disabled device '${parsed.deviceId}'` }
      : { ok: false, reason: `wrong password for device '${parsed.deviceId}'` };
  };
}
