/**
 * The MQTT flow at one fleet size: N devices provisioned through the API and connected, a package,
 * one task for all of them run to completion (2 % of devices refuse with result code 5); then the
 * ceiling: the same Temporal work with no logic, at the same concurrency; then the same N upgrades
 * held in flight (devices offline) to measure memory, and cancelled. `inflightOnly` runs the
 * provisioning and the in-flight phase alone, `upgradeOnly` the upgrade phase alone (a fleet too large
 * to run three times: 100,000 devices, connected in a rolling window).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { maxInProgressLimit } from '../src/api/task-schemas';
import { deviceCredentials } from '../src/mqtt/device-auth';
import { connectLeanMqttFleet, type LeanDevicePlan } from '../src/simulator/lean-mqtt-fleet';
import {
  chainCost,
  deviceTimelines,
  type HistoryCost,
  meanHistoryCost,
  runHistories,
  workflowTaskTimeouts,
} from '../src/temporal/history-cost';
import { deviceOperationWorkflowId, taskWorkflowId } from '../workflows/definitions';
import { CEILING_TASK_QUEUE, type UpgradeShape } from './ceiling/shape';
import { cpuSnapshot, type PhaseCpu, phaseCpu } from './cpu';
import type { BenchStack, PlatformMemory } from './stack';
import { percentile, ratePerMinute, round, steadyRatePerSecond } from './stats';
import { countTemporalRequests, type PhaseRequests, type RequestCounts } from './temporal-requests';
import { createTimedApi, inParallel, type TimedApi } from './timed-api';

export interface ScenarioOptions {
  devices: number;
  packageKb: number;
  downloadConcurrency: number;
  downloadDelayMs: number;
  failureShare: number;
  /** Give up waiting for tasks after this long. */
  deadlineMs: number;
  /** Device histories fetched to count actions and events. */
  historySample: number;
  /** Provision the devices and hold N upgrades in flight; no upgrade phase, no ceiling. */
  inflightOnly: boolean;
  /** The task of N upgrades alone: no ceiling, no in-flight phase. */
  upgradeOnly: boolean;
  /** The most devices connected at once; fewer than N connect in a rolling window (lean-mqtt-fleet.ts). */
  connectedAtOnce: number;
}

/** The otaflow process's memory in MB; heap figures are the main thread's (the workflows run in another). */
export interface MemoryFigures {
  rss_mb: number;
  heap_used_mb: number;
  heap_total_mb: number;
  external_mb: number;
  array_buffers_mb: number;
}

/**
 * Null fields belong to the phases a run skips: the upgrade phase and the ceiling (`inflightOnly`),
 * the ceiling and the in-flight phase (`upgradeOnly`).
 */
export interface ScenarioResult {
  devices: number;
  inflight_only: boolean;
  upgrade_only: boolean;
  tasks: number;
  outcomes: Record<string, number>;
  wall: {
    provisionS: number;
    connectS: number | null;
    upgradeS: number | null;
    msPerDevice: number | null;
  };
  upgrades_per_s: number | null;
  upgrades_started_per_min: number | null;
  ceiling: {
    upgrades_per_s: number | null;
    started_per_min: number | null;
    wallS: number;
    shape: UpgradeShape;
  } | null;
  ceiling_ratio: number | null;
  /** CPU per upgrade by process, in the upgrade phase and in the ceiling's run (cpu.ts). */
  cpu: { upgrade: PhaseCpu | null; ceiling: PhaseCpu | null } | null;
  /** The Temporal server's requests per upgrade by operation, in the same two phases (temporal-requests.ts). */
  temporal_requests: PhaseRequests | null;
  actions_per_upgrade: number | null;
  history_events_per_upgrade: number | null;
  cost_breakdown: { device: HistoryCost | null; taskShare: TaskShare } | null;
  /** The otaflow process(es) once the upgrade phase ended, and their peak from provisioning to then. */
  connected: {
    /** The most devices connected at once: N, or the rolling window's size. */
    at_once: number;
    rss_mb: number;
    peak_rss_mb: number;
  } | null;
  api: {
    create_task_ms: number[];
    get_task_p99_ms: number | null;
    get_task_devices_p99_ms: number | null;
    samples: Record<string, number>;
  };
  inflight: {
    /** Upgrades seen waiting for their device at once (N when all got there). */
    devices: number;
    /** Tasks of up to 1,000 devices the N upgrades were rolled out in. */
    tasks: number;
    reachedS: number | null;
    /** Time until all N waited, per device. */
    ms_per_device: number | null;
    peak_rss_mb: number;
    /** Growth over the process before the rollout, per upgrade in flight. */
    rss_kb_per_device: number | null;
    /** The process before the rollout and with all N waiting (after a 3 s hold). */
    memory_before: MemoryFigures;
    memory_inflight: MemoryFigures;
    cancelS: number;
    /** The highest RSS while the N were in flight or being cancelled (cancelling replays them). */
    cancel_peak_rss_mb: number;
    /** The process once all N are cancelled: what it keeps. */
    memory_after_cancel: MemoryFigures;
    /**
     * Workflow tasks of the in-flight task workflows that timed out, by timeout
     * (`workflowTaskTimeouts`): a `StartToClose` one is a task workflow whose workflow task took
     * longer than its timeout (an evicted one replays its long history first); a `ScheduleToStart`
     * one waited too long on its sticky queue for a busy worker and moved to the normal queue.
     */
    task_workflow_task_timeouts: Record<string, number>;
  } | null;
}

