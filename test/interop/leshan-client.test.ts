/**
 * Eclipse Leshan 1.5's client (Maven Central), a standard LwM2M client otaflow's authors did not
 * write, with a small device application on top (test/unit/lwm2m/leshan/InteropClient.java),
 * registers with otaflow on the real stack and is driven through whole upgrades:
 *   - the firmware flow (object 5), with the client refusing any GET without an Accept option (5.00),
 *     as some embedded clients do: version read, radio read (object 4), observation of /5/0/3 and
 *     /5/0/5, package URI write, a block-wise pull of the package by Californium, execute, and the
 *     final version check;
 *   - the software flow (object 9): version read, observation of /9/0/7 and /9/0/9, radio read,
 *     package URI write, pull, install, and the final version check.
 * Needs Java and the client scripts/provision.sh builds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client';
import { javaClientClasspath } from '../support/java-clients';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

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
  failureDetail: string | null;
  fromVersion: string | null;
}

async function uploadPackage(
  api: ApiClient,
  kind: 'firmware' | 'software',
  content: Buffer,
): Promise<string> {
  const form = new FormData();
  form.set('name', `nb-meter ${kind}`);
  form.set('version', TARGET);
  form.set('kind', kind);
  form.set('product', PRODUCT.product);
  form.set('model', PRODUCT.model);
  form.set('file', new Blob([content]), `nb1-${kind}-${TARGET}.bin`);
  const pkg = await api.postForm<{ id: string; sha256: string }>('/v1/packages', form);
  expect(pkg.sha256).toBe(createHash('sha256').update(content).digest('hex'));
  return pkg.id;
}

async function runTask(
  api: ApiClient,
  packageId: string,
  deviceId: string,
): Promise<TaskDeviceRow | undefined> {
  const task = await api.post<{ id: string }>('/v1/tasks', { packageId, target: { deviceIds: [deviceId] } });
  await expect
    .poll(async () => (await api.get<{ state: string }>(`/v1/tasks/${task.id}`)).state, {
      timeout: TASK_DEADLINE_MS,
      interval: 500,
    })
    .toBe('completed');
  return (await api.get<{ items: TaskDeviceRow[] }>(`/v1/tasks/${task.id}/devices`)).items[0];
}

describe('Eclipse Leshan client through the LwM2M firmware and software flows', () => {
  let stack: RealStack;
  let platform: TestPlatform;
  let client: ChildProcess | undefined;

  beforeAll(async () => {
    stack = await startRealStack();
    platform = await startTestPlatform(stack, { embeddedBroker: true });
  });

  afterEach(() => {
    client?.kill();
  });

  afterAll(async () => {
    await platform?.stop();
    await stack?.stop();
  });

  async function startLeshan(deviceId: string, extraArgs: string[]): Promise<string[]> {
    await platform.api.post('/v1/devices', { id: deviceId, protocol: 'lwm2m', ...PRODUCT });
    const output: string[] = [];
    const leshan = spawn(
      'java',
      [
        '-cp',
        javaClientClasspath('leshan-client'),
        'InteropClient',
        deviceId,
        platform.addresses.lwm2m,
        String(CLIENT_RUN_MS),
        ...['--updated-version', TARGET, '--rsrp', '-85', '--sinr', '12', '--cell-id', '501'],
        ...extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    client = leshan;
    createInterface({ input: leshan.stdout }).on('line', (line) => output.push(line));
    await expect
      .poll(async () => (await platform.api.get<{ online: boolean }>(`/v1/devices/${deviceId}`)).online, {
        timeout: 20_000,
      })
      .toBe(true);
    return output;
  }

  it('upgrades firmware while refusing every GET without Accept, pulling the whole package block-wise', async () => {
    const output = await startLeshan('leshan-fw', ['--firmware-version', SOURCE, '--strict-accept', 'true']);
    const firmware = randomBytes(PACKAGE_SIZE);

    const row = await runTask(
      platform.api,
      await uploadPackage(platform.api, 'firmware', firmware),
      'leshan-fw',
    );

    expect(row).toMatchObject({
      outcome: 'succeeded',
      failureCause: null,
      failureDetail: null,
      fromVersion: SOURCE,
    });
    const device = await platform.api.get<{ firmwareVersion: string | null }>('/v1/devices/leshan-fw');
    expect(device.firmwareVersion).toBe(TARGET);
    const sha256 = createHash('sha256').update(firmware).digest('hex');
    expect(output).toEqual([`DOWNLOADED ${PACKAGE_SIZE} ${sha256} coap`, `UPDATED ${TARGET}`]);
  }, 120_000);

  it('upgrades software through object 9: pull, install, and the new version read back', async () => {
    const output = await startLeshan('leshan-sw', ['--software-version', SOURCE]);
    const software = randomBytes(PACKAGE_SIZE);

    const row = await runTask(
      platform.api,
      await uploadPackage(platform.api, 'software', software),
      'leshan-sw',
    );

    expect(row).toMatchObject({
      outcome: 'succeeded',
      failureCause: null,
      failureDetail: null,
      fromVersion: SOURCE,
    });
    const device = await platform.api.get<{ softwareVersion: string | null }>('/v1/devices/leshan-sw');
    expect(device.softwareVersion).toBe(TARGET);
    const sha256 = createHash('sha256').update(software).digest('hex');
    expect(output).toEqual([`DOWNLOADED ${PACKAGE_SIZE} ${sha256} coap`, `INSTALLED ${TARGET}`]);
  }, 120_000);
});
