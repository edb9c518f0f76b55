/**
 * `npm run bench [-- --devices 1000,10000 --quick ...]`: otaflow's speed and Temporal cost on a real
 * local stack, side by side with the engine's own ceiling. See BENCHMARKS.md.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type CoapScenarioResult, runCoapScenario } from './coap-scenario';
import type { PhaseCpu } from './cpu';
import {
  type LimiterScenarioOptions,
  type LimiterScenarioResult,
  runLimiterScenario,
} from './limiter-scenario';
import { type Lwm2mScenarioResult, runLwm2mScenario } from './lwm2m-scenario';
import { runMqttScenario, type ScenarioOptions, type ScenarioResult, type TaskShare } from './mqtt-scenario';
import { type BenchStack, DEPLOYMENTS, type Deployment, startBenchStack } from './stack';
import { median, round } from './stats';
import { largestDifferences, type PhaseRequests } from './temporal-requests';

const USAGE = `usage: npm run bench -- [--quick] [--scenario both|mqtt|lwm2m|limiter|coap] [--devices 1000,10000]
  [--lwm2m-devices 1000] [--limiter-requesters 1000] [--limiter-limit 10] [--limiter-hold-ms 200]
  [--coap-downloads 1000] [--coap-package-kb 32]
  [--database postgres|pglite] [--deployment single|split|single,split] [--runs 3] [--package-kb 4] [--download-concurrency 64]
  [--download-delay-ms 0] [--failure-share 0.02] [--block-size 512] [--block-delay-ms 0]
  [--history-sample 20] [--deadline-s 900] [--inflight-only | --upgrade-only (with --scenario mqtt)]
  [--connected-at-once N (MQTT devices connected at once; default all, at most what 'ulimit -n' allows)]
  [--tls (MQTT over TLS and HTTPS downloads, as npm start serves devices)]`;

/** Fleets this large run once whatever `--runs` says, first: one takes a quarter of an hour or more here. */
const REPEATED_BELOW = 10_000;
/**
 * A phase of a large fleet may take longer than `--deadline-s`: at least this long per device (10,000
 * devices: 25 minutes; cancelling 10,000 upgrades in flight took 11 minutes here).
 */
const DEADLINE_MS_PER_DEVICE = 150;

/**
 * `both`: every scenario — the MQTT and LwM2M flows, the cell limiter's deep queue and the CoAP
 * gateway's block serving.
 */
const SCENARIOS = ['both', 'mqtt', 'lwm2m', 'limiter', 'coap'] as const;