/**
 * The in-flight phase's tasks hold this many devices each: a task keeps at most `maxInProgress`
 * (capped at 1,000) upgrades in flight, and these never end while their devices stay offline.
 */
const IN_FLIGHT_TASK_SIZE = maxInProgressLimit;
const POLL_MS = 500;
/** Devices registered per bulk request (a CSV import's share of a 100,000-device fleet). */
const PROVISION_BATCH = 1_000;
/** Tasks polled at once. */
const POLL_CONCURRENCY = 8;
export const PRODUCT = 'bench-meter';
const SOURCE_VERSION = '1.0.0';

/** The task workflows' own cost (every run of each), per device of the scenario. */
export interface TaskShare {
  actions: number;
  events: number;
  runs: number;
  actionsByType: Record<string, number>;
}

export interface TaskStatus {
  state: string;
  counts: { byStep: Record<string, number>; byOutcome: Record<string, number> };
}

export async function runMqttScenario(stack: BenchStack, options: ScenarioOptions): Promise<ScenarioResult> {
  const api = createTimedApi(stack.api, stack.apiKey);
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const temporal = new Client({ connection, namespace: stack.namespace });
  const runId = `${Date.now().toString(36)}-${options.devices}`;
  const model = `BM-${runId}`;
  const plans: LeanDevicePlan[] = Array.from({ length: options.devices }, (_, index) => ({
    deviceId: `bench-${runId}-${index}`,
    secret: randomBytes(12).toString('hex'),
    failWith: isFailing(index, options.failureShare) ? 5 : undefined,
  }));
  const bars = progressBars();
  const errors: unknown[] = [];
  let fleet: Awaited<ReturnType<typeof connectLeanMqttFleet>> | undefined;
  try {
    const provisionStarted = Date.now();
    const registerBar = phaseBar(bars, 'provision', options.devices);
    const batches = Array.from({ length: Math.ceil(plans.length / PROVISION_BATCH) }, (_, index) =>
      plans.slice(index * PROVISION_BATCH, (index + 1) * PROVISION_BATCH),
    );
    await inParallel(batches, 4, async (batch) => {
      const devices = batch.map((plan) => ({
        id: plan.deviceId,
        protocol: 'mqtt',
        product: PRODUCT,
        model,
        secret: plan.secret,
      }));
      await api.post('/v1/devices/bulk', { devices }, 'POST /v1/devices/bulk');
      registerBar.increment(batch.length);
    });
    const provisionS = (Date.now() - provisionStarted) / 1000;

    let upgrade: UpgradePhase | null = null;
    let connectS: number | null = null;
    let connected: ScenarioResult['connected'] = null;
    if (!options.inflightOnly) {
      const connectStarted = Date.now();
      const signedAt = new Date();
      await stack.allowMqttDevices(
        plans.map((plan) => deviceCredentials(plan.deviceId, plan.secret, '0', signedAt)),
      );
      const atOnce = Math.min(options.devices, options.connectedAtOnce);
      const connectBar = phaseBar(bars, 'connect  ', atOnce);
      fleet = await connectLeanMqttFleet(
        plans,
        {
          brokerUrl: stack.mqtt,
          ca: stack.deviceCa,
          signedAt,
          firmwareVersion: SOURCE_VERSION,
          downloadConcurrency: options.downloadConcurrency,
          downloadDelayMs: options.downloadDelayMs,
          connectedAtOnce: atOnce,
          onError: (error) => errors.push(error),
        },
        (count) => connectBar.update(count),
      );
      connectS = (Date.now() - connectStarted) / 1000;
      upgrade = await runUpgradePhase(stack, api, temporal, bars, runId, model, plans, options);
      const memory = await stack.platformRss();
      connected = {
        at_once: atOnce,
        rss_mb: Math.round(memory.currentMb),
        peak_rss_mb: Math.round(memory.peakMb),
      };
      // The devices go offline, so each upgrade of the next phase waits (up to 25 h) for its device.
      await fleet.stop();
      if (!options.upgradeOnly) await waitUntilOffline(api, plans);
    }
    const inflight = options.upgradeOnly
      ? null
      : await runInflightPhase(stack, api, temporal, bars, model, plans, options);
    bars.stop();

    if (errors.length > 0) console.warn(`bench: ${errors.length} device errors; first: ${String(errors[0])}`);
    return {
      devices: options.devices,
      inflight_only: options.inflightOnly,
      upgrade_only: options.upgradeOnly,
      tasks: upgrade?.taskIds.length ?? 0,
      outcomes: upgrade?.outcomes ?? {},
      wall: {
        provisionS,
        connectS,
        upgradeS: upgrade?.upgradeS ?? null,
        msPerDevice: upgrade ? round((upgrade.upgradeS * 1000) / options.devices) : null,
      },
      upgrades_per_s: upgrade?.upgradesPerS ?? null,
      upgrades_started_per_min: upgrade?.startedPerMin ?? null,
      ceiling: upgrade?.ceiling ?? null,
      cpu: upgrade?.cpu ?? null,
      temporal_requests: upgrade?.requests ?? null,
      ceiling_ratio:
        upgrade?.ceiling && upgrade.upgradesPerS !== null && upgrade.ceiling.upgrades_per_s
          ? round(upgrade.upgradesPerS / upgrade.ceiling.upgrades_per_s)
          : null,
      actions_per_upgrade: upgrade?.deviceCost
        ? round(upgrade.deviceCost.actions + upgrade.taskShare.actions)
        : null,
      history_events_per_upgrade: upgrade?.deviceCost
        ? round(upgrade.deviceCost.events + upgrade.taskShare.events)
        : null,
      cost_breakdown: upgrade ? { device: upgrade.deviceCost, taskShare: upgrade.taskShare } : null,
      connected,
      api: {
        create_task_ms: (upgrade?.createTaskMs ?? []).map((ms) => Math.round(ms)),
        get_task_p99_ms: round(percentile(api.latenciesMs.get('GET /v1/tasks/:id') ?? [], 99), 1),
        get_task_devices_p99_ms: round(
          percentile(api.latenciesMs.get('GET /v1/tasks/:id/devices') ?? [], 99),
          1,
        ),
        samples: Object.fromEntries([...api.latenciesMs].map(([route, samples]) => [route, samples.length])),
      },
      inflight,
    };
  } finally {
    bars.stop();
    await fleet?.stop();
    await connection.close();
  }
}

