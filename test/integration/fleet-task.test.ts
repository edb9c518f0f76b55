import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/cli/api-client';
import {
  connectLeanMqttFleet,
  type LeanDevicePlan,
  type LeanMqttFleet,
} from '../../src/simulator/lean-mqtt-fleet';
import { DeviceCause } from '../../workflows/failure-causes';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { type RealStack, startRealStack } from '../support/stack/real-stack';
import { eventually } from '../unit/mqtt/fakes';

/**
 * One task of 5,000 simulated MQTT devices on the real stack (Temporal dev server, MinIO, PostgreSQL,
 * otaflow's broker), selected by a tag filter and rolled out 500 at a time: every device ends, and the
 * API, the CSV export and Temporal's visibility agree on the exact counts per outcome and cause.
 * Then a fleet that is online a few hundred devices at a time, as the benchmark runs 100,000.
 */

const FLEET_SIZE = 5_000;
const TAG = 'fleet-5k';
const PRODUCT = { product: 'gas-meter', model: 'GM-5' };
const SOURCE = '1.0.0';
const TARGET = '2.0.0';
/** Every 50th device refuses with result code 5; the one after it already runs the target. */
const EVERY = 50;
const TASK_DEADLINE_MS = 45 * 60_000;
const IMPORT_BATCH = 2_500;
/** The rolling fleet: more devices than are ever connected at once, and more of those than in progress. */
const ROLLING = { devices: 1_200, connectedAtOnce: 300, maxInProgress: 100 };
/** Another model, so that its package (the same version) is a package of its own. */
const ROLLING_PRODUCT = { product: 'gas-meter', model: 'GM-5-NB' };

const expected = {
  failed: FLEET_SIZE / EVERY,
  alreadyLatest: FLEET_SIZE / EVERY,
  succeeded: FLEET_SIZE - (2 * FLEET_SIZE) / EVERY,
};

function planFleet(): LeanDevicePlan[] {
  return Array.from({ length: FLEET_SIZE }, (_, index) => ({
    deviceId: `gm5-${String(index).padStart(5, '0')}`,
    secret: `secret-${index}-of-the-5k-fleet`,
    ...(index % EVERY === 0 && { failWith: 5 }),
    ...(index % EVERY === 1 && { firmwareVersion: TARGET }),
  }));
}

async function uploadFirmware(api: ApiClient, product = PRODUCT): Promise<{ id: string }> {
  const form = new FormData();
  form.set('name', 'gas meter firmware');
  form.set('version', TARGET);
  form.set('kind', 'firmware');
  form.set('product', product.product);
  form.set('model', product.model);
  form.set('file', new Blob([Buffer.alloc(2048, 7)]), 'gm5-2.0.0.bin');
  return api.postForm('/v1/packages', form);
}

interface TaskStatus {
  state: string;
  deviceCount: number;
  counts: {
    byStep: Record<string, number>;
    byOutcome: Record<string, number>;
    byFailureCause: Record<string, number>;
  };
}

