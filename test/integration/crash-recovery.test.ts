import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/api/auth';
import type { ApiClient } from '../../src/cli/api-client';
import { deviceCredentials } from '../../src/mqtt/device-auth';
import { type SimulatedDeviceBehaviour, SimulatedMqttDevice } from '../../src/simulator/mqtt-device';
import { freePort } from '../../src/stack/free-port';
import {
  crash,
  STARTUP_TIMEOUT_MS,
  startPlatformChild,
  stopGracefully,
} from '../support/platform-child-process';
import { type RealStack, stackEnvironment, startRealStack } from '../support/stack/real-stack';

/**
 * "A crash of any process loses no upgrade and no record": otaflow is killed (SIGKILL, no graceful
 * stop) in the middle of a task, and a new otaflow process on the same Temporal, PostgreSQL, MinIO
 * and Mosquitto finishes every device's upgrade. The state is in those servers, not in the process.
 * A is online and quick, B connects while no otaflow runs, C is told before the crash and downloads
 * after it, D is in the middle of its download when the process dies.
 */

const PRODUCT = { product: 'water-meter', model: 'WM-2' };
const TARGET = '2.0.0';
// Generous: after the SIGKILL, work the dead process held waits out its activity timeouts (30 s) on a
// machine also running the other suites.
const TASK_DEADLINE_MS = 180_000;
/** C is told to upgrade before the crash and starts downloading only after the new process is up. */
const SLOW_DOWNLOAD_DELAY_MS = 20_000;
/**
 * Much bigger than what the sockets between otaflow and D buffer (5.4 MiB measured on loopback with a
 * 16 MiB package), so most of the half still to come when otaflow dies has not left it yet.
 */
const PACKAGE_BYTES = 32 * 1024 * 1024;
/** D's link: twenty seconds for the package, so the crash lands in the middle of its download. */
const THROTTLED_BYTES_PER_SECOND = PACKAGE_BYTES / 20;

interface TaskDevice {
  deviceId: string;
  step: string;
  outcome: string | null;
  failureCause: string | null;
  fromVersion: string | null;
}