/**
 * N upgrades held in flight, their devices offline, and cancelled. Offline devices keep N upgrades in
 * flight however slowly they start (a silent device's 3-minute version timeout would end the first
 * ones before the last ones start).
 */
async function runInflightPhase(
  stack: BenchStack,
  api: TimedApi,
  temporal: Client,
  bars: MultiBar,
  model: string,
  plans: LeanDevicePlan[],
  options: ScenarioOptions,
): Promise<NonNullable<ScenarioResult['inflight']>> {
  const beforeInflight = await stack.platformRss();
  stack.resetPlatformRss();
  const inflightPkg = await uploadPackage(api, model, '3.0.0', options.packageKb);
  const inflightStarted = Date.now();
  const inflightBar = phaseBar(bars, 'in flight', options.devices);
  const inflightTasks = await createTasks(api, inflightPkg.id, plans, IN_FLIGHT_TASK_SIZE, []);
  let waitingPeak = 0;
  const reached = await pollTasks(api, inflightTasks, options.deadlineMs, (statuses) => {
    const waiting = statuses.reduce((sum, status) => sum + (status.counts.byStep['waiting-online'] ?? 0), 0);
    waitingPeak = Math.max(waitingPeak, waiting);
    inflightBar.update(waiting);
    return waiting >= options.devices;
  }).then(
    () => true,
    () => false,
  );
  const reachedS = reached ? (Date.now() - inflightStarted) / 1000 : null;
  // Hold a moment at the plateau so the sampler sees it.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const inflight = await stack.platformRss();
  const cancelStarted = Date.now();
  await inParallel(inflightTasks, POLL_CONCURRENCY, async (id) => {
    await api.post(`/v1/tasks/${id}/cancel`, {}, 'POST /v1/tasks/:id/cancel');
  });
  await pollTasks(api, inflightTasks, options.deadlineMs, (statuses) =>
    statuses.every((status) => status.state !== 'running' && status.state !== 'cancelling'),
  );
  const cancelS = (Date.now() - cancelStarted) / 1000;
  const afterCancel = await stack.platformRss();
  const inflightTaskRuns = await Promise.all(
    inflightTasks.map((id) => runHistories(temporal, taskWorkflowId(id))),
  );
  return {
    devices: waitingPeak,
    tasks: inflightTasks.length,
    reachedS,
    ms_per_device: reachedS !== null ? round((reachedS * 1000) / options.devices, 1) : null,
    peak_rss_mb: Math.round(inflight.peakMb),
    rss_kb_per_device: round(
      ((inflight.peakMb - beforeInflight.currentMb) * 1024) / Math.max(1, waitingPeak),
      1,
    ),
    memory_before: memoryFigures(beforeInflight),
    memory_inflight: memoryFigures(inflight),
    cancelS,
    cancel_peak_rss_mb: Math.round(afterCancel.peakMb),
    memory_after_cancel: memoryFigures(afterCancel),
    task_workflow_task_timeouts: workflowTaskTimeouts(inflightTaskRuns.flat(2)),
  };
}