interface BenchOptions extends Omit<ScenarioOptions, 'devices'> {
  scenario: (typeof SCENARIOS)[number];
  sizes: number[];
  lwm2mSizes: number[];
  limiter: Omit<LimiterScenarioOptions, 'deadlineMs'>;
  coap: { downloads: number; packageKb: number };
  blockSize: number;
  blockDelayMs: number;
  quick: boolean;
  database: 'pglite' | 'postgres';
  tls: boolean;
  /**
   * The deployments to run every scenario on, one after the other, each on a fresh stack: the first
   * one's figures are the headline, the others are compared with it.
   */
  deployments: Deployment[];
  /** How often each scenario below 10,000 devices runs; the headline figures are the medians. */
  runs: number;
}

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      'inflight-only': { type: 'boolean', default: false },
      'upgrade-only': { type: 'boolean', default: false },
      'connected-at-once': { type: 'string' },
      tls: { type: 'boolean', default: false },
      devices: { type: 'string' },
      'lwm2m-devices': { type: 'string' },
      'limiter-requesters': { type: 'string' },
      'limiter-limit': { type: 'string', default: '10' },
      'limiter-hold-ms': { type: 'string', default: '200' },
      'coap-downloads': { type: 'string' },
      'coap-package-kb': { type: 'string', default: '32' },
      scenario: { type: 'string', default: 'both' },
      database: { type: 'string', default: 'postgres' },
      deployment: { type: 'string', default: 'single' },
      'package-kb': { type: 'string', default: '4' },
      'download-concurrency': { type: 'string', default: '64' },
      'download-delay-ms': { type: 'string', default: '0' },
      'failure-share': { type: 'string', default: '0.02' },
      'block-size': { type: 'string', default: '512' },
      'block-delay-ms': { type: 'string', default: '0' },
      'history-sample': { type: 'string', default: '20' },
      'deadline-s': { type: 'string', default: '900' },
      runs: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const scenario = SCENARIOS.find((name) => name === values.scenario);
  if (!scenario) throw new Error(`--scenario ${values.scenario}: expected ${SCENARIOS.join(', ')}\n${USAGE}`);
  if (values['inflight-only'] && scenario !== 'mqtt') {
    throw new Error(`--inflight-only holds MQTT upgrades in flight: add --scenario mqtt\n${USAGE}`);
  }
  if (values['upgrade-only'] && (scenario !== 'mqtt' || values['inflight-only'])) {
    throw new Error(
      `--upgrade-only runs the MQTT upgrade phase alone: add --scenario mqtt, without --inflight-only\n${USAGE}`,
    );
  }
  if (values.database !== 'pglite' && values.database !== 'postgres') {
    throw new Error(`--database ${values.database}: expected pglite or postgres\n${USAGE}`);
  }
  const named = (values.deployment ?? '').split(',');
  const unknown = named.find((name) => !DEPLOYMENTS.some((deployment) => deployment === name));
  if (unknown !== undefined) {
    throw new Error(
      `--deployment ${values.deployment}: '${unknown}' is not one of ${DEPLOYMENTS.join(', ')}\n${USAGE}`,
    );
  }
  // Single first whatever the order given: its figures are the ones compared across runs.
  const deployments = DEPLOYMENTS.filter((deployment) => named.includes(deployment));
  if (deployments.includes('split') && (values.database === 'pglite' || values.tls)) {
    throw new Error(
      `--deployment ${values.deployment}: the split deployment runs on PostgreSQL and plain MQTT; drop --database pglite and --tls\n${USAGE}`,
    );
  }
  const number = (name: string, value: string | undefined, min: number, max: number) => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
      throw new Error(`--${name} ${value}: expected a number from ${min} to ${max}\n${USAGE}`);
    }
    return parsed;
  };
  const sizesOf = (name: string, list: string, max: number) =>
    list.split(',').map((size) => Math.round(number(name, size, 10, max)));
  // 100,000 MQTT devices is the task API's largest target; see connectableDevices for what a run needs.
  const sizes = sizesOf('devices', values.devices ?? (values.quick ? '200' : '1000,10000'), 100_000);
  const connectedAtOnce = Math.round(
    number(
      'connected-at-once',
      values['connected-at-once'] ?? String(connectableDevices()),
      1_001,
      connectableDevices(),
    ),
  );
  // One UDP socket and CoAP endpoint per simulated NB-IoT device: 1,000 is the full run's size.
  const lwm2mSizes = sizesOf(
    'lwm2m-devices',
    values['lwm2m-devices'] ?? (values.quick ? '80' : '1000'),
    20_000,
  );
  const limiterRequesters = values['limiter-requesters'] ?? (values.quick ? '100' : '1000');
  const blockSize = number('block-size', values['block-size'], 16, 1024);
  if (!Number.isInteger(Math.log2(blockSize)))
    throw new Error(`--block-size ${blockSize}: expected a power of two`);
  return {
    scenario,
    quick: values.quick ?? false,
    tls: values.tls ?? false,
    inflightOnly: values['inflight-only'] ?? false,
    upgradeOnly: values['upgrade-only'] ?? false,
    connectedAtOnce,
    database: values.database,
    deployments,
    sizes,
    lwm2mSizes,
    limiter: {
      requesters: Math.round(number('limiter-requesters', limiterRequesters, 2, 20_000)),
      limit: Math.round(number('limiter-limit', values['limiter-limit'], 1, 1_000)),
      holdMs: number('limiter-hold-ms', values['limiter-hold-ms'], 0, 600_000),
    },
    coap: {
      downloads: Math.round(
        number('coap-downloads', values['coap-downloads'] ?? (values.quick ? '100' : '1000'), 1, 10_000),
      ),
      packageKb: number('coap-package-kb', values['coap-package-kb'], 1, 10_240),
    },
    blockSize,
    blockDelayMs: number('block-delay-ms', values['block-delay-ms'], 0, 10_000),
    packageKb: number('package-kb', values['package-kb'], 1, 10_240),
    downloadConcurrency: number('download-concurrency', values['download-concurrency'], 1, 10_000),
    downloadDelayMs: number('download-delay-ms', values['download-delay-ms'], 0, 600_000),
    failureShare: number('failure-share', values['failure-share'], 0, 0.5),
    historySample: number('history-sample', values['history-sample'], 1, 500),
    deadlineMs: number('deadline-s', values['deadline-s'], 10, 7200) * 1000,
    runs: Math.round(number('runs', values.runs ?? (values.quick ? '1' : '3'), 1, 20)),
  };
}