async function waitForEnd(api: ApiClient, taskId: string): Promise<TaskStatus> {
  const deadline = Date.now() + TASK_DEADLINE_MS;
  let lastLog = 0;
  while (Date.now() < deadline) {
    const task = await api.get<TaskStatus>(`/v1/tasks/${taskId}`);
    if (['completed', 'cancelled', 'aborted'].includes(task.state)) return task;
    if (Date.now() - lastLog > 60_000) {
      lastLog = Date.now();
      console.info(`5,000-device task: ${JSON.stringify(task.counts.byStep)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  throw new Error(`task ${taskId} did not finish within ${TASK_DEADLINE_MS / 60_000} minutes`);
}

describe('a 5,000-device task on the real stack', () => {
  let stack: RealStack;
  let platform: TestPlatform;
  let fleet: LeanMqttFleet | undefined;
  const deviceErrors: unknown[] = [];

  beforeAll(async () => {
    stack = await startRealStack();
    platform = await startTestPlatform(stack, { embeddedBroker: true });
  }, 180_000);

  afterAll(async () => {
    await fleet?.stop();
    await platform?.stop();
    await stack?.stop();
  }, 120_000);

  it(
    'upgrades every device a tag selects and reports exact counts per outcome and cause',
    async () => {
      const { api } = platform;
      const plans = planFleet();
      for (let first = 0; first < plans.length; first += IMPORT_BATCH) {
        const devices = plans.slice(first, first + IMPORT_BATCH).map((plan) => ({
          id: plan.deviceId,
          protocol: 'mqtt',
          ...PRODUCT,
          secret: plan.secret,
          tags: [TAG],
        }));
        await api.post('/v1/devices/bulk', { devices });
      }
      const pkg = await uploadFirmware(api);
      fleet = await connectLeanMqttFleet(plans, {
        brokerUrl: platform.addresses.mqtt,
        firmwareVersion: SOURCE,
        downloadConcurrency: 64,
        downloadDelayMs: 0,
        onError: (error) => deviceErrors.push(error),
      });

      const task = await api.post<{ id: string; deviceCount: number }>('/v1/tasks', {
        packageId: pkg.id,
        target: { filter: { tags: [TAG] } },
        rollout: { maxInProgress: 500 },
      });
      expect(task.deviceCount).toBe(FLEET_SIZE);
      const ended = await waitForEnd(api, task.id);

      expect(deviceErrors).toEqual([]);
      expect(ended.state).toBe('completed');
      expect(ended.counts.byOutcome).toEqual({
        succeeded: expected.succeeded,
        'already-latest': expected.alreadyLatest,
        failed: expected.failed,
      });
      expect(ended.counts.byFailureCause).toEqual({ [DeviceCause.notEnoughStorage]: expected.failed });
      expect(ended.counts.byStep).toEqual({
        succeeded: expected.succeeded + expected.alreadyLatest,
        failed: expected.failed,
      });

      const csv = await (
        await fetch(`${platform.addresses.api}/v1/tasks/${task.id}/results.csv`, {
          headers: platform.apiHeaders,
        })
      ).text();
      const rows = csv.trim().split('\n');
      expect(rows).toHaveLength(FLEET_SIZE + 1);
      expect(rows.filter((row) => row.includes(DeviceCause.notEnoughStorage))).toHaveLength(expected.failed);

      const visible = (query: string) =>
        platform.temporal.workflow.count(`OtaTaskId = "${task.id}" AND ${query}`).then((r) => r.count);
      expect(await visible('OtaStep = "succeeded"')).toBe(expected.succeeded + expected.alreadyLatest);
      expect(await visible(`OtaFailureCause = "${DeviceCause.notEnoughStorage}"`)).toBe(expected.failed);
    },
    TASK_DEADLINE_MS + 10 * 60_000,
  );

  it(
    'upgrades a fleet that is never online all at once, each device leaving after its result',
    async () => {
      const { api } = platform;
      const plans = Array.from({ length: ROLLING.devices }, (_, index) => ({
        deviceId: `roll-${String(index).padStart(4, '0')}`,
        secret: `secret-${index}-of-the-rolling-fleet`,
        ...(index % EVERY === 0 && { failWith: 5 }),
      }));
      await api.post('/v1/devices/bulk', {
        devices: plans.map((plan) => ({
          id: plan.deviceId,
          protocol: 'mqtt',
          ...ROLLING_PRODUCT,
          secret: plan.secret,
        })),
      });
      const pkg = await uploadFirmware(api, ROLLING_PRODUCT);
      let peakOnline = 0;
      let peakConnected = 0;
      const onlineCount = async () => {
        const { rows } = await platform.db.query<{ online: number }>(
          `select count(*)::int as online from devices where online and id like 'roll-%'`,
        );
        return rows[0]?.online ?? 0;
      };
      const sampling = setInterval(() => {
        onlineCount().then((online) => {
          peakOnline = Math.max(peakOnline, online);
        }, deviceErrors.push.bind(deviceErrors));
      }, 100);
      try {
        await fleet?.stop();
        fleet = await connectLeanMqttFleet(
          plans,
          {
            brokerUrl: platform.addresses.mqtt,
            firmwareVersion: SOURCE,
            downloadConcurrency: 64,
            downloadDelayMs: 0,
            connectedAtOnce: ROLLING.connectedAtOnce,
            onError: (error) => deviceErrors.push(error),
          },
          (connectedNow) => {
            peakConnected = Math.max(peakConnected, connectedNow);
          },
        );
        // Listed in the fleet's order: the task starts them in it, so each started device is connected.
        const task = await api.post<{ id: string }>('/v1/tasks', {
          packageId: pkg.id,
          target: { deviceIds: plans.map((plan) => plan.deviceId) },
          rollout: { maxInProgress: ROLLING.maxInProgress },
        });
        const ended = await waitForEnd(api, task.id);
        expect(deviceErrors).toEqual([]);
        expect(ended.state).toBe('completed');
        const failed = ROLLING.devices / EVERY;
        expect(ended.counts.byOutcome).toEqual({ succeeded: ROLLING.devices - failed, failed });
        expect(peakConnected).toBe(ROLLING.connectedAtOnce);
        // The registry saw the fleet come and go (it lags the broker by a write, so only roughly the
        // window), and records each device offline once it left after its result.
        expect(peakOnline).toBeGreaterThan(0);
        expect(peakOnline).toBeLessThan(ROLLING.devices / 2);
        await eventually(async () => {
          expect(await onlineCount()).toBe(0);
        }, 10_000);
      } finally {
        clearInterval(sampling);
      }
    },
    TASK_DEADLINE_MS,
  );
});