interface UpgradePhase {
  taskIds: string[];
  outcomes: Record<string, number>;
  upgradeS: number;
  createTaskMs: number[];
  upgradesPerS: number | null;
  startedPerMin: number | null;
  deviceCost: HistoryCost | null;
  taskShare: TaskShare;
  ceiling: ScenarioResult['ceiling'];
  cpu: NonNullable<ScenarioResult['cpu']>;
  requests: PhaseRequests;
}

/**
 * Every device upgraded by one task, its cost counted from histories, then the ceiling (unless
 * `upgradeOnly`).
 */
async function runUpgradePhase(
  stack: BenchStack,
  api: TimedApi,
  temporal: Client,
  bars: MultiBar,
  runId: string,
  model: string,
  plans: LeanDevicePlan[],
  options: ScenarioOptions,
): Promise<UpgradePhase> {
  const pkg = await uploadPackage(api, model, '2.0.0', options.packageKb);
  const upgradeStarted = Date.now();
  const endRequestCount = await countTemporalRequests(stack);
  const cpuBefore = cpuSnapshot();
  const upgradeBar = phaseBar(bars, 'upgrade  ', options.devices);
  const createTaskMs: number[] = [];
  const taskIds = await createTasks(api, pkg.id, plans, plans.length, createTaskMs);
  const finalStatus = await pollTasks(api, taskIds, options.deadlineMs, (statuses) => {
    upgradeBar.update(sumOutcomes(statuses), { note: '' });
    return statuses.every((status) => status.state !== 'running');
  });
  const upgradeS = (Date.now() - upgradeStarted) / 1000;
  const upgradeCpu = phaseCpu(cpuBefore, cpuSnapshot(), options.devices);
  const upgradeRequests = await endRequestCount(options.devices);
  const outcomes = mergeCounts(finalStatus.map((status) => status.counts.byOutcome));
  const timeline = await deviceTimelines(temporal, taskIds, options.devices);

  // ---- cost, from real histories ----
  const succeeded = await succeededDevices(api, taskIds[0] ?? '', options.historySample);
  const deviceCost = await meanHistoryCost(temporal, succeeded.map(deviceOperationWorkflowId));
  const taskShare = await taskShareOf(temporal, taskIds, options.devices);
  const shape = shapeOf(deviceCost, false);

  // ---- the ceiling: the same Temporal work, no logic ----
  const ceilingRun = options.upgradeOnly
    ? null
    : await runCeiling(stack, temporal, { runId, devices: options.devices, shape, cells: 0, bars });
  return {
    taskIds,
    outcomes,
    upgradeS,
    createTaskMs,
    upgradesPerS: steadyRatePerSecond(timeline.closedAtMs),
    startedPerMin: round(ratePerMinute(timeline.startedAtMs), 0),
    deviceCost,
    taskShare,
    ceiling: ceilingRun && {
      upgrades_per_s: ceilingRun.upgrades_per_s,
      started_per_min: ceilingRun.started_per_min,
      wallS: ceilingRun.wallS,
      shape,
    },
    cpu: { upgrade: upgradeCpu, ceiling: ceilingRun?.cpu ?? null },
    requests: { upgrade: upgradeRequests, ceiling: ceilingRun?.requests ?? null },
  };
}