async function waitForTask(api: ApiClient, taskId: string): Promise<Map<string, TaskDevice>> {
  const deadline = Date.now() + TASK_DEADLINE_MS;
  while (Date.now() < deadline) {
    const task = await api.get<{ state: string }>(`/v1/tasks/${taskId}`);
    if (task.state === 'completed' || task.state === 'cancelled') {
      const page = await api.get<{ items: TaskDevice[] }>(`/v1/tasks/${taskId}/devices?limit=500`);
      return new Map(page.items.map((row) => [row.deviceId, row]));
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const page = await api.get<{ items: TaskDevice[] }>(`/v1/tasks/${taskId}/devices?limit=500`);
  throw new Error(
    `task ${taskId} did not finish within ${TASK_DEADLINE_MS} ms; its devices: ${JSON.stringify(page.items)}`,
  );
}

describe('a crash of the otaflow process', () => {
  // Mosquitto checks static password files, so the devices sign with a fixed hour (signType 0).
  const credentialsHour = new Date();
  const deviceIds = ['crash-online', 'crash-offline', 'crash-slow', 'crash-interrupted'] as const;
  const [onlineId, offlineId, slowId, interruptedId] = deviceIds;
  const secretOf = (deviceId: string) => `secret-of-${deviceId}-${credentialsHour.getTime()}`;
  let stack: RealStack;
  let platformEnv: NodeJS.ProcessEnv;
  const dataDirs: string[] = [];
  const children: ChildProcess[] = [];
  const devices: SimulatedMqttDevice[] = [];

  /** Every role, as `npm start` runs it. */
  async function startOtaflow(): Promise<{ process: ChildProcess; api: ApiClient }> {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-crash-'));
    dataDirs.push(dataDir);
    const child = await startPlatformChild({ ...platformEnv, OTAFLOW_DATA_DIR: dataDir });
    children.push(child.process);
    if (!child.api) throw new Error('otaflow started without its API');
    return { process: child.process, api: child.api };
  }

  function simulate(deviceId: string, behaviour: SimulatedDeviceBehaviour = {}) {
    const device = new SimulatedMqttDevice({
      deviceId,
      secret: secretOf(deviceId),
      brokerUrl: stack.mqtt.url,
      firmwareVersion: '1.0.0',
      credentialsHour,
      ...behaviour,
    });
    devices.push(device);
    return device;
  }

  beforeAll(async () => {
    stack = await startRealStack({
      deviceAccounts: deviceIds.map((id) => deviceCredentials(id, secretOf(id), '0', credentialsHour)),
    });
    // Both processes in turn share the stack, the keys and the API address download URLs name.
    platformEnv = {
      ...stackEnvironment(stack, await freePort()),
      OTAFLOW_TLS: 'off',
      OTAFLOW_API_KEY: generateApiKey(),
      MQTT_HOST: '127.0.0.1',
      LWM2M_HOST: '127.0.0.1',
      LWM2M_PORT: '0',
      LWM2M_DTLS: 'off',
    };
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => stopGracefully(child)));
    await Promise.all(devices.map((device) => device.stop()));
    await stack?.stop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it(
    'loses no upgrade and no record: a new process finishes the task',
    async () => {
      const first = await startOtaflow();
      for (const id of deviceIds) {
        await first.api.post('/v1/devices', { id, protocol: 'mqtt', ...PRODUCT, secret: secretOf(id) });
      }
      const online = simulate(onlineId);
      const offline = simulate(offlineId, { offline: true });
      const slow = simulate(slowId, { downloadDelayMs: SLOW_DOWNLOAD_DELAY_MS });
      const interrupted = simulate(interruptedId, { downloadBytesPerSecond: THROTTLED_BYTES_PER_SECOND });
      await Promise.all([online.start(), offline.start(), slow.start(), interrupted.start()]);

      const form = new FormData();
      form.set('name', 'meter firmware');
      form.set('version', TARGET);
      form.set('kind', 'firmware');
      form.set('product', PRODUCT.product);
      form.set('model', PRODUCT.model);
      form.set('supportedSourceVersions', '1.0.0');
      form.set('file', new Blob([randomBytes(PACKAGE_BYTES)]), 'wm2-2.0.0.bin');
      const pkg = await first.api.postForm<{ id: string }>('/v1/packages', form);
      const slowNotified = new Promise<void>((resolve) => slow.once('upgrade-notified', () => resolve()));
      const interruptedHalfway = new Promise<void>((resolve) =>
        interrupted.on('uplink', (message) => {
          if (message.services.some((service) => service.paras.progress === 50)) resolve();
        }),
      );
      const resumedAt: number[] = [];
      interrupted.on('download-resumed', (offset) => resumedAt.push(offset));
      const task = await first.api.post<{ id: string }>('/v1/tasks', {
        packageId: pkg.id,
        target: { deviceIds },
      });

      await slowNotified;
      const stepOf = async (deviceId: string) =>
        (await first.api.get<{ items: TaskDevice[] }>(`/v1/tasks/${task.id}/devices`)).items.find(
          (row) => row.deviceId === deviceId,
        )?.step;
      await expect.poll(() => stepOf(slowId), { timeout: 10_000 }).toBe('downloading');
      expect(await stepOf(offlineId)).toBe('waiting-online');

      await interruptedHalfway;
      await crash(first.process);
      expect(resumedAt, 'no download resumed before the crash').toEqual([]);
      // The awaited device connects while no otaflow process is running: nobody sees the connect.
      await offline.connect();

      const second = await startOtaflow();

      const results = await waitForTask(second.api, task.id);
      for (const id of deviceIds) {
        expect(results.get(id), id).toMatchObject({
          outcome: 'succeeded',
          fromVersion: '1.0.0',
          failureCause: null,
        });
        expect(await second.api.get(`/v1/devices/${id}`), id).toMatchObject({ firmwareVersion: TARGET });
      }
      expect([online, offline, slow, interrupted].map((device) => device.firmwareVersion)).toEqual(
        deviceIds.map(() => TARGET),
      );
      // D's download broke with the process and went on from where it was, served by the new one.
      expect(resumedAt.length).toBeGreaterThan(0);
      expect(Math.max(...resumedAt)).toBeGreaterThanOrEqual(PACKAGE_BYTES / 2);
      const status = await second.api.get<{ counts: { byOutcome: Record<string, number> } }>(
        `/v1/tasks/${task.id}`,
      );
      expect(status.counts.byOutcome).toEqual({ succeeded: deviceIds.length });
    },
    2 * STARTUP_TIMEOUT_MS + TASK_DEADLINE_MS + 60_000,
  ); // two starts, the task, setup and checks
});
