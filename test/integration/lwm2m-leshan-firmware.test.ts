/**
 * The product owner's acceptance check: a standard LwM2M client that otaflow's authors did not
 * write — Eclipse Leshan 1.5 (Maven Central), with a small device application on top
 * (test/unit/lwm2m/leshan/InteropClient.java) — registers with otaflow on the real stack and is
 * driven through the whole firmware flow: version read, radio read (object 4), observation of
 * /5/0/3 and /5/0/5, package URI write, a block-wise pull of the package by Californium, execute,
 * and the final version check. Needs Java and the client scripts/provision.sh builds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leshanClientClasspath } from '../support/leshan-client';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

const DEVICE_ID = 'leshan-nb-1';
const PRODUCT = { product: 'nb-meter', model: 'NB-1' };
const SOURCE = '1.0.0';
const TARGET = '2.0.0';
/** Larger than Californium's default 8 KiB reassembly limit and many blocks long. */
const PACKAGE_SIZE = 20_000;
const CLIENT_RUN_MS = 150_000;
const TASK_DEADLINE_MS = 90_000;

interface TaskDeviceRow {
  deviceId: string;
  outcome: string | null;
  failureCause: string | null;
  fromVersion: string | null;
}

describe('Eclipse Leshan client through the LwM2M firmware flow', () => {
  let stack: RealStack;
  let platform: TestPlatform;
  let client: ChildProcess | undefined;
  const clientOutput: string[] = [];

  beforeAll(async () => {
    stack = await startRealStack();
    platform = await startTestPlatform(stack, { embeddedBroker: true });
  });

  afterAll(async () => {
    client?.kill();
    await platform?.stop();
    await stack?.stop();
  });

  it('registers, downloads the whole package block-wise and reports the target version', async () => {
    await platform.api.post('/v1/devices', { id: DEVICE_ID, protocol: 'lwm2m', ...PRODUCT });
    const leshan = spawn(
      'java',
      [
        '-cp',
        leshanClientClasspath(),
        'InteropClient',
        DEVICE_ID,
        platform.addresses.lwm2m,
        String(CLIENT_RUN_MS),
        ...['--firmware-version', SOURCE, '--updated-version', TARGET],
        ...['--rsrp', '-85', '--sinr', '12', '--cell-id', '501'],
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    client = leshan;
    createInterface({ input: leshan.stdout }).on('line', (line) => clientOutput.push(line));

    await expect
      .poll(async () => (await platform.api.get<{ online: boolean }>(`/v1/devices/${DEVICE_ID}`)).online, {
        timeout: 20_000,
      })
      .toBe(true);

    const firmware = randomBytes(PACKAGE_SIZE);
    const form = new FormData();
    form.set('name', 'nb-meter firmware');
    form.set('version', TARGET);
    form.set('kind', 'firmware');
    form.set('product', PRODUCT.product);
    form.set('model', PRODUCT.model);
    form.set('file', new Blob([firmware]), `nb1-${TARGET}.bin`);
    const pkg = await platform.api.postForm<{ id: string; sha256: string }>('/v1/packages', form);
    const sha256 = createHash('sha256').update(firmware).digest('hex');
    expect(pkg.sha256).toBe(sha256);
    const task = await platform.api.post<{ id: string }>('/v1/tasks', {
      packageId: pkg.id,
      target: { deviceIds: [DEVICE_ID] },
    });

    await expect
      .poll(async () => (await platform.api.get<{ state: string }>(`/v1/tasks/${task.id}`)).state, {
        timeout: TASK_DEADLINE_MS,
        interval: 500,
      })
      .toBe('completed');
    const rows = await platform.api.get<{ items: TaskDeviceRow[] }>(`/v1/tasks/${task.id}/devices`);
    expect(rows.items).toEqual([
      expect.objectContaining({
        deviceId: DEVICE_ID,
        outcome: 'succeeded',
        failureCause: null,
        fromVersion: SOURCE,
      }),
    ]);
    const device = await platform.api.get<{ firmwareVersion: string | null }>(`/v1/devices/${DEVICE_ID}`);
    expect(device.firmwareVersion).toBe(TARGET);
    expect(clientOutput).toContain(`DOWNLOADED ${PACKAGE_SIZE} ${sha256}`);
    expect(clientOutput).toContain(`UPDATED ${TARGET}`);
  }, 120_000);
});