function memoryFigures(memory: PlatformMemory): MemoryFigures {
  return {
    rss_mb: Math.round(memory.currentMb),
    heap_used_mb: Math.round(memory.heapUsedMb),
    heap_total_mb: Math.round(memory.heapTotalMb),
    external_mb: Math.round(memory.externalMb),
    array_buffers_mb: Math.round(memory.arrayBuffersMb),
  };
}

/** Waits until the registry shows the fleet's first and last devices offline (presence is per device, in order). */
async function waitUntilOffline(api: TimedApi, plans: LeanDevicePlan[]): Promise<void> {
  const sample = [plans[0], plans[Math.floor(plans.length / 2)], plans.at(-1)].flatMap((plan) =>
    plan ? [plan.deviceId] : [],
  );
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const devices = await Promise.all(
      sample.map((id) =>
        api.get<{ online: boolean }>(`/v1/devices/${encodeURIComponent(id)}`, 'GET /v1/devices/:id'),
      ),
    );
    if (devices.every((device) => !device.online)) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error('the disconnected devices still show online after 120 s');
}

function isFailing(index: number, share: number): boolean {
  if (share <= 0) return false;
  const every = Math.max(1, Math.round(1 / share));
  return index % every === every - 1;
}

/** One bar per phase, redrawn in place on a terminal and printed every 10 s otherwise (CI logs). */
export function progressBars(): MultiBar {
  return new MultiBar(
    {
      format: ' {phase} |{bar}| {value}/{total} {note}',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
    },
    Presets.shades_classic,
  );
}

export function phaseBar(bars: MultiBar, phase: string, total: number): SingleBar {
  return bars.create(total, 0, { phase, note: '' });
}

export async function uploadPackage(
  api: TimedApi,
  model: string,
  version: string,
  sizeKb: number,
): Promise<{ id: string; sha256: string }> {
  const form = new FormData();
  form.set('name', `bench firmware ${version}`);
  form.set('version', version);
  form.set('kind', 'firmware');
  form.set('product', PRODUCT);
  form.set('model', model);
  form.set('file', new Blob([randomBytes(sizeKb * 1024)]), `bench-${version}.bin`);
  return api.postForm('/v1/packages', form, 'POST /v1/packages');
}

/**
 * Tasks of `perTask` devices (one task for the whole fleet when it is the fleet's size), created one
 * after the other, each with as many upgrades in progress as a task allows; each creation is timed.
 */
export async function createTasks(
  api: TimedApi,
  packageId: string,
  plans: Array<{ deviceId: string }>,
  perTask: number,
  timings: number[],
): Promise<string[]> {
  const ids: string[] = [];
  for (let first = 0; first < plans.length; first += perTask) {
    const deviceIds = plans.slice(first, first + perTask).map((plan) => plan.deviceId);
    const started = performance.now();
    const task = await api.post<{ id: string }>(
      '/v1/tasks',
      { packageId, target: { deviceIds }, rollout: { maxInProgress: maxInProgressLimit } },
      'POST /v1/tasks',
    );
    timings.push(performance.now() - started);
    ids.push(task.id);
  }
  return ids;
}

/**
 * Polls each task's status and first page of devices (the requests an operator's dashboard makes,
 * timed) until `done` says so or the deadline passes.
 */
