import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCredentials } from '../../src/mqtt/device-auth';
import { SimulatedMqttDevice } from '../../src/simulator/mqtt-device';
import { MqttResultCode } from '../../workflows/failure-causes';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { uploadFirmware } from '../support/rollout';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

/**
 * `/metrics` during a real rollout on the real stack: one MQTT device upgrades, one refuses with the
 * seed's storage cause, one stays offline. Scraped while the offline one waits and after the task
 * is cancelled, the counters move with the flow, outcome and cause labels an operator's dashboard
 * groups by, HTTP requests are counted by route template, and no label names a device: the number
 * of series does not grow with the fleet. The Temporal SDK's worker metrics are served beside them.
 */

const PRODUCT = { product: 'metered-meter', model: 'MM-1' };
const credentialsHour = new Date();
const secretOf = (deviceId: string) => `secret-of-${deviceId}`;
const ids = { upgrades: 'metrics-ok', refuses: 'metrics-full', offline: 'metrics-offline' };

let stack: RealStack;
let platform: TestPlatform;
const devices: SimulatedMqttDevice[] = [];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text format, one sample per line: `name{label="value",…} 1`. */
function parseSamples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
      if (!match) throw new Error(`not a Prometheus sample: ${line}`);
      const labels = Object.fromEntries(
        [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]),
      );
      return { name: match[1] as string, labels, value: Number(match[3]) };
    });
}

async function scrape(url: string | undefined): Promise<Sample[]> {
  if (!url) throw new Error('the platform serves no metrics');
  const answer = await fetch(url);
  expect(answer.status).toBe(200);
  expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseSamples(await answer.text());
}

function sumOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  return found.reduce((total, sample) => total + sample.value, 0);
}

beforeAll(async () => {
  stack = await startRealStack({
    deviceAccounts: Object.values(ids).map((id) => deviceCredentials(id, secretOf(id), '0', credentialsHour)),
  });
  platform = await startTestPlatform(stack, { metrics: true });
  for (const id of Object.values(ids)) {
    await platform.api.post('/v1/devices', { id, protocol: 'mqtt', ...PRODUCT, secret: secretOf(id) });
  }
  for (const id of [ids.upgrades, ids.refuses]) {
    const device = new SimulatedMqttDevice({
      deviceId: id,
      secret: secretOf(id),
      brokerUrl: stack.mqtt.url,
      firmwareVersion: '1.0.0',
      credentialsHour,
      failWith: id === ids.refuses ? { resultCode: MqttResultCode.notEnoughSpace } : undefined,
    });
    await device.start();
    devices.push(device);
  }
}, 180_000);

afterAll(async () => {
  for (const device of devices) await device.stop();
  await platform?.stop();
  await stack?.stop();
}, 60_000);

