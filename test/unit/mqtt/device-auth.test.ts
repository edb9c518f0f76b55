import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createDeviceAuthenticator, deviceCredentials } from '../../../src/mqtt/device-auth';

const now = new Date('2025-06-01T12:34:56Z');
const secrets: Record<string, string> = { 'prod_dev-1': 's3cret' };
const authenticate = createDeviceAuthenticator({
  registry: { getDeviceSecret: async (id) => secrets[id] },
  serviceAccount: { username: 'otaflow-gateway', password: 'service-password' },
  now: () => now,
});

function connect(clientId: string, username: string | undefined, password: string | undefined) {
  return authenticate({
    clientId,
    username,
    password: password === undefined ? undefined : Buffer.from(password),
  });
}

describe('device credentials', () => {
  it('are computed like the SDKs: HMAC-SHA256 keyed by the UTC hour over the secret', () => {
    const credentials = deviceCredentials('prod_dev-1', 's3cret', '1', now);
    expect(credentials.clientId).toBe('prod_dev-1_0_1_2025060112');
    expect(credentials.username).toBe('prod_dev-1');
    expect(credentials.password).toBe(createHmac('sha256', '2025060112').update('s3cret').digest('hex'));
  });
});

describe('createDeviceAuthenticator', () => {
  it('accepts a device with the right HMAC password (device IDs with underscores included)', async () => {
    const { clientId, username, password } = deviceCredentials('prod_dev-1', 's3cret', '1', now);
    expect(await connect(clientId, username, password)).toEqual({
      ok: true,
      principal: { kind: 'device', deviceId: 'prod_dev-1' },
    });
  });

  it('refuses a wrong password', async () => {
    const { clientId, username } = deviceCredentials('prod_dev-1', 's3cret', '1', now);
    const wrong = deviceCredentials('prod_dev-1', 'not-the-secret', '1', now).password;
    expect(await connect(clientId, username, wrong)).toEqual({
      ok: false,
      reason: "wrong password for device 'prod_dev-1'",
    });
  });

  it('refuses an unknown device', async () => {
    const { clientId, username, password } = deviceCredentials('ghost', 's3cret', '1', now);
    expect(await connect(clientId, username, password)).toEqual({
      ok: false,
      reason: "unknown or disabled device 'ghost'",
    });
  });

  it('refuses a stale timestamp with signType 1 but allows an hour of skew', async () => {
    const stale = deviceCredentials('prod_dev-1', 's3cret', '1', new Date('2025-06-01T09:00:00Z'));
    const result = await connect(stale.clientId, stale.username, stale.password);
    expect(result).toEqual({
      ok: false,
      reason: 'clientId timestamp 2025060109 is not current (signType 1)',
    });

    const skewed = deviceCredentials('prod_dev-1', 's3cret', '1', new Date('2025-06-01T11:10:00Z'));
    expect((await connect(skewed.clientId, skewed.username, skewed.password)).ok).toBe(true);
  });

  it('does not check the timestamp with signType 0', async () => {
    const old = deviceCredentials('prod_dev-1', 's3cret', '0', new Date('2024-01-01T00:00:00Z'));
    expect((await connect(old.clientId, old.username, old.password)).ok).toBe(true);
  });

  it('refuses a username that differs from the device in the clientId', async () => {
    const { clientId, password } = deviceCredentials('prod_dev-1', 's3cret', '1', now);
    const result = await connect(clientId, 'other', password);
    expect(result).toEqual({
      ok: false,
      reason: "username does not match the device ID 'prod_dev-1' in clientId",
    });
  });

  it('refuses a malformed clientId', async () => {
    expect(await connect('prod_dev-1', 'prod_dev-1', 'x')).toEqual({
      ok: false,
      reason: 'clientId is not {device_id}_0_{signType}_{YYYYMMDDHH}',
    });
    expect((await connect('prod_dev-1_0_1_2025139912', 'prod_dev-1', 'x')).ok).toBe(false);
  });

  it('accepts the service account only with its password', async () => {
    expect(await connect('anything', 'otaflow-gateway', 'service-password')).toEqual({
      ok: true,
      principal: { kind: 'service' },
    });
    expect(await connect('anything', 'otaflow-gateway', 'guess')).toEqual({
      ok: false,
      reason: 'wrong password for the service account',
    });
  });
});