export async function pollTasks(
  api: TimedApi,
  taskIds: string[],
  deadlineMs: number,
  done: (statuses: TaskStatus[]) => boolean,
): Promise<TaskStatus[]> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const statuses: TaskStatus[] = [];
    await inParallel(taskIds, POLL_CONCURRENCY, async (id) => {
      const [status] = await Promise.all([
        api.get<TaskStatus>(`/v1/tasks/${id}`, 'GET /v1/tasks/:id'),
        api.get(`/v1/tasks/${id}/devices?limit=100`, 'GET /v1/tasks/:id/devices'),
      ]);
      statuses.push(status);
    });
    if (done(statuses)) return statuses;
    if (Date.now() > deadline) {
      // Where the unfinished devices wait, so a stalled run says which step stalled.
      const waiting = mergeCounts(statuses.map((status) => status.counts.byStep));
      throw new Error(
        `tasks did not finish within ${deadlineMs / 1000} s; devices by step: ${JSON.stringify(waiting)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export function sumOutcomes(statuses: TaskStatus[]): number {
  return statuses.reduce(
    (sum, status) => sum + Object.values(status.counts.byOutcome).reduce((a, b) => a + b, 0),
    0,
  );
}

export function mergeCounts(counts: Array<Record<string, number>>): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const count of counts)
    for (const [key, value] of Object.entries(count)) merged[key] = (merged[key] ?? 0) + value;
  return merged;
}

export async function succeededDevices(api: TimedApi, taskId: string, sample: number): Promise<string[]> {
  const page = await api.get<{ items: Array<{ deviceId: string; outcome: string | null }> }>(
    `/v1/tasks/${taskId}/devices?limit=500`,
    'GET /v1/tasks/:id/devices (report)',
  );
  return page.items
    .filter((row) => row.outcome === 'succeeded')
    .slice(0, sample)
    .map((row) => row.deviceId);
}

/** Every run of each task workflow (`upgrade-task:<id>`), summed and divided by the devices. */
export async function taskShareOf(temporal: Client, taskIds: string[], devices: number): Promise<TaskShare> {
  const costs = await Promise.all(taskIds.map((id) => chainCost(temporal, taskWorkflowId(id))));
  const actionsByType: Record<string, number> = {};
  for (const cost of costs)
    for (const [type, actions] of Object.entries(cost.actionsByType))
      actionsByType[type] = (actionsByType[type] ?? 0) + actions;
  const perDevice = (total: number) => Math.round((total / devices) * 1000) / 1000;
  return {
    actions: perDevice(costs.reduce((sum, cost) => sum + cost.actions, 0)),
    events: perDevice(costs.reduce((sum, cost) => sum + cost.events, 0)),
    runs: costs.reduce((sum, cost) => sum + cost.runs, 0),
    actionsByType: Object.fromEntries(Object.entries(actionsByType).map(([type, n]) => [type, perDevice(n)])),
  };
}

/** The Temporal work of the sampled histories; `permit`: the upgrade holds a cell permit (LwM2M). */
export function shapeOf(cost: HistoryCost | null, permit: boolean): UpgradeShape {
  if (!cost) throw new Error('no successful device upgrade to count Temporal work from');
  const count = (type: string) => Math.round(cost.eventsByType[type] ?? 0);
  return {
    activities: count('ActivityTaskScheduled'),
    signals: count('WorkflowExecutionSignaled'),
    timers: Math.round((cost.eventsByType.TimerStarted ?? 0) * 100) / 100,
    upserts: count('UpsertWorkflowSearchAttributes'),
    permit,
  };
}

/** `cells`: how many cells the ceiling's devices spread over when the shape has a permit. */
export async function runCeiling(
  stack: BenchStack,
  temporal: Client,
  run: { runId: string; devices: number; shape: UpgradeShape; cells: number; bars: MultiBar },
): Promise<{
  upgrades_per_s: number | null;
  started_per_min: number | null;
  wallS: number;
  cpu: PhaseCpu | null;
  requests: RequestCounts | null;
}> {
  const { runId, devices, shape, cells, bars } = run;
  const worker = await stack.startWorkerProcess(path.join(__dirname, 'ceiling', 'worker-process.ts'));
  try {
    const bar = phaseBar(bars, 'ceiling  ', 1);
    const started = Date.now();
    const endRequestCount = await countTemporalRequests(stack);
    const cpuBefore = cpuSnapshot();
    const taskId = `bench-ceiling-${runId}`;
    const handle = await temporal.workflow.start('ceilingTask', {
      workflowId: taskId,
      taskQueue: CEILING_TASK_QUEUE,
      args: [{ taskId, children: devices, maxInProgress: maxInProgressLimit, shape, cells }],
    });
    await handle.result();
    const cpu = phaseCpu(cpuBefore, cpuSnapshot(), devices);
    const requests = await endRequestCount(devices);
    bar.increment();
    const wallS = (Date.now() - started) / 1000;
    const timeline = await deviceTimelines(temporal, [taskId], devices);
    return {
      upgrades_per_s: steadyRatePerSecond(timeline.closedAtMs),
      started_per_min: round(ratePerMinute(timeline.startedAtMs), 0),
      wallS,
      cpu,
      requests,
    };
  } finally {
    await worker.stop();
  }
}
