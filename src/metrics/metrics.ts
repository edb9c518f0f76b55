/**
 * Every metric an otaflow process exports, in one place: its name, what it counts and its labels
 * (docs/observability.md lists them). Each process has its own registry, scraped at `/metrics` on
 * OTAFLOW_METRICS_PORT; Prometheus adds the process as its `instance` label and sums across them.
 * Label values come from bounded sets (route templates, the seed's failure causes, outcomes), never
 * from device or task IDs.
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { StepChange } from '../db/tasks';

/** HTTP latency buckets, in seconds: API reads take milliseconds, package uploads and downloads minutes. */
const HTTP_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120];
/**
 * Time-in-step buckets, in seconds: a version query takes a second, a download minutes to an hour over
 * NB-IoT, a wait for a sleeping device or a busy cell's permit hours to days.
 */
const STEP_SECONDS = [
  1,
  5,
  15,
  60,
  300,
  900,
  3600,
  4 * 3600,
  12 * 3600,
  24 * 3600,
  3 * 24 * 3600,
  7 * 24 * 3600,
];
/** Database buckets, in seconds: a query takes a millisecond or two; a transaction waiting for a lock, longer. */
const DATABASE_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];
/** Webhook lag buckets, in seconds: a receiver that is up takes well under a second; one that is down, hours. */
const WEBHOOK_LAG_SECONDS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 24 * 3600];

export function createMetrics() {
  const registry = new Registry();
  // The Node runtime's own: CPU, memory, event-loop lag, garbage collection, open handles.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'otaflow_http_requests_total',
      help: 'HTTP requests answered by the API, by method, route template and status code',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    httpRequestSeconds: new Histogram({
      name: 'otaflow_http_request_duration_seconds',
      help: 'Time from an HTTP request to the end of its answer, by method and route template',
      labelNames: ['method', 'route'] as const,
      buckets: HTTP_SECONDS,
      registers,
    }),
    upgradeStepSeconds: new Histogram({
      name: 'otaflow_upgrade_step_duration_seconds',
      help: "Time device upgrades spent in each of the seed's steps, by the device's protocol and the step, observed as the step ends",
      labelNames: ['protocol', 'step'] as const,
      buckets: STEP_SECONDS,
      registers,
    }),
    upgradesStarted: new Counter({
      name: 'otaflow_device_upgrades_started_total',
      help: 'Device upgrade attempts started (their first step recorded, or their end when they had none), by flow',
      labelNames: ['flow'] as const,
      registers,
    }),
    upgradesEnded: new Counter({
      name: 'otaflow_device_upgrades_ended_total',
      help: "Device upgrade attempts ended, by flow, outcome and the seed's failure cause ('' when none); a retried attempt counts each time",
      labelNames: ['flow', 'outcome', 'cause'] as const,
      registers,
    }),
    mqttUplinks: new Counter({
      name: 'otaflow_mqtt_uplinks_total',
      help: 'MQTT uplinks that reached this gateway, by what became of them: recorded, redelivered (recorded before), retained or unexpected-topic (ignored)',
      labelNames: ['result'] as const,
      registers,
    }),
    packageBytesServed: new Counter({
      name: 'otaflow_package_bytes_served_total',
      help: "Package bytes sent to devices, by transport: http (the API's download endpoint) or coap (the LwM2M gateway's blocks)",
      labelNames: ['transport'] as const,
      registers,
    }),
    coapBlocksServed: new Counter({
      name: 'otaflow_coap_blocks_served_total',
      help: 'Package blocks the LwM2M gateway answered with (CoAP Block2)',
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'otaflow_webhook_deliveries_total',
      help: 'Webhook delivery attempts by what came of them: delivered, retrying (to be tried again) or given-up (past its maximum age)',
      labelNames: ['result'] as const,
      registers,
    }),
    webhookDeliveryLagSeconds: new Histogram({
      name: 'otaflow_webhook_delivery_lag_seconds',
      help: 'Time from a webhook event to its receiver accepting it',
      buckets: WEBHOOK_LAG_SECONDS,
      registers,
    }),
    mqttDownlinks: new Counter({
      name: 'otaflow_mqtt_downlinks_total',
      help: 'MQTT downlinks (version queries, upgrade notifications) this gateway published, by whether the broker accepted them',
      labelNames: ['result'] as const,
      registers,
    }),
    mqttPresenceEvents: new Counter({
      name: 'otaflow_mqtt_presence_events_total',
      help: "Devices connecting to and disconnecting from the MQTT broker, as this gateway heard of them (the broker's events)",
      labelNames: ['event'] as const,
      registers,
    }),
    coapRequests: new Counter({
      name: 'otaflow_coap_requests_total',
      help: "CoAP requests devices sent the LwM2M gateway, by interface (registration, package, other), method and the answer's code class (2.xx, 4.xx, 5.xx)",
      labelNames: ['interface', 'method', 'code'] as const,
      registers,
    }),
    databaseSeconds: new Histogram({
      name: 'otaflow_database_duration_seconds',
      help: 'Time each database query (outside transactions) and each transaction took, by which it was',
      labelNames: ['operation'] as const,
      buckets: DATABASE_SECONDS,
      registers,
    }),
  };
}

export type OtaflowMetrics = ReturnType<typeof createMetrics>;

/** Where a task's device waits before an attempt at its upgrade starts. */
const BEFORE_AN_ATTEMPT: ReadonlySet<string> = new Set(['pending', 'retrying']);
/** The seed's steps: the ones an upgrade's time is measured in. */
const SEED_STEPS: ReadonlySet<string> = new Set([
  'waiting-online',
  'querying-version',
  'querying-radio',
  'waiting-permit',
  'downloading',
  'updating',
]);

/**
 * What a device's upgrade moving on from `change.from` to `to` (a step, or `ended`) at `at` counts:
 * an attempt started, or the time spent in the seed's step it leaves.
 */
export function observeStepChange(
  metrics: Pick<OtaflowMetrics, 'upgradesStarted' | 'upgradeStepSeconds'>,
  change: StepChange | undefined,
  to: string,
  at: Date,
): void {
  if (!change || change.from === to) return;
  if (BEFORE_AN_ATTEMPT.has(change.from)) metrics.upgradesStarted.inc({ flow: change.flow });
  if (change.since && SEED_STEPS.has(change.from)) {
    const seconds = Math.max(0, (at.getTime() - change.since.getTime()) / 1000);
    metrics.upgradeStepSeconds.observe({ protocol: change.protocol, step: change.from }, seconds);
  }
}