describe('metrics of a rollout', () => {
  it('count upgrades by flow, outcome and cause, MQTT traffic and HTTP routes, without a series per device', async () => {
    const pkg = await uploadFirmware(platform.api, { ...PRODUCT, version: '2.0.0' });
    const task = await platform.api.post<{ id: string }>('/v1/tasks', {
      packageId: pkg.id,
      target: { deviceIds: Object.values(ids) },
    });
    const ended = 'otaflow_device_upgrades_ended_total';
    await expect
      .poll(async () => sumOf(await scrape(platform.addresses.metrics), ended), {
        timeout: 90_000,
        interval: 500,
      })
      .toBe(2);

    const during = await scrape(platform.addresses.metrics);
    expect(sumOf(during, ended, { flow: 'mqtt', outcome: 'succeeded', cause: '' })).toBe(1);
    expect(
      sumOf(during, ended, {
        flow: 'mqtt',
        outcome: 'failed',
        cause: 'Not enough storage for the new firmware package',
      }),
    ).toBe(1);
    expect(sumOf(during, 'otaflow_device_upgrades_in_progress', { step: 'waiting-online' })).toBe(1);
    expect(sumOf(during, 'otaflow_tasks', { state: 'running' })).toBe(1);
    // Time in each step, observed as each online device left it: the query for the download, the
    // download for the result.
    expect(sumOf(during, 'otaflow_device_upgrades_started_total', { flow: 'mqtt' })).toBe(3);
    const stepCount = 'otaflow_upgrade_step_duration_seconds_count';
    expect(sumOf(during, stepCount, { protocol: 'mqtt', step: 'querying-version' })).toBe(2);
    expect(sumOf(during, stepCount, { protocol: 'mqtt', step: 'downloading' })).toBe(2);
    expect(
      sumOf(during, 'otaflow_upgrade_step_duration_seconds_bucket', { step: 'downloading', le: '+Inf' }),
    ).toBe(2);
    expect(sumOf(during, 'otaflow_devices_connected', { protocol: 'mqtt' })).toBe(2);
    expect(
      sumOf(during, 'otaflow_mqtt_presence_events_total', { event: 'connected' }),
    ).toBeGreaterThanOrEqual(2);
    expect(sumOf(during, 'otaflow_database_duration_seconds_count', { operation: 'query' })).toBeGreaterThan(
      0,
    );
    expect(
      sumOf(during, 'otaflow_database_duration_seconds_count', { operation: 'transaction' }),
    ).toBeGreaterThan(0);
    // The stack's PostgreSQL: the pool has connections, and nothing waits for one between requests.
    expect(sumOf(during, 'otaflow_database_connections', { state: 'idle' })).toBeGreaterThan(0);
    // Each online device: a version report and a result, at least; a version query and an upgrade event.
    expect(sumOf(during, 'otaflow_mqtt_uplinks_total', { result: 'recorded' })).toBeGreaterThanOrEqual(4);
    expect(sumOf(during, 'otaflow_mqtt_downlinks_total', { result: 'accepted' })).toBeGreaterThanOrEqual(4);
    expect(
      sumOf(during, 'otaflow_http_requests_total', { method: 'POST', route: '/v1/tasks', status: '201' }),
    ).toBe(1);
    expect(
      sumOf(during, 'otaflow_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/v1/devices',
      }),
    ).toBe(3);

    await platform.api.post(`/v1/tasks/${task.id}/cancel`, {});
    await expect
      .poll(async () => sumOf(await scrape(platform.addresses.metrics), ended, { outcome: 'cancelled' }), {
        timeout: 60_000,
        interval: 500,
      })
      .toBe(1);
    const after = await scrape(platform.addresses.metrics);
    expect(sumOf(after, 'otaflow_device_upgrades_in_progress')).toBe(0);
    // The offline device waited online until the task was cancelled: that wait is observed too.
    expect(
      sumOf(after, 'otaflow_upgrade_step_duration_seconds_count', {
        protocol: 'mqtt',
        step: 'waiting-online',
      }),
    ).toBe(1);
    // No webhook is registered: nothing waits, and the gauge says so rather than being absent.
    expect(after.filter((sample) => sample.name === 'otaflow_webhook_deliveries_waiting')).toEqual([
      { name: 'otaflow_webhook_deliveries_waiting', labels: {}, value: 0 },
    ]);

    const otaflowSeries = after.filter((sample) => sample.name.startsWith('otaflow_'));
    const labelValues = otaflowSeries.flatMap((sample) => Object.values(sample.labels));
    for (const deviceOrTask of [...Object.values(ids), task.id, pkg.id]) {
      expect(labelValues.filter((value) => value.includes(deviceOrTask))).toEqual([]);
    }
    // Route templates, outcomes and causes only: a few dozen series for any fleet.
    expect(otaflowSeries.length).toBeLessThan(300);
    expect(sumOf(after, 'process_cpu_seconds_total')).toBeGreaterThan(0);
  }, 180_000);

  it("serves the Temporal SDK's worker metrics beside otaflow's", async () => {
    const temporal = await scrape(platform.addresses.temporalMetrics);
    const names = new Set(temporal.map((sample) => sample.name));
    expect([...names].some((name) => name.startsWith('temporal_'))).toBe(true);
    expect(sumOf(temporal, 'temporal_worker_task_slots_available')).toBeGreaterThan(0);
  });
});
