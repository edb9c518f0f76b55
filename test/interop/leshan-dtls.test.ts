/**
 * LwM2M over DTLS 1.2 with pre-shared keys, proven with Eclipse Leshan 1.5's client (Californium's
 * Scandium does the DTLS; otaflow's authors wrote neither) against the platform's DTLS terminator
 * (pion/dtls) on the real stack:
 *   - a device provisioned with a key (the default while LWM2M_DTLS is on) registers over DTLS and
 *     goes through the whole firmware flow, downloading its package from a coaps:// URI;
 *   - a wrong key gets no session, and a valid session cannot register another device's endpoint;
 *   - the device's endpoint over plain CoAP is refused, saying why.
 * Needs Java, the client and the terminator scripts/provision.sh builds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { javaClientClasspath } from '../support/java-clients';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

const PRODUCT = { product: 'nb-meter', model: 'NB-1' };
const SOURCE = '1.0.0';
const TARGET = '2.0.0';
const PACKAGE_SIZE = 20_000;
const CLIENT_RUN_MS = 150_000;
const TASK_DEADLINE_MS = 90_000;

interface CreatedDevice {
  id: string;
  pskIdentity: string | null;
  pskKey?: string;
}

describe('Eclipse Leshan client over DTLS with a pre-shared key', () => {
  let stack: RealStack;
  let platform: TestPlatform;
  const clients: ChildProcess[] = [];

  beforeAll(async () => {
    stack = await startRealStack();
    platform = await startTestPlatform(stack, { embeddedBroker: true, dtls: true });
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.kill();
  });

  afterAll(async () => {
    await platform?.stop();
    await stack?.stop();
  });

  function createDevice(id: string): Promise<CreatedDevice> {
    return platform.api.post<CreatedDevice>('/v1/devices', { id, protocol: 'lwm2m', ...PRODUCT });
  }

  function startLeshan(endpoint: string, server: string, extraArgs: string[]): string[] {
    const output: string[] = [];
    const leshan = spawn(
      'java',
      [
        '-cp',
        javaClientClasspath('leshan-client'),
        'InteropClient',
        endpoint,
        server,
        String(CLIENT_RUN_MS),
        ...['--firmware-version', SOURCE, '--updated-version', TARGET, '--report-registration', 'true'],
        ...extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    clients.push(leshan);
    createInterface({ input: leshan.stdout }).on('line', (line) => output.push(line));
    return output;
  }

  const online = async (deviceId: string) =>
    (await platform.api.get<{ online: boolean }>(`/v1/devices/${deviceId}`)).online;

  it('registers under its PSK identity and upgrades firmware, downloading from a coaps:// URI', async () => {
    const device = await createDevice('dtls-fw');
    expect(device.pskIdentity).toBe('dtls-fw');
    expect(device.pskKey).toMatch(/^[0-9a-f]{32}$/);
    const output = startLeshan('dtls-fw', platform.addresses.lwm2mDtls as string, [
      '--psk-identity',
      'dtls-fw',
      '--psk-key',
      device.pskKey as string,
    ]);
    await expect.poll(() => online('dtls-fw'), { timeout: 20_000 }).toBe(true);

    const firmware = randomBytes(PACKAGE_SIZE);
    const form = new FormData();
    form.set('name', 'nb-meter firmware');
    form.set('version', TARGET);
    form.set('kind', 'firmware');
    form.set('product', PRODUCT.product);
    form.set('model', PRODUCT.model);
    form.set('file', new Blob([firmware]), `nb1-firmware-${TARGET}.bin`);
    const pkg = await platform.api.postForm<{ id: string }>('/v1/packages', form);
    const task = await platform.api.post<{ id: string }>('/v1/tasks', {
      packageId: pkg.id,
      target: { deviceIds: ['dtls-fw'] },
    });
    await expect
      .poll(async () => (await platform.api.get<{ state: string }>(`/v1/tasks/${task.id}`)).state, {
        timeout: TASK_DEADLINE_MS,
        interval: 500,
      })
      .toBe('completed');

    const rows = await platform.api.get<{ items: { outcome: string; failureCause: string | null }[] }>(
      `/v1/tasks/${task.id}/devices`,
    );
    expect(rows.items[0]).toMatchObject({ outcome: 'succeeded', failureCause: null });
    const sha256 = createHash('sha256').update(firmware).digest('hex');
    expect(output).toEqual(['REGISTERED', `DOWNLOADED ${PACKAGE_SIZE} ${sha256} coaps`, `UPDATED ${TARGET}`]);
  }, 120_000);

  it('gives a wrong key no session: the device never registers', async () => {
    await createDevice('dtls-wrong-key');
    const output = startLeshan('dtls-wrong-key', platform.addresses.lwm2mDtls as string, [
      '--psk-identity',
      'dtls-wrong-key',
      '--psk-key',
      randomBytes(16).toString('hex'),
    ]);
    await expect.poll(() => output.length, { timeout: 60_000, interval: 500 }).toBeGreaterThan(0);
    expect(output[0]).toMatch(/^REGISTRATION (FAILED|TIMEOUT)/);
    expect(output).not.toContain('REGISTERED');
    expect(await online('dtls-wrong-key')).toBe(false);
  }, 90_000);

  it("refuses a valid session's Register under another device's endpoint", async () => {
    await createDevice('dtls-victim');
    const intruder = await createDevice('dtls-intruder');
    const output = startLeshan('dtls-victim', platform.addresses.lwm2mDtls as string, [
      '--psk-identity',
      'dtls-intruder',
      '--psk-key',
      intruder.pskKey as string,
    ]);
    await expect.poll(() => output.length, { timeout: 30_000, interval: 500 }).toBeGreaterThan(0);
    expect(output[0]).toBe(
      'REGISTRATION FAILED FORBIDDEN the endpoint name does not match the DTLS identity',
    );
    expect(await online('dtls-victim')).toBe(false);
  }, 60_000);

  it('ends the session of a device disabled through the API: it cannot handshake again and goes offline', async () => {
    const device = await createDevice('dtls-disabled');
    startLeshan('dtls-disabled', platform.addresses.lwm2mDtls as string, [
      '--psk-identity',
      'dtls-disabled',
      '--psk-key',
      device.pskKey as string,
    ]);
    await expect.poll(() => online('dtls-disabled'), { timeout: 20_000 }).toBe(true);
    await platform.api.post('/v1/devices/dtls-disabled/disable', {});
    // Its registration (lifetime 30 s) can no longer be updated: no session, and no new one.
    await expect.poll(() => online('dtls-disabled'), { timeout: 60_000, interval: 1_000 }).toBe(false);
  }, 90_000);

  it('refuses the endpoint of a device provisioned with a key over plain CoAP', async () => {
    await createDevice('dtls-plain-attempt');
    const output = startLeshan('dtls-plain-attempt', platform.addresses.lwm2m, []);
    await expect.poll(() => output.length, { timeout: 30_000, interval: 500 }).toBeGreaterThan(0);
    expect(output[0]).toBe(
      'REGISTRATION FAILED FORBIDDEN the endpoint is provisioned with a pre-shared key: register over DTLS',
    );
    expect(await online('dtls-plain-attempt')).toBe(false);
  }, 60_000);
});
