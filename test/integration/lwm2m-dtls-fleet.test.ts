/**
 * Simulated NB-IoT devices over DTLS, as `npm run demo` runs them: each with the pre-shared key the
 * API gave it, its CoAP carried by components/dtls-tunnels (pion/dtls as a client) to the platform's
 * DTLS terminator. They upgrade firmware through coaps:// package URIs, one of them losing its
 * download connection half-way and resuming it from a new socket through the same session; a
 * queue-mode device (binding UQ), asleep but for a moment after each uplink, upgrades the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DtlsTunnels, startDtlsTunnels } from '../../src/simulator/dtls-tunnels';
import { SimulatedLwm2mDevice } from '../../src/simulator/lwm2m-device';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { outcomesOf, runTaskToCompletion, uploadFirmware } from '../support/rollout';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

const PRODUCT = { product: 'nb-meter', model: 'NB-DTLS' };
const TARGET = '2.0.0';

describe('simulated NB-IoT devices over DTLS tunnels', () => {
  let stack: RealStack;
  let platform: TestPlatform;
  let tunnels: DtlsTunnels;
  const devices: SimulatedLwm2mDevice[] = [];

  beforeAll(async () => {
    stack = await startRealStack();
    platform = await startTestPlatform(stack, { embeddedBroker: true, dtls: true, queueModeAwakeSeconds: 2 });
    tunnels = startDtlsTunnels((platform.addresses.lwm2mDtls as string).replace('coaps://', ''));
  });

  afterAll(async () => {
    await Promise.all(devices.map((device) => device.stop()));
    await tunnels?.stop();
    await platform?.stop();
    await stack?.stop();
  });

  it('upgrade firmware through coaps:// URIs, a dropped download resuming through the same session', async () => {
    const downloads: string[] = [];
    for (const [index, id] of ['dtls-sim-1', 'dtls-sim-2'].entries()) {
      const { pskKey } = await platform.api.post<{ pskKey: string }>('/v1/devices', {
        id,
        protocol: 'lwm2m',
        ...PRODUCT,
      });
      const tunnel = await tunnels.open({ id, identity: id, key: pskKey });
      expect(tunnel.handshakeMs).toBeGreaterThan(0);
      const via = `coap://127.0.0.1:${tunnel.port}`;
      const device = new SimulatedLwm2mDevice({
        endpoint: id,
        serverUri: via,
        coapsVia: via,
        cellId: 101,
        firmwareVersion: '1.0.0',
        updatedVersion: TARGET,
        dropDownloadAtBlock: index === 1 ? 5 : undefined,
      });
      device.on('download-started', ({ uri }) => downloads.push(uri));
      devices.push(device);
      await device.start();
    }
    const resumed: number[] = [];
    devices[1]?.on('download-resumed', ({ offset }) => resumed.push(offset));

    const taskId = await upgrade(['dtls-sim-1', 'dtls-sim-2']);
    expect(await outcomesOf(platform.api, taskId)).toEqual({
      'dtls-sim-1': 'succeeded',
      'dtls-sim-2': 'succeeded',
    });
    expect(downloads).toHaveLength(2);
    for (const uri of downloads) expect(uri).toMatch(/^coaps:\/\/127\.0\.0\.1:\d+\/fw\//);
    expect(resumed).toEqual([5 * 512]);
    for (const device of devices) expect(device.firmwareVersion).toBe(TARGET);
  }, 120_000);

  it('upgrade a queue-mode device: commands wait for its next uplink, none reaches it asleep', async () => {
    const id = 'dtls-sim-queue';
    const model = 'NB-DTLS-Q';
    const { pskKey } = await platform.api.post<{ pskKey: string }>('/v1/devices', {
      id,
      protocol: 'lwm2m',
      ...PRODUCT,
      model,
    });
    const tunnel = await tunnels.open({ id, identity: id, key: pskKey });
    const via = `coap://127.0.0.1:${tunnel.port}`;
    const device = new SimulatedLwm2mDevice({
      endpoint: id,
      serverUri: via,
      coapsVia: via,
      cellId: 102,
      firmwareVersion: '1.0.0',
      updatedVersion: TARGET,
      queueMode: true,
      // The platform reckons it reachable for 2 s after each uplink; it listens a little longer.
      awakeMs: 3_000,
      updateIntervalMs: 6_000,
    });
    devices.push(device);
    const lostWhileAsleep: string[] = [];
    const heardAt: number[] = [];
    device.on('request-while-asleep', ({ path }) => lostWhileAsleep.push(path));
    device.on('request', () => heardAt.push(Date.now()));
    await device.start();

    let taskCreatedAt = 0;
    const taskId = await upgrade([id], model, async () => {
      // Create the task while it sleeps: 3.5 s after an Update, 2.5 s before the next.
      await new Promise<void>((resolve) => device.once('updated', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 3_500));
      taskCreatedAt = Date.now();
    });
    expect(await outcomesOf(platform.api, taskId)).toEqual({ [id]: 'succeeded' });
    expect(device.firmwareVersion).toBe(TARGET);
    const firstCommand = heardAt.find((at) => at >= taskCreatedAt);
    expect((firstCommand ?? 0) - taskCreatedAt).toBeGreaterThanOrEqual(2_000);
    expect(lostWhileAsleep).toEqual([]);
  }, 150_000);

  /** Uploads a package for the model and runs a task for the devices to completion; its ID. */
  async function upgrade(
    deviceIds: string[],
    model = PRODUCT.model,
    beforeTask = async () => {},
  ): Promise<string> {
    const pkg = await uploadFirmware(platform.api, { ...PRODUCT, model, version: TARGET });
    await beforeTask();
    return runTaskToCompletion(platform.api, pkg.id, deviceIds, 120_000);
  }
});
