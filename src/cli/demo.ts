import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MultiBar, Presets } from 'cli-progress';
import { ConfigError } from '../config';
import type { Platform } from '../platform';
import { startDtlsTunnels } from '../simulator/dtls-tunnels';
import { planFleet, startFleet } from '../simulator/fleet';
import { SimulatedLwm2mDevice } from '../simulator/lwm2m-device';
import { type ApiClient, createApiClient } from './api-client';

const DEMO_PRODUCT = 'demo-meter';
const DEMO_MODEL = 'DM-1';
const SOURCE_VERSION = '1.0.0';
const TARGET_VERSION = '2.0.0';
const DEVICE_COUNT = 12;
/**
 * The seed gives a silent device 3 minutes and an offline one 25 hours before failing it; the demo
 * leaves those two out so that it ends in about a minute. The workflow tests cover both.
 */
const SLOW_BEHAVIOURS = ['never answers version queries', 'offline (never connects)'];
/**
 * NB-IoT devices in two radio cells: one with good coverage (up to 50 upgrade at once) and one with
 * poor coverage, where the cell limiter lets them upgrade one at a time.
 */
const NBIOT_DEVICES = [
  ...Array.from({ length: 3 }, () => ({
    cellId: 4101,
    rsrp: -85,
    sinr: 12,
    description: 'NB-IoT, cell 4101, good coverage',
  })),
  ...Array.from({ length: 3 }, () => ({
    cellId: 4102,
    rsrp: -112,
    sinr: -6,
    description: 'NB-IoT, cell 4102, poor coverage',
  })),
];

/**
 * `npm run demo`: provisions a simulated MQTT and NB-IoT fleet through the REST API, uploads a firmware package,
 * creates an upgrade task and shows each device's step and progress until every device has a result.
 */
export async function runDemo(platform: Platform): Promise<void> {
  const { api: apiUrl, mqtt, lwm2m } = platform.addresses;
  if (!apiUrl || !platform.apiKey || !mqtt || !lwm2m) {
    throw new ConfigError('the demo needs every role in its process: leave OTAFLOW_ROLES unset (all)');
  }
  const api = createApiClient(apiUrl, platform.apiKey);
  const runId = Date.now().toString(36);
  // A model of its own per run: a package version is unique per product and model.
  const model = `${DEMO_MODEL}-${runId}`;
  const plan = planFleet({
    count: DEVICE_COUNT,
    idPrefix: `demo-${runId}`,
    firmwareVersion: SOURCE_VERSION,
  }).filter((device) => !SLOW_BEHAVIOURS.includes(device.behaviourName));
  for (const device of plan) {
    await api.post('/v1/devices', {
      id: device.deviceId,
      protocol: 'mqtt',
      product: DEMO_PRODUCT,
      model,
      secret: device.secret,
    });
  }
  const nbiotPlan = NBIOT_DEVICES.map((device, index) => ({
    ...device,
    deviceId: `demo-${runId}-nb${String(index + 1).padStart(2, '0')}`,
  }));
  // Over DTLS with a pre-shared key each when the platform offers it, as NB-IoT devices of the seed
  // platform do; the simulator's CoAP goes through a DTLS tunnel per device.
  const { lwm2mDtls } = platform.addresses;
  const keys = new Map<string, string>();
  for (const device of nbiotPlan) {
    const created = await api.post<{ pskKey?: string }>('/v1/devices', {
      id: device.deviceId,
      protocol: 'lwm2m',
      product: DEMO_PRODUCT,
      model,
      lwm2mSecurity: lwm2mDtls ? 'psk' : 'none',
    });
    if (created.pskKey) keys.set(device.deviceId, created.pskKey);
  }
  const tunnels = lwm2mDtls
    ? startDtlsTunnels(lwm2mDtls.replace('coaps://', '').replace('0.0.0.0', '127.0.0.1'))
    : undefined;
  // Over TLS when the platform offers it, verifying the broker and downloads as seed devices do.
  const { mqttTls, tlsCaFile } = platform.addresses;
  const fleet = await startFleet(plan, mqttTls ?? mqtt, {
    ca: tlsCaFile ? readFileSync(tlsCaFile) : undefined,
  });
  const nbiotFleet: SimulatedLwm2mDevice[] = [];
  try {
    for (const device of nbiotPlan) {
      const key = keys.get(device.deviceId);
      const tunnel =
        tunnels && key
          ? await tunnels.open({ id: device.deviceId, identity: device.deviceId, key })
          : undefined;
      const serverUri = tunnel ? `coap://127.0.0.1:${tunnel.port}` : lwm2m.replace('0.0.0.0', '127.0.0.1');
      nbiotFleet.push(
        new SimulatedLwm2mDevice({
          endpoint: device.deviceId,
          serverUri,
          coapsVia: tunnel && serverUri,
          cellId: device.cellId,
          rsrp: device.rsrp,
          sinr: device.sinr,
          firmwareVersion: SOURCE_VERSION,
          updatedVersion: TARGET_VERSION,
        }),
      );
    }
    await Promise.all(nbiotFleet.map((device) => device.start()));
    const pkg = await uploadDemoPackage(api, model);
    const devices = [
      ...plan.map((device) => ({ deviceId: device.deviceId, description: `MQTT, ${device.behaviourName}` })),
      ...nbiotPlan,
    ];
    const task = await api.post<{ id: string }>('/v1/tasks', {
      packageId: pkg.id,
      target: { deviceIds: devices.map((device) => device.deviceId) },
    });
    process.stdout.write(
      `demo: task ${task.id} upgrades ${devices.length} devices to firmware ${TARGET_VERSION}\n`,
    );
    process.stdout.write(
      `      watch it live in the console: ${apiUrl}/#/tasks/${encodeURIComponent(task.id)} (sign in with the API key ${platform.apiKeyFile ? `in ${platform.apiKeyFile}` : 'of OTAFLOW_API_KEY'})\n` +
        `      and its workflows in the Temporal UI: ${platform.addresses.temporalUi ?? platform.addresses.temporal}\n\n`,
    );
    await watchTask(api, task.id, devices);
  } finally {
    await Promise.all([fleet.stop(), ...nbiotFleet.map((device) => device.stop())]);
    await tunnels?.stop();
  }
}

