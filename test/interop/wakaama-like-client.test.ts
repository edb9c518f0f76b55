/**
 * Stands for an LwM2M 1.1 client built on Eclipse Wakaama (read from its public source, core/utils.c
 * utils_getResponseFormat, and from a device in the field; docs/interop.md): it announces `ct=110` at
 * registration, answers a GET only in the format its Accept option names and only if it was built
 * with that format (plain text for a single resource), 4.06 for any other, and 5.00 to a GET without
 * Accept. Wakaama itself is not served by the registries here, so otaflow's simulator plays it
 * (`acceptOnly`, `announcedContentFormat`), over real UDP against otaflow on the real stack.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client';
import { SimulatedLwm2mDevice, type SimulatedLwm2mDeviceOptions } from '../../src/simulator/lwm2m-device';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

const PRODUCT = { product: 'nb-meter', model: 'NB-W' };
const TARGET = '2.0.0';
const TASK_DEADLINE_MS = 120_000;

interface TaskDeviceRow {
  deviceId: string;
  step: string;
  outcome: string | null;
  failureCause: string | null;
  failureDetail: string | null;
  fromVersion: string | null;
}

async function uploadFirmware(api: ApiClient): Promise<string> {
  const firmware = randomBytes(6_000);
  const form = new FormData();
  form.set('name', 'nb-meter firmware');
  form.set('version', TARGET);
  form.set('kind', 'firmware');
  form.set('product', PRODUCT.product);
  form.set('model', PRODUCT.model);
  form.set('file', new Blob([firmware]), `nbw-${TARGET}.bin`);
  const pkg = await api.postForm<{ id: string; sha256: string }>('/v1/packages', form);
  expect(pkg.sha256).toBe(createHash('sha256').update(firmware).digest('hex'));
  return pkg.id;
}

async function upgradeTask(
  api: ApiClient,
  packageId: string,
  deviceIds: string[],
): Promise<Map<string, TaskDeviceRow>> {
  const task = await api.post<{ id: string }>('/v1/tasks', { packageId, target: { deviceIds } });
  await expect
    .poll(async () => (await api.get<{ state: string }>(`/v1/tasks/${task.id}`)).state, {
      timeout: TASK_DEADLINE_MS,
      interval: 500,
    })
    .toBe('completed');
  const rows = await api.get<{ items: TaskDeviceRow[] }>(`/v1/tasks/${task.id}/devices`);
  return new Map(rows.items.map((row) => [row.deviceId, row]));
}

describe('an LwM2M 1.1 client that answers only an explicit Accept (Wakaama-built)', () => {
  let stack: RealStack;
  let platform: TestPlatform;
  let packageId: string;
  const devices: SimulatedLwm2mDevice[] = [];

  beforeAll(async () => {
    stack = await startRealStack();
    platform = await startTestPlatform(stack, { embeddedBroker: true });
    packageId = await uploadFirmware(platform.api);
  });

  afterAll(async () => {
    await Promise.all(devices.map((device) => device.stop()));
    await platform?.stop();
    await stack?.stop();
  });

  async function startClient(endpoint: string, options: Partial<SimulatedLwm2mDeviceOptions>) {
    await platform.api.post('/v1/devices', { id: endpoint, protocol: 'lwm2m', ...PRODUCT });
    const device = new SimulatedLwm2mDevice({
      endpoint,
      serverUri: platform.addresses.lwm2m,
      lwm2mVersion: '1.1',
      announcedContentFormat: 110,
      firmwareVersion: '1.0.0',
      updatedVersion: TARGET,
      cellId: 7001,
      rsrp: -85,
      sinr: 12,
      ...options,
    });
    devices.push(device);
    const steps: string[] = [];
    device.on('download-started', () => steps.push('download-started'));
    await device.start();
    await expect
      .poll(async () => (await platform.api.get<{ online: boolean }>(`/v1/devices/${endpoint}`)).online)
      .toBe(true);
    return steps;
  }

  it('completes the version, radio and permit steps and the whole firmware upgrade', async () => {
    const steps = await startClient('wakaama-1', { acceptOnly: ['text', 'senml-json'] });

    const results = await upgradeTask(platform.api, packageId, ['wakaama-1']);

    expect(results.get('wakaama-1')).toMatchObject({
      outcome: 'succeeded',
      failureCause: null,
      failureDetail: null,
      fromVersion: '1.0.0',
    });
    expect(steps).toEqual(['download-started']);
  });

  it("fails a client that refuses every format with the seed's cause and what it answered", async () => {
    // Built without plain text or SenML JSON: every read otaflow tries is refused.
    await startClient('wakaama-2', { acceptOnly: ['tlv'] });

    const results = await upgradeTask(platform.api, packageId, ['wakaama-2']);

    expect(results.get('wakaama-2')).toMatchObject({
      outcome: 'failed',
      failureCause: 'Waiting for report device firmware version timeout',
      failureDetail:
        'device answered 4.06 to GET /3/0/3 with Accept 0 (text/plain), and 4.06 with Accept 110 (SenML JSON)',
    });
  });
});
