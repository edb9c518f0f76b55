import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/api/auth';
import type { ApiClient } from '../../src/cli/api-client';
import { deviceCredentials } from '../../src/mqtt/device-auth';
import {
  connectLeanMqttFleet,
  type LeanDevicePlan,
  type LeanMqttFleet,
} from '../../src/simulator/lean-mqtt-fleet';
import { SimulatedLwm2mDevice } from '../../src/simulator/lwm2m-device';
import { freePort } from '../../src/stack/free-port';
import { type SqlTemporalServer, startSqlTemporalServer } from '../../src/stack/temporal-server';
import {
  deviceOperationWorkflowId,
  upgradeResultReportedSignal,
  versionReportedSignal,
} from '../../workflows/definitions';
import { DeviceCause } from '../../workflows/failure-causes';
import {
  crash,
  type PlatformChild,
  type RoleProcesses,
  roleProcesses,
} from '../support/platform-child-process';
import { uploadFirmware } from '../support/rollout';
import { type RealStack, stackEnvironment, startRealStack } from '../support/stack/real-stack';

/**
 * The deployment of docs/deployment.md on one machine, at fleet size, with crashes: Temporal's own
 * server on PostgreSQL, Mosquitto with the gateways on its shared subscription, MinIO, and otaflow
 * split into an API process, two worker processes and two gateway processes (MQTT and LwM2M each).
 * One rollout of 2,000 MQTT and 200 LwM2M devices; mid-way one gateway and one worker are killed
 * with SIGKILL. The gateway comes back under its name and ports, as a StatefulSet's pod does; the
 * worker stays dead, the other one carrying on. Every device ends with the outcome it must have,
 * no MQTT report the broker accepted is signalled twice and each upgrade's result once (counted in
 * the histories), and no cell permit stays held.
 */

const MQTT_FLEET = 2_000;
const LWM2M_FLEET = 200;
/** Every eleventh device is an LwM2M one, so both kinds are in flight when the crashes come. */
const LWM2M_EVERY = 11;
/** Every hundredth MQTT device refuses the upgrade with result code 5 (not enough storage). */
const FAILING_EVERY = 100;
const CELLS = [701, 702, 703, 704];
const TAG = 'split-fleet';
const PRODUCT = { product: 'split-fleet-meter', model: 'SF-1' };
const SOURCE = '1.0.0';
const TARGET = '2.0.0';
/** How many devices end before the crashes. */
const CRASH_AFTER_ENDED = 500;
const TASK_DEADLINE_MS = 20 * 60_000;

interface FleetPlan {
  mqtt: (LeanDevicePlan & { fails: boolean })[];
  lwm2m: { id: string; cellId: number }[];
}

function planFleet(): FleetPlan {
  const plan: FleetPlan = { mqtt: [], lwm2m: [] };
  for (let index = 0; index < MQTT_FLEET + LWM2M_FLEET; index++) {
    const id = `sf-${String(index).padStart(4, '0')}`;
    if (index % LWM2M_EVERY === LWM2M_EVERY - 1 && plan.lwm2m.length < LWM2M_FLEET) {
      plan.lwm2m.push({ id, cellId: CELLS[plan.lwm2m.length % CELLS.length] as number });
      continue;
    }
    const fails = plan.mqtt.length % FAILING_EVERY === 0;
    plan.mqtt.push({ deviceId: id, secret: `secret-of-${id}`, fails, ...(fails && { failWith: 5 }) });
  }
  return plan;
}

interface TaskStatus {
  state: string;
  counts: { byOutcome: Record<string, number>; byFailureCause: Record<string, number> };
}

