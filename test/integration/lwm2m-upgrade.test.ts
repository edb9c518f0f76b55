import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client';
import { SimulatedLwm2mDevice } from '../../src/simulator/lwm2m-device';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

/**
 * Seed 000 at fleet scale on the real stack: NB-IoT devices in three cells of different coverage
 * register with otaflow's LwM2M server over UDP and take a firmware upgrade, while the test counts,
 * at the device side, how many devices of each cell are downloading at once.
 */

const PRODUCT = { product: 'nb-meter', model: 'NB-1' };
const TARGET = '2.0.0';
const TASK_DEADLINE_MS = 420_000;

/** RSRP dBm / SINR dB per coverage class, against the default ranges (docs/cell-limiter.md). */
const coverage = {
  good: { rsrp: -85, sinr: 12, limit: 50 },
  fair: { rsrp: -95, sinr: 0, limit: 10 },
  poor: { rsrp: -110, sinr: -5, limit: 1 },
} as const;

interface PlannedDevice {
  id: string;
  cellId: number;
  coverage: keyof typeof coverage;
}

function plan(): PlannedDevice[] {
  const devices: PlannedDevice[] = [];
  const add = (cellId: number, kind: keyof typeof coverage, count: number) => {
    for (let i = 0; i < count; i++) devices.push({ id: `nb-${cellId}-${kind}-${i}`, cellId, coverage: kind });
  };
  add(101, 'good', 55); // more devices than the cell's 50 permits
  add(202, 'fair', 30); // three rounds of 10
  add(202, 'poor', 2); // each must upgrade alone in the fair cell
  add(303, 'poor', 8); // one at a time
  add(404, 'good', 5);
  return devices;
}

/** Devices downloading right now, per cell, as the devices themselves see it. */
class CellWatch {
  private readonly downloading = new Map<number, Map<string, number>>();
  readonly violations: string[] = [];
  readonly peak = new Map<number, number>();

  started(cellId: number, deviceId: string, limit: number): void {
    const cell = this.downloading.get(cellId) ?? new Map<string, number>();
    cell.set(deviceId, limit);
    this.downloading.set(cellId, cell);
    const strictest = Math.min(...cell.values());
    if (cell.size > strictest) {
      this.violations.push(
        `cell ${cellId}: ${cell.size} devices downloading, limit ${strictest} (${[...cell.keys()]})`,
      );
    }
    this.peak.set(cellId, Math.max(this.peak.get(cellId) ?? 0, cell.size));
  }

  finished(cellId: number, deviceId: string): void {
    this.downloading.get(cellId)?.delete(deviceId);
  }
}

async function waitForTask(
  api: ApiClient,
  taskId: string,
): Promise<Map<string, { outcome: string; failureCause: string | null }>> {
  const deadline = Date.now() + TASK_DEADLINE_MS;
  while (Date.now() < deadline) {
    const task = await api.get<{ state: string }>(`/v1/tasks/${taskId}`);
    if (task.state === 'completed') {
      const page = await api.get<{
        items: Array<{ deviceId: string; outcome: string; failureCause: string | null }>;
      }>(`/v1/tasks/${taskId}/devices?limit=500`);
      return new Map(page.items.map((row) => [row.deviceId, row]));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`task ${taskId} did not finish within ${TASK_DEADLINE_MS} ms`);
}

describe('NB-IoT firmware upgrades through the LwM2M server, with per-cell permits', () => {
  let stack: RealStack;
  let platform: TestPlatform;
  const devices: SimulatedLwm2mDevice[] = [];

  beforeAll(async () => {
    stack = await startRealStack();
    platform = await startTestPlatform(stack, { embeddedBroker: true });
  });

  afterAll(async () => {
    await Promise.all(devices.map((device) => device.stop()));
    await platform?.stop();
    await stack?.stop();
  });

  it('upgrades 100 devices in 4 cells without ever exceeding a cell’s limit at the device side', async () => {
    const fleet = plan();
    const watch = new CellWatch();
    for (const device of fleet) {
      await platform.api.post('/v1/devices', { id: device.id, protocol: 'lwm2m', ...PRODUCT });
    }
    for (const planned of fleet) {
      const { rsrp, sinr, limit } = coverage[planned.coverage];
      const device = new SimulatedLwm2mDevice({
        endpoint: planned.id,
        serverUri: platform.addresses.lwm2m,
        cellId: planned.cellId,
        rsrp,
        sinr,
        firmwareVersion: '1.0.0',
        updatedVersion: TARGET,
        blockSize: 512,
        blockDelayMs: 5,
        updateDurationMs: 50,
      });
      device.on('download-started', () => watch.started(planned.cellId, planned.id, limit));
      device.on('download-finished', () => watch.finished(planned.cellId, planned.id));
      devices.push(device);
    }
    await Promise.all(devices.map((device) => device.start()));

    const form = new FormData();
    form.set('name', 'nb-meter firmware');
    form.set('version', TARGET);
    form.set('kind', 'firmware');
    form.set('product', PRODUCT.product);
    form.set('model', PRODUCT.model);
    form.set('file', new Blob([randomBytes(6 * 1024)]), 'nb1-2.0.0.bin');
    const pkg = await platform.api.postForm<{ id: string }>('/v1/packages', form);
    const task = await platform.api.post<{ id: string }>('/v1/tasks', {
      packageId: pkg.id,
      target: { deviceIds: fleet.map((device) => device.id) },
    });

    // While it runs, the API shows the poor cell's single holder and its queue.
    await expect
      .poll(async () => (await platform.api.get<{ queue: unknown[] }>('/v1/cells/303')).queue.length, {
        timeout: 60_000,
      })
      .toBeGreaterThan(0);
    const poorCell = await platform.api.get<{ holders: Array<{ limit: number }> }>('/v1/cells/303');
    expect(poorCell.holders.length).toBeLessThanOrEqual(1);
    // The cells listed are the ones whose limiter runs, each with its holders and queue.
    const cells = await platform.api.get<{ items: Array<{ cellId: string; holders: unknown[] }> }>(
      '/v1/cells',
    );
    expect(cells.items.map((cell) => cell.cellId)).toContain('303');
    expect(cells.items.every((cell) => ['101', '202', '303', '404'].includes(cell.cellId))).toBe(true);

    const results = await waitForTask(platform.api, task.id);

    expect(watch.violations).toEqual([]);
    expect([...results.values()].filter((row) => row.outcome !== 'succeeded')).toEqual([]);
    expect(results.size).toBe(fleet.length);
    expect(watch.peak.get(303)).toBe(1);
    expect(watch.peak.get(202)).toBeLessThanOrEqual(10);
    expect(watch.peak.get(101)).toBeLessThanOrEqual(50);
    for (const device of devices) expect(device.firmwareVersion).toBe(TARGET);
  });
});