async function uploadDemoPackage(api: ApiClient, model: string): Promise<{ id: string }> {
  const form = new FormData();
  form.set('name', `demo firmware for ${model}`);
  form.set('version', TARGET_VERSION);
  form.set('kind', 'firmware');
  form.set('product', DEMO_PRODUCT);
  form.set('model', model);
  form.set('supportedSourceVersions', SOURCE_VERSION);
  form.set('file', new Blob([randomBytes(512 * 1024)]), `demo-firmware-${TARGET_VERSION}.bin`);
  return api.postForm('/v1/packages', form);
}

interface DemoDevice {
  deviceId: string;
  description: string;
}

interface TaskDeviceRow {
  deviceId: string;
  step: string;
  outcome: string | null;
  failureCause: string | null;
  progress: number | null;
}

async function watchTask(api: ApiClient, taskId: string, devices: DemoDevice[]): Promise<void> {
  const bars = new MultiBar(
    {
      format: ' {device} |{bar}| {percentage}% {step}',
      hideCursor: true,
      clearOnComplete: false,
      noTTYOutput: true,
      notTTYSchedule: 5_000,
    },
    Presets.shades_classic,
  );
  const width = Math.max(...devices.map((device) => device.deviceId.length));
  const barOf = new Map(
    devices.map((device) => [
      device.deviceId,
      bars.create(100, 0, {
        device: device.deviceId.padEnd(width),
        step: `pending (${device.description})`,
      }),
    ]),
  );
  try {
    for (;;) {
      const page = await api.get<{ items: TaskDeviceRow[] }>(`/v1/tasks/${taskId}/devices?limit=500`);
      for (const row of page.items) {
        barOf
          .get(row.deviceId)
          ?.update(row.outcome === null ? (row.progress ?? 0) : 100, { step: describe(row) });
      }
      const task = await api.get<{ state: string }>(`/v1/tasks/${taskId}`);
      if (task.state !== 'running') break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    bars.stop();
  }
  const status = await api.get<{
    counts: { byOutcome: Record<string, number>; byFailureCause: Record<string, number> };
  }>(`/v1/tasks/${taskId}`);
  process.stdout.write(`\ndemo: task ${taskId} finished: ${JSON.stringify(status.counts.byOutcome)}\n`);
  for (const [cause, count] of Object.entries(status.counts.byFailureCause)) {
    process.stdout.write(`      ${count} × ${cause}\n`);
  }
}

function describe(row: TaskDeviceRow): string {
  if (row.outcome === null) return row.step;
  return row.failureCause ? `${row.outcome}: ${row.failureCause}` : row.outcome;
}