/** The soft limit on open files (/proc/self/limits); Infinity where it cannot be read. */
function maxOpenFiles(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((row) => row.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) ? soft : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Devices that can connect at once: one socket each, less a margin for the stack's own files. */
function connectableDevices(): number {
  return maxOpenFiles() - 1_000;
}

function machine() {
  return {
    nproc: os.availableParallelism(),
    memory_gib: round(os.totalmem() / 1024 ** 3, 1),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    load_average_at_start: os.loadavg().map((load) => round(load, 2)),
  };
}

function gitCommit(): string | null {
  try {
    return execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

/** Every scenario run of one invocation, by scenario. */
interface Results {
  mqtt: ScenarioResult[];
  lwm2m: Lwm2mScenarioResult[];
  limiter: LimiterScenarioResult[];
  coap: CoapScenarioResult[];
}

/** A scenario run that failed; the others go on, and the run exits non-zero after writing its results. */
interface Failure {
  scenario: string;
  run: number;
  error: string;
}

/**
 * The figures the issue asks for, per flow; a flow not run this time stays null. Each is the median
 * over the runs of the flow's headline fleet: the size run most often (`--runs`), the largest of those.
 */
function headline(
  { mqtt: mqttResults, lwm2m: lwm2mResults, limiter: limiterResults, coap: coapResults }: Results,
  machineInfo: ReturnType<typeof machine>,
) {
  const mqtt = headlineRuns(mqttResults);
  const lwm2m = headlineRuns(lwm2mResults);
  const plainCoap = coapResults.filter((r) => r.transport === 'coap');
  const dtlsCoap = coapResults.filter((r) => r.transport === 'dtls');
  const perFlow = (
    pick: (result: ScenarioResult) => number | null,
    pickLwm2m: (result: Lwm2mScenarioResult) => number | null,
  ) => ({ mqtt: medianOf(mqtt, pick), lwm2m: medianOf(lwm2m, pickLwm2m) });
  const tenThousand = mqttResults.filter((result) => (result.inflight?.devices ?? 0) >= 10_000);
  return {
    upgrades_per_s: perFlow(
      (r) => r.upgrades_per_s,
      (r) => r.upgrades_per_s,
    ),
    ceiling_ratio: perFlow(
      (r) => r.ceiling_ratio,
      (r) => r.ceiling_ratio,
    ),
    actions_per_upgrade: perFlow(
      (r) => r.actions_per_upgrade,
      (r) => r.actions_per_upgrade,
    ),
    history_events_per_upgrade: perFlow(
      (r) => r.history_events_per_upgrade,
      (r) => r.history_events_per_upgrade,
    ),
    // The goal's case, a deep queue in one cell, is the limiter scenario's; the LwM2M flow's few queued
    // requests stay in its own scenario block.
    limiter_grant_p99_ms: { mqtt: null, lwm2m: medianOf(limiterResults, (r) => r.grant_p99_ms) },
    worker_rss_mb_10k_inflight: { mqtt: medianOf(tenThousand, (r) => r.inflight?.peak_rss_mb), lwm2m: null },
    // The goal's case, 1,000 downloads at once, is the CoAP scenario's; the LwM2M flow's own downloads
    // (a few dozen at once) stay in its scenario block.
    coap_blocks_per_s: { mqtt: null, lwm2m: medianOf(plainCoap, (r) => r.coap_blocks_per_s) },
    coap_rss_mb_1k_downloads: { mqtt: null, lwm2m: medianOf(plainCoap, (r) => r.rss_mb.peak) },
    dtls_blocks_per_s: { mqtt: null, lwm2m: medianOf(dtlsCoap, (r) => r.coap_blocks_per_s) },
    dtls_handshakes_per_s: { mqtt: null, lwm2m: medianOf(dtlsCoap, (r) => r.handshakes?.per_s ?? null) },
    // otaflow's process and the DTLS terminator's, each at its peak.
    dtls_rss_mb_1k_downloads: {
      mqtt: null,
      lwm2m: medianOf(dtlsCoap, (r) => r.rss_mb.peak + (r.terminator_rss_mb?.peak ?? 0)),
    },
    // CPU of every process of the run per upgrade, otaflow's and the ceiling's (cpu.ts).
    cpu_ms_per_upgrade: perFlow(
      (r) => r.cpu?.upgrade?.ms_per_unit.total ?? null,
      (r) => r.cpu.upgrade?.ms_per_unit.total ?? null,
    ),
    ceiling_cpu_ms_per_upgrade: perFlow(
      (r) => r.cpu?.ceiling?.ms_per_unit.total ?? null,
      (r) => r.cpu.ceiling?.ms_per_unit.total ?? null,
    ),
    upgrades_started_per_min: perFlow(
      (r) => r.upgrades_started_per_min,
      (r) => r.upgrades_started_per_min,
    ),
    devices: {
      mqtt: mqtt[0]?.devices ?? null,
      lwm2m: lwm2m[0]?.devices ?? null,
      limiter_requesters: limiterResults[0]?.requesters ?? null,
      coap_downloads: plainCoap[0]?.downloads ?? null,
    },
    runs: {
      mqtt: mqtt.length,
      lwm2m: lwm2m.length,
      limiter: limiterResults.length,
      coap: plainCoap.length,
      dtls: dtlsCoap.length,
    },
    machine: machineInfo,
  };
}

function headlineRuns<T extends { devices: number }>(results: T[]): T[] {
  const runsOf = (devices: number) => results.filter((result) => result.devices === devices).length;
  const size = results
    .map((result) => result.devices)
    .reduce<number | undefined>((best, devices) => {
      if (best === undefined) return devices;
      const [runs, bestRuns] = [runsOf(devices), runsOf(best)];
      return runs > bestRuns || (runs === bestRuns && devices > best) ? devices : best;
    }, undefined);
  return results.filter((result) => result.devices === size);
}

function medianOf<T>(results: T[], pick: (result: T) => number | null | undefined): number | null {
  const values = results.map(pick).filter((value): value is number => typeof value === 'number');
  return median(values);
}

function scaling(results: ScenarioResult[]) {
  return results.map((result) => ({
    devices: result.devices,
    upgrade_wall_s: round(result.wall.upgradeS, 1),
    ms_per_device: result.wall.msPerDevice,
    upgrades_per_s: result.upgrades_per_s,
    connected_at_once: result.connected?.at_once ?? null,
    connected_rss_mb: result.connected?.rss_mb ?? null,
    peak_rss_mb_to_upgraded: result.connected?.peak_rss_mb ?? null,
    inflight_upgrades: result.inflight?.devices ?? null,
    inflight_peak_rss_mb: result.inflight?.peak_rss_mb ?? null,
    inflight_rss_kb_per_device: result.inflight?.rss_kb_per_device ?? null,
  }));
}

/** A phase's CPU per unit of work by process, in ms (`scale` 1) or µs (1000); the idle ones left out. */
function cpuByProcess(phase: PhaseCpu, scale = 1): string {
  return Object.entries(phase.ms_per_unit)
    .filter(([, ms]) => ms > 0)
    .map(([component, ms]) => `${component} ${round(ms * scale, 2)}`)
    .join(', ');
}

/** CPU ms per upgrade by process, otaflow's run beside the ceiling's, and how busy the machine was. */
function cpuLines(cpu: { upgrade: PhaseCpu | null; ceiling: PhaseCpu | null } | null): string[] {
  const describe = (phase: PhaseCpu | null) =>
    phase
      ? `${cpuByProcess(phase)} (machine ${phase.machine_busy_pct} % busy, ${phase.steal_pct} % stolen by the hypervisor, ${phase.outside_s} CPU-s outside the benchmark)`
      : 'not measured';
  return [
    `    CPU ms per upgrade: ${describe(cpu?.upgrade ?? null)}`,
    `      ceiling: ${describe(cpu?.ceiling ?? null)}`,
  ];
}

/** The operations whose requests per upgrade differ most between otaflow's run and the ceiling's. */
function requestLines(requests: PhaseRequests | null): string[] {
  if (!requests?.upgrade || !requests.ceiling) return [];
  const differences = largestDifferences(requests.upgrade, requests.ceiling, 8);
  return [`    Temporal requests per upgrade, otaflow vs ceiling: ${differences.join('; ')}`];
}

function taskLine(share: TaskShare): string {
  return `    task workflow itself: ${share.actions} actions and ${share.events} events per device (${share.runs} run(s)); actions by type per device ${JSON.stringify(share.actionsByType)}`;
}

function inflightLine(inflight: NonNullable<ScenarioResult['inflight']>, rssOf: string): string {
  const { memory_before: before, memory_inflight: held, memory_after_cancel: after } = inflight;
  return [
    `    in flight (${inflight.tasks} task(s)): ${inflight.devices} upgrades waiting for their device ${inflight.reachedS !== null ? `after ${round(inflight.reachedS, 1)} s (${inflight.ms_per_device} ms/device)` : '(not all of them reached the wait)'}; cancelled in ${round(inflight.cancelS, 1)} s; task workflow task timeouts ${JSON.stringify(inflight.task_workflow_task_timeouts)}`,
    `      ${rssOf} ${before.rss_mb} MB before, peak ${inflight.peak_rss_mb} MB in flight (${inflight.rss_kb_per_device} KB per upgrade); ${inflight.cancel_peak_rss_mb} MB at most until cancelled, ${after.rss_mb} MB after`,
    `      main thread heap used / external / array buffers: ${before.heap_used_mb} / ${before.external_mb} / ${before.array_buffers_mb} MB before, ${held.heap_used_mb} / ${held.external_mb} / ${held.array_buffers_mb} MB in flight, ${after.heap_used_mb} / ${after.external_mb} / ${after.array_buffers_mb} MB after`,
  ].join('\n');
}

/** One deployment's share of an invocation: its stack and its scenario runs. */
interface DeploymentRun {
  deployment: Deployment;
  /** What its stack was made of; null until it started. */
  stack: Record<string, string> | null;
  results: Results;
}

/**
 * The MQTT figures of each deployment side by side, per fleet size (medians over the runs), each
 * deployment's time per device also as a ratio to the first deployment's (1.08: 8 % slower).
 */
function compareDeployments(runs: DeploymentRun[]) {
  const rows = runs.flatMap(({ deployment, results }) =>
    [...new Set(results.mqtt.map((result) => result.devices))].map((devices) => {
      const sized = results.mqtt.filter((result) => result.devices === devices);
      return {
        deployment,
        devices,
        runs: sized.length,
        upgrades_per_s: medianOf(sized, (r) => r.upgrades_per_s),
        upgrades_started_per_min: medianOf(sized, (r) => r.upgrades_started_per_min),
        ms_per_device: medianOf(sized, (r) => r.wall.msPerDevice),
        otaflow_cpu_ms_per_upgrade: medianOf(sized, (r) => r.cpu?.upgrade?.ms_per_unit.otaflow),
        cpu_ms_per_upgrade: medianOf(sized, (r) => r.cpu?.upgrade?.ms_per_unit.total),
        otaflow_rss_mb_connected: medianOf(sized, (r) => r.connected?.rss_mb),
      };
    }),
  );
  return rows.map((row) => {
    const first = rows.find(
      (other) => other.deployment === runs[0]?.deployment && other.devices === row.devices,
    );
    const ratio =
      first?.ms_per_device && row.ms_per_device !== null
        ? round(row.ms_per_device / first.ms_per_device, 2)
        : null;
    return { ...row, ms_per_device_ratio: ratio };
  });
}

function comparisonLines(rows: ReturnType<typeof compareDeployments>): string[] {
  return [
    '  deployments compared, MQTT (medians):',
    ...rows.map(
      (row) =>
        `    ${row.deployment}, ${row.devices} devices (${row.runs} run(s)): ${row.upgrades_per_s} upgrades/s, ${row.upgrades_started_per_min} started/min, ${row.ms_per_device} ms/device (×${row.ms_per_device_ratio}), otaflow CPU ${row.otaflow_cpu_ms_per_upgrade} ms/upgrade (all ${row.cpu_ms_per_upgrade}), otaflow RSS ${row.otaflow_rss_mb_connected} MB connected`,
    ),
  ];
}

function report(summary: ReturnType<typeof headline>, runs: DeploymentRun[], file: string): string {
  const lines = [`\notaflow benchmark (${file})`];
  for (const { deployment, results } of runs) {
    if (runs.length > 1) lines.push(` ${deployment} deployment:`);
    lines.push(...scenarioLines(results, deployment));
  }
  if (runs.length > 1) lines.push(...comparisonLines(compareDeployments(runs)));
  lines.push(
    `  headline${runs.length > 1 ? ` (${runs[0]?.deployment})` : ''}: ${JSON.stringify({ ...summary, machine: undefined })}`,
  );
  return `${lines.join('\n')}\n`;
}

function scenarioLines(results: Results, deployment: Deployment): string[] {
  // The split deployment's processes are summed (stack.ts).
  const rssOf = deployment === 'single' ? 'otaflow process RSS' : "otaflow's processes' RSS summed";
  const lines: string[] = [];
  for (const result of results.mqtt) {
    lines.push(
      `  MQTT, ${result.devices} devices in ${result.tasks} task(s): ${JSON.stringify(result.outcomes)}`,
    );
    if (result.cost_breakdown) {
      const { ceiling } = result;
      lines.push(
        `    upgrades/s (steady median) ${result.upgrades_per_s}  ceiling ${ceiling?.upgrades_per_s ?? '(not run)'}  ratio ${result.ceiling_ratio}`,
        `    started/min ${result.upgrades_started_per_min} (ceiling ${ceiling?.started_per_min ?? '(not run)'})  wall ${round(result.wall.upgradeS ?? 0, 1)} s (${result.wall.msPerDevice} ms/device)`,
        `    actions/upgrade ${result.actions_per_upgrade}  history events/upgrade ${result.history_events_per_upgrade}${ceiling ? `  ceiling shape ${JSON.stringify(ceiling.shape)}` : ''}`,
        taskLine(result.cost_breakdown.taskShare),
        ...cpuLines(result.cpu),
        ...requestLines(result.temporal_requests),
        `    API: create task ${result.api.create_task_ms.join(', ')} ms; p99 GET task ${result.api.get_task_p99_ms} ms, GET task devices ${result.api.get_task_devices_p99_ms} ms`,
        `    ${rssOf} with ${result.connected?.at_once} devices connected at once: ${result.connected?.rss_mb} MB when all were upgraded (peak until then ${result.connected?.peak_rss_mb} MB)`,
      );
    }
    if (result.inflight) lines.push(inflightLine(result.inflight, rssOf));
  }
  for (const result of results.lwm2m) {
    const { limiter, downloads, cost_breakdown: cost } = result;
    lines.push(
      `  LwM2M, ${result.devices} devices in ${result.cells.length} cells (${result.cells.map((cell) => `${cell.devices}×${cell.limit}`).join(', ')} devices×permits): ${JSON.stringify(result.outcomes)}`,
      `    upgrades/s (steady median) ${result.upgrades_per_s}  ceiling ${result.ceiling.upgrades_per_s}  ratio ${result.ceiling_ratio}  started/min ${result.upgrades_started_per_min}  wall ${round(result.wall.upgradeS, 1)} s`,
      `    actions/upgrade ${result.actions_per_upgrade} (device ${cost.device?.actions}, task ${cost.taskShare.actions}, limiter ${cost.limiterShare.actions})  history events/upgrade ${result.history_events_per_upgrade}  ceiling shape ${JSON.stringify(result.ceiling.shape)}`,
      taskLine(cost.taskShare),
      ...cpuLines(result.cpu),
      ...requestLines(result.temporal_requests),
      `    limiter: release→grant p50 ${limiter.grant_p50_ms} ms, p99 ${limiter.grant_p99_ms} ms (${limiter.grant_samples} samples); ${limiter.actions_per_grant} actions, ${limiter.history_events_per_grant} events per grant`,
      ...limiter.cells.map(
        (cell) =>
          `      cell ${cell.cellId}: ${cell.grants} grants, ${cell.grantsPerS} grants/s, max ${cell.maxQueued} queued, ${cell.runs} run(s)`,
      ),
      `    downloads: ${downloads.blocks} blocks of ${downloads.block_size} B, ${downloads.coap_blocks_per_s} blocks/s, up to ${downloads.peak_concurrent} at once; ${rssOf} peak ${downloads.platform_peak_rss_mb} MB`,
    );
  }
  for (const r of results.limiter) {
    lines.push(
      `  cell limiter, ${r.requesters} requesters in one cell of ${r.limit} permits, each held ${r.hold_ms} ms: ${r.completed} completed; requested in ${r.wall.startS} s, all released after ${r.wall.grantS} s`,
      `    release→grant p50 ${r.grant_p50_ms} ms, p99 ${r.grant_p99_ms} ms (${r.grant_samples} samples); ${r.grants} grants, ${r.grants_per_s} grants/s; max ${r.max_queued} queued`,
      `    ${r.actions_per_grant} actions, ${r.history_events_per_grant} events per grant; ${r.limiter_runs} run(s) (${r.continued_as_new} continue-as-new)`,
    );
  }
  for (const r of results.coap) {
    const cpu = r.cpu_per_block;
    lines.push(
      `  CoAP block serving${r.transport === 'dtls' ? ' over DTLS' : ''}, ${r.downloads} devices downloading ${r.package_kb} KiB in ${r.block_size} B blocks at once: ${r.completed} completed, ${r.failed} failed in ${r.wall_s} s (download p50 ${r.download_s.p50} s, p99 ${r.download_s.p99} s)`,
      `    ${r.coap_blocks_per_s} blocks/s; ${rssOf} ${r.rss_mb.before} MB before, peak ${r.rss_mb.peak} MB; CPU µs per block: ${cpu ? cpuByProcess(cpu, 1000) : 'not measured'}`,
    );
    if (r.handshakes && r.terminator_rss_mb) {
      lines.push(
        `    ${r.handshakes.completed} DTLS handshakes at once: ${r.handshakes.per_s}/s, each p50 ${r.handshakes.ms.p50} ms, p99 ${r.handshakes.ms.p99} ms; terminator RSS ${r.terminator_rss_mb.before} MB before, peak ${r.terminator_rss_mb.peak} MB`,
      );
    }
  }
  return lines;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const machineInfo = machine();
  const startedAt = new Date();
  // The code this run measures: later commits during a long run do not change what it runs.
  const commit = gitCommit();
  const runs: DeploymentRun[] = options.deployments.map((deployment) => ({
    deployment,
    stack: null,
    results: { mqtt: [], lwm2m: [], limiter: [], coap: [] },
  }));
  const [first, ...others] = runs as [DeploymentRun, ...DeploymentRun[]];
  const failures: Failure[] = [];
  const resultsDir = path.join(__dirname, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const scenariosOf = (results: Results) =>
    Object.fromEntries(
      Object.entries(results).map(([scenario, done]) => [scenario, done.length > 0 ? done : null]),
    );
  /** Writes the results so far: after every scenario run, so a run stopped half-way keeps its figures. */
  const saveResults = (finished: boolean): string => {
    const document = {
      ...headline(first.results, machineInfo),
      run: {
        started_at: startedAt.toISOString(),
        finished_at: finished ? new Date().toISOString() : null,
        commit,
        command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
        quick: options.quick,
        deployment: first.deployment,
        stack: first.stack,
        options: { ...options, sizes: undefined, lwm2mSizes: undefined },
        sizes: {
          mqtt: options.sizes,
          lwm2m: options.lwm2mSizes,
          limiter: options.limiter.requesters,
          coap: options.coap.downloads,
        },
      },
      failures,
      scaling: scaling(first.results.mqtt),
      scenarios: scenariosOf(first.results),
      ...(others.length > 0 && {
        deployment_comparison: compareDeployments(runs),
        other_deployments: Object.fromEntries(
          others.map(({ deployment, stack, results }) => [
            deployment,
            { stack, scaling: scaling(results.mqtt), scenarios: scenariosOf(results) },
          ]),
        ),
      }),
    };
    const json = `${JSON.stringify(document, null, 2)}\n`;
    writeFileSync(file, json);
    return json;
  };
  let stopStack: (() => Promise<void>) | undefined;
  let interrupted = false;
  // Handled every time, not once: a second Ctrl-C (or tsx passing the terminal's on) would otherwise
  // end the benchmark at once, before it has stopped otaflow, and leave that process running.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) {
        console.error(`bench: ${signal} again; still stopping (each otaflow process is killed after 30 s)`);
        return;
      }
      interrupted = true;
      console.error(`bench: ${signal}, stopping the stack`);
      void (stopStack?.() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  // Each deployment on a fresh stack, one after the other: never two competing for the machine.
  for (const run of runs) {
    const stack = await startBenchStack({
      database: options.database,
      tls: options.tls,
      deployment: run.deployment,
    });
    stopStack = () => stack.stop();
    run.stack = stack.description;
    try {
      await runScenarios(options, stack, {
        label: runs.length > 1 ? ` (${run.deployment})` : '',
        results: run.results,
        failures,
        saveResults: () => saveResults(false),
      });
    } finally {
      await stack.stop();
      stopStack = undefined;
    }
  }
  const json = saveResults(true);
  // A quick smoke run says little about speed; only full runs of every scenario with the single process
  // first replace the committed figures.
  if (!options.quick && options.scenario === 'both' && first.deployment === 'single') {
    writeFileSync(path.join(__dirname, 'latest.json'), json);
  }
  process.stdout.write(
    report(headline(first.results, machineInfo), runs, path.relative(process.cwd(), file)),
  );
  if (failures.length > 0) {
    throw new Error(
      `${failures.length} scenario run(s) failed: ${failures.map((f) => `${f.scenario} (run ${f.run}): ${f.error}`).join('; ')}`,
    );
  }
}

/** Where one deployment's scenario runs go, and how they are announced (`label`: which deployment). */
interface ScenarioSink {
  label: string;
  results: Results;
  failures: Failure[];
  saveResults(): void;
}

/** Every scenario the options ask for, on one deployment's stack. */
async function runScenarios(options: BenchOptions, stack: BenchStack, sink: ScenarioSink): Promise<void> {
  const { label, results } = sink;
  // One scenario failing (a stalled device, a deadline) does not throw away the others' figures.
  async function attempt<T>(scenario: string, run: number, into: T[], work: () => Promise<T>) {
    try {
      into.push(await work());
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      console.error(`bench: ${scenario}${label} (run ${run}) failed: ${message}`);
      sink.failures.push({ scenario: `${scenario}${label}`, run, error: message });
    }
    sink.saveResults();
  }
  const isLarge = (devices: number) => devices >= REPEATED_BELOW;
  const deadlineFor = (devices: number) => Math.max(options.deadlineMs, devices * DEADLINE_MS_PER_DEVICE);
  type FleetOptions = BenchOptions & { devices: number };
  /** One flow's fleet scenario: each run announced, its deadline by size, its result or failure kept. */
  const flow = <T>(
    name: string,
    sizes: number[],
    into: T[],
    scenario: (stack: BenchStack, options: FleetOptions) => Promise<T>,
  ) => ({
    sizes,
    run(devices: number, run: number, nth = ''): Promise<void> {
      console.log(`bench: ${name} flow with ${devices} devices${label}${nth}`);
      return attempt(`${name} ${devices}`, run, into, () =>
        scenario(stack, { ...options, devices, deadlineMs: deadlineFor(devices) }),
      );
    },
  });
  const flows = [
    ...(options.scenario === 'both' || options.scenario === 'mqtt'
      ? [flow('MQTT', options.sizes, results.mqtt, runMqttScenario)]
      : []),
    ...(options.scenario === 'both' || options.scenario === 'lwm2m'
      ? [flow('LwM2M', options.lwm2mSizes, results.lwm2m, runLwm2mScenario)]
      : []),
  ];
  // Large fleets first, once, while the otaflow process is fresh: it keeps the memory it once
  // took, so after the other scenarios its RSS with 10,000 in flight would start from their peak.
  for (const fleet of flows) {
    for (const devices of fleet.sizes.filter(isLarge)) await fleet.run(devices, 1);
  }
  for (let run = 1; run <= options.runs; run++) {
    const nth = options.runs > 1 ? ` (run ${run} of ${options.runs})` : '';
    for (const fleet of flows) {
      for (const devices of fleet.sizes.filter((size) => !isLarge(size))) {
        await fleet.run(devices, run, nth);
      }
    }
    if (options.scenario === 'both' || options.scenario === 'limiter') {
      const { requesters, limit } = options.limiter;
      console.log(`bench: cell limiter with ${requesters} requesters for ${limit} permits${label}${nth}`);
      await attempt('cell limiter', run, results.limiter, () =>
        runLimiterScenario(stack, { ...options.limiter, deadlineMs: options.deadlineMs }),
      );
    }
    if (options.scenario === 'both' || options.scenario === 'coap') {
      const { downloads, packageKb } = options.coap;
      // Plain CoAP and DTLS one after the other, on the same platform: what encryption costs.
      for (const transport of ['coap', 'dtls'] as const) {
        console.log(
          `bench: CoAP block serving${transport === 'dtls' ? ' over DTLS' : ''}, ${downloads} downloads of ${packageKb} KiB at once${label}${nth}`,
        );
        await attempt(transport === 'dtls' ? 'CoAP over DTLS' : 'CoAP', run, results.coap, () =>
          runCoapScenario(stack, { downloads, packageKb, blockSize: options.blockSize, transport }),
        );
      }
    }
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