describe('a split deployment at fleet size, one gateway and one worker killed mid-rollout', () => {
  const plan = planFleet();
  const signedAt = new Date();
  const temporalDir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-split-fleet-temporal-'));
  const children = new Map<string, PlatformChild>();
  let processes: RoleProcesses | undefined;
  const lwm2mDevices: SimulatedLwm2mDevice[] = [];
  const sentReports = new Map<string, { versions: number; results: number }>();
  const deviceErrors: unknown[] = [];
  let stack: RealStack;
  let temporal: SqlTemporalServer;
  let fleet: LeanMqttFleet | undefined;
  let api: ApiClient;
  let startProcess: (name: string, roles: string, env?: NodeJS.ProcessEnv) => Promise<PlatformChild>;
  /** The gateways' fixed LwM2M ports: a restarted gateway is where its devices send their updates. */
  const gatewayPorts: number[] = [];

  beforeAll(async () => {
    stack = await startRealStack({
      deviceAccounts: plan.mqtt.map((device) =>
        deviceCredentials(device.deviceId, device.secret, '0', signedAt),
      ),
    });
    temporal = await startSqlTemporalServer({ postgresUrl: stack.postgres.url, dataDir: temporalDir });
    const shared: NodeJS.ProcessEnv = {
      ...stackEnvironment(stack, await freePort()),
      TEMPORAL_ADDRESS: temporal.address,
      OTAFLOW_TLS: 'off',
      OTAFLOW_API_KEY: generateApiKey(),
      LWM2M_HOST: '127.0.0.1',
      LWM2M_DTLS: 'off',
    };
    const started = roleProcesses(shared);
    processes = started;
    startProcess = async (name, roles, env = {}) => {
      const child = await started.start(roles, env);
      children.set(name, child);
      return child;
    };
    // The API process first: it migrates the database the others then find ready.
    const front = await startProcess('api', 'api,webhooks');
    if (!front.api) throw new Error('the API process serves no API');
    api = front.api;
    gatewayPorts.push(await freePort(), await freePort());
    await Promise.all([
      startProcess('worker-1', 'upgrade-worker,task-worker'),
      startProcess('worker-2', 'upgrade-worker,task-worker'),
      ...gatewayPorts.map((port, index) => startGateway(index, port)),
    ]);
  }, 300_000);

  function startGateway(index: number, port: number): Promise<PlatformChild> {
    return startProcess(`gateway-${index + 1}`, 'mqtt-gateway,lwm2m-gateway', {
      OTAFLOW_GATEWAY_ID: `split-fleet-gateway-${index + 1}`,
      LWM2M_PORT: String(port),
    });
  }

  afterAll(async () => {
    await fleet?.stop();
    await Promise.all(lwm2mDevices.map((device) => device.stop()));
    await processes?.stopAll();
    await temporal?.stop();
    await stack?.stop();
    rmSync(temporalDir, { recursive: true, force: true });
  }, 120_000);

  it(
    'completes the rollout with exact counts, each report signalled once and no permit held',
    async () => {
      const devices = [
        ...plan.mqtt.map((device) => ({ id: device.deviceId, protocol: 'mqtt', secret: device.secret })),
        ...plan.lwm2m.map((device) => ({ id: device.id, protocol: 'lwm2m', lwm2mSecurity: 'none' })),
      ].map((device) => ({ ...device, ...PRODUCT, tags: [TAG] }));
      await api.post('/v1/devices/bulk', { devices });

      fleet = await connectLeanMqttFleet(plan.mqtt, {
        brokerUrl: stack.mqtt.url,
        firmwareVersion: SOURCE,
        signedAt,
        downloadConcurrency: 64,
        downloadDelayMs: 0,
        onError: (error) => deviceErrors.push(error),
        onReport(deviceId, eventType) {
          const sent = sentReports.get(deviceId) ?? { versions: 0, results: 0 };
          if (eventType === 'version_report') sent.versions++;
          if (eventType === 'upgrade_progress_report') sent.results++;
          sentReports.set(deviceId, sent);
        },
      });
      for (const [index, device] of plan.lwm2m.entries()) {
        const simulated = new SimulatedLwm2mDevice({
          endpoint: device.id,
          serverUri: `coap://127.0.0.1:${gatewayPorts[index % gatewayPorts.length]}`,
          cellId: device.cellId,
          firmwareVersion: SOURCE,
          updatedVersion: TARGET,
          // Updates every 5 s: the devices of the killed gateway register again soon after it is back.
          lifetimeSeconds: 60,
          updateIntervalMs: 5_000,
          // Downloads of ~10 s, so that some are under way when their gateway dies.
          blockDelayMs: 500,
        });
        lwm2mDevices.push(simulated);
        await simulated.start();
      }

      const pkg = await uploadFirmware(api, { ...PRODUCT, version: TARGET, bytes: 10 * 1024 });
      const task = await api.post<{ id: string; deviceCount: number }>('/v1/tasks', {
        packageId: pkg.id,
        target: { filter: { tags: [TAG] } },
        rollout: { maxInProgress: 400 },
      });
      expect(task.deviceCount).toBe(MQTT_FLEET + LWM2M_FLEET);
      const startedAt = Date.now();
      const seconds = () => Math.round((Date.now() - startedAt) / 1000);

      const status = () => api.get<TaskStatus>(`/v1/tasks/${task.id}`);
      const ended = (counts: TaskStatus['counts']) =>
        Object.values(counts.byOutcome).reduce((a, b) => a + b, 0);
      await expect
        .poll(async () => ended((await status()).counts), { timeout: TASK_DEADLINE_MS, interval: 1_000 })
        .toBeGreaterThanOrEqual(CRASH_AFTER_ENDED);

      // Mid-rollout: the second gateway and the second worker die at once.
      const [worker2, gateway2] = [children.get('worker-2'), children.get('gateway-2')];
      if (!worker2 || !gateway2) throw new Error('worker-2 and gateway-2 are not running');
      const lwm2mNotYetUpgraded = lwm2mDevices.filter((device) => device.firmwareVersion === SOURCE).length;
      await Promise.all([crash(worker2.process), crash(gateway2.process)]);
      console.info(
        `split fleet: worker-2 and gateway-2 killed at ${seconds()} s, ${lwm2mNotYetUpgraded} LwM2M devices not yet upgraded`,
      );
      await startGateway(1, gatewayPorts[1] as number);

      await expect
        .poll(async () => (await status()).state, { timeout: TASK_DEADLINE_MS, interval: 2_000 })
        .toBe('completed');
      console.info(`split fleet: ${MQTT_FLEET + LWM2M_FLEET} devices ended in ${seconds()} s`);
      expect(lwm2mNotYetUpgraded).toBeGreaterThan(0);

      const failing = plan.mqtt.filter((device) => device.fails).length;
      const { counts } = await status();
      expect(deviceErrors).toEqual([]);
      expect(counts.byOutcome).toEqual({ succeeded: MQTT_FLEET + LWM2M_FLEET - failing, failed: failing });
      expect(counts.byFailureCause).toEqual({ [DeviceCause.notEnoughStorage]: failing });
      expect(
        lwm2mDevices.filter((device) => device.firmwareVersion !== TARGET).map((device) => device.endpoint),
      ).toEqual([]);

      // No MQTT report the broker accepted is signalled twice, and each upgrade has its one result.
      const connection = await Connection.connect({ address: temporal.address });
      try {
        const client = new Client({ connection, namespace: temporal.namespace });
        const mismatches: string[] = [];
        let next = 0;
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (next < plan.mqtt.length) {
              const id = (plan.mqtt[next++] as LeanDevicePlan).deviceId;
              const history = await client.workflow.getHandle(deviceOperationWorkflowId(id)).fetchHistory();
              const signalled = (name: string) =>
                (history.events ?? []).filter(
                  (event) => event.workflowExecutionSignaledEventAttributes?.signalName === name,
                ).length;
              const sent = sentReports.get(id) ?? { versions: 0, results: 0 };
              const found = {
                versions: signalled(versionReportedSignal.name),
                results: signalled(upgradeResultReportedSignal.name),
              };
              // A command repeated across a crash can draw two results from a device; each report is
              // signalled at most once (one that comes after its workflow ended reaches none), so: at
              // least one result in each history, and never more signals than reports sent.
              if (
                found.results < 1 ||
                found.results > sent.results ||
                found.versions < 1 ||
                found.versions > sent.versions
              ) {
                mismatches.push(`${id}: sent ${JSON.stringify(sent)}, signalled ${JSON.stringify(found)}`);
              }
            }
          }),
        );
        expect(mismatches).toEqual([]);
      } finally {
        await connection.close();
      }

      for (const cellId of CELLS) {
        expect(await api.get(`/v1/cells/${cellId}`)).toEqual({
          cellId: String(cellId),
          holders: [],
          queue: [],
        });
      }
    },
    TASK_DEADLINE_MS * 2,
  );
});
