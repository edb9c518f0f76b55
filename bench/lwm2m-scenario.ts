/**
 * The LwM2M (NB-IoT) flow at one fleet size: N devices registered through the API and simulated over
 * real UDP (`SimulatedLwm2mDevice`), spread over cells of mixed coverage — one good cell (50 permits),
 * fair cells (10 each) and one poor cell (1 permit, a few devices so the run stays bounded) — take a
 * firmware upgrade, downloading the package block-wise from otaflow's LwM2M gateway. Costs come from
 * the device, task and cell limiter histories; then the ceiling runs the device workflows' shape.
 */
import { Client, Connection } from '@temporalio/client';
import { SimulatedLwm2mDevice } from '../src/simulator/lwm2m-device';
import { deviceTimelines, type HistoryCost, meanHistoryCost, sumCosts } from '../src/temporal/history-cost';
import { deviceOperationWorkflowId } from '../workflows/definitions';
import type { UpgradeShape } from './ceiling/shape';
import { cpuSnapshot, type PhaseCpu, phaseCpu } from './cpu';
import {
  type CellLimiterFigures,
  cellLimiterFigures,
  grantLatency,
  limiterRunHistories,
} from './limiter-histories';
import {
  createTasks,
  mergeCounts,
  PRODUCT,
  phaseBar,
  pollTasks,
  progressBars,
  runCeiling,
  type ScenarioOptions,
  shapeOf,
  succeededDevices,
  sumOutcomes,
  type TaskShare,
  taskShareOf,
  uploadPackage,
} from './mqtt-scenario';
import type { BenchStack } from './stack';
import { ratePerMinute, round, steadyRatePerSecond } from './stats';
import { countTemporalRequests, type PhaseRequests } from './temporal-requests';
import { createTimedApi, inParallel } from './timed-api';

export interface Lwm2mScenarioOptions
  extends Pick<ScenarioOptions, 'devices' | 'packageKb' | 'deadlineMs' | 'historySample'> {
  /** CoAP block size the devices ask for. */
  blockSize: number;
  blockDelayMs: number;
}

/** RSRP dBm / SINR dB per coverage class, against the default ranges (docs/cell-limiter.md). */
const COVERAGE = {
  good: { rsrp: -85, sinr: 12, limit: 50 },
  fair: { rsrp: -95, sinr: 0, limit: 10 },
  poor: { rsrp: -110, sinr: -5, limit: 1 },
} as const;
type Coverage = keyof typeof COVERAGE;

const FAIR_CELLS = 3;
/** Devices of the poor cell: each upgrades alone, so they run one after the other. */
const POOR_DEVICES = 3;
const SOURCE_VERSION = '1.0.0';
const TARGET_VERSION = '2.0.0';

interface PlannedDevice {
  deviceId: string;
  cellId: number;
  coverage: Coverage;
}

export interface Lwm2mScenarioResult {
  devices: number;
  tasks: number;
  cells: Array<{ cellId: string; coverage: Coverage; limit: number; devices: number }>;
  outcomes: Record<string, number>;
  wall: { provisionS: number; registerS: number; upgradeS: number; msPerDevice: number | null };
  upgrades_per_s: number | null;
  upgrades_started_per_min: number | null;
  ceiling: {
    upgrades_per_s: number | null;
    started_per_min: number | null;
    wallS: number;
    shape: UpgradeShape;
  };
  /** CPU per upgrade by process, in the upgrade phase and in the ceiling's run (cpu.ts). */
  cpu: { upgrade: PhaseCpu | null; ceiling: PhaseCpu | null };
  /** The Temporal server's requests per upgrade by operation, in the same two phases (temporal-requests.ts). */
  temporal_requests: PhaseRequests;
  ceiling_ratio: number | null;
  actions_per_upgrade: number | null;
  history_events_per_upgrade: number | null;
  cost_breakdown: {
    device: HistoryCost | null;
    taskShare: TaskShare;
    limiterShare: { actions: number; events: number };
  };
  limiter: {
    grant_p50_ms: number | null;
    grant_p99_ms: number | null;
    grant_samples: number;
    actions_per_grant: number | null;
    history_events_per_grant: number | null;
    cells: Array<Omit<CellLimiterFigures, 'releaseToGrantMs' | 'cost'> & { actions: number; events: number }>;
  };
  downloads: {
    blocks: number;
    block_size: number;
    coap_blocks_per_s: number | null;
    peak_concurrent: number;
    /** The otaflow process (gateway, workers, API, PGlite) at its peak during the upgrade phase. */
    platform_peak_rss_mb: number;
  };
}

export async function runLwm2mScenario(
  stack: BenchStack,
  options: Lwm2mScenarioOptions,
): Promise<Lwm2mScenarioResult> {
  const api = createTimedApi(stack.api, stack.apiKey);
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const temporal = new Client({ connection, namespace: stack.namespace });
  const runId = `${Date.now().toString(36)}-${options.devices}`;
  const model = `NB-${runId}`;
  // Cell IDs of this run only, so no limiter of an earlier run (alive for 10 idle minutes) is reused.
  const cellBase = (Date.now() % 1_000_000) * 10;
  const plans = planFleet(runId, cellBase, options.devices);
  const bars = progressBars();
  const devices: SimulatedLwm2mDevice[] = [];
  try {
    const provisionStarted = Date.now();
    const provisionBar = phaseBar(bars, 'provision', plans.length);
    await inParallel(plans, 32, async (plan) => {
      await api.post(
        '/v1/devices',
        { id: plan.deviceId, protocol: 'lwm2m', product: PRODUCT, model, lwm2mSecurity: 'none' },
        'POST /v1/devices',
      );
      provisionBar.increment();
    });
    const provisionS = (Date.now() - provisionStarted) / 1000;

    const downloads = new DownloadMeter(options.blockSize);
    for (const plan of plans) {
      const { rsrp, sinr } = COVERAGE[plan.coverage];
      const device = new SimulatedLwm2mDevice({
        endpoint: plan.deviceId,
        serverUri: stack.lwm2m,
        cellId: plan.cellId,
        rsrp,
        sinr,
        firmwareVersion: SOURCE_VERSION,
        updatedVersion: TARGET_VERSION,
        blockSize: options.blockSize,
        blockDelayMs: options.blockDelayMs,
        updateDurationMs: 50,
      });
      device.on('download-started', () => downloads.started());
      device.on('download-finished', ({ size }) => downloads.finished(size));
      devices.push(device);
    }
    const registerStarted = Date.now();
    const registerBar = phaseBar(bars, 'register ', devices.length);
    await inParallel(devices, 32, async (device) => {
      await device.start();
      registerBar.increment();
    });
    const registerS = (Date.now() - registerStarted) / 1000;

    const pkg = await uploadPackage(api, model, TARGET_VERSION, options.packageKb);
    stack.resetPlatformRss();
    const upgradeStarted = Date.now();
    const endRequestCount = await countTemporalRequests(stack);
    const cpuBefore = cpuSnapshot();
    const upgradeBar = phaseBar(bars, 'upgrade  ', plans.length);
    const taskIds = await createTasks(api, pkg.id, plans, plans.length, []);
    const finalStatus = await pollTasks(api, taskIds, options.deadlineMs, (statuses) => {
      upgradeBar.update(sumOutcomes(statuses));
      return statuses.every((status) => status.state !== 'running');
    });
    const upgradeS = (Date.now() - upgradeStarted) / 1000;
    const upgradeCpu = phaseCpu(cpuBefore, cpuSnapshot(), options.devices);
    const upgradeRequests = await endRequestCount(options.devices);
    const rss = await stack.platformRss();
    const outcomes = mergeCounts(finalStatus.map((status) => status.counts.byOutcome));
    const timeline = await deviceTimelines(temporal, taskIds, plans.length);

    // ---- cost, from real histories: device workflows, task workflows, cell limiters ----
    const succeeded = await succeededDevices(api, taskIds[0] ?? '', options.historySample);
    const deviceCost = await meanHistoryCost(temporal, succeeded.map(deviceOperationWorkflowId));
    const taskShare = await taskShareOf(temporal, taskIds, options.devices);
    const cells = cellsOf(plans);
    const limiters = await Promise.all(
      cells.map(async (cell) =>
        cellLimiterFigures(cell.cellId, await limiterRunHistories(temporal, cell.cellId)),
      ),
    );
    const limiterCost = sumCosts(limiters.map((cell) => cell.cost));
    const grants = limiters.reduce((sum, cell) => sum + cell.grants, 0);
    const perDevice = (total: number) => total / options.devices;
    const limiterShare = { actions: perDevice(limiterCost.actions), events: perDevice(limiterCost.events) };
    const shape = shapeOf(deviceCost, true);

    // ---- the ceiling: the device workflows' Temporal work and their permits, no logic ----
    const {
      cpu: ceilingCpu,
      requests: ceilingRequests,
      ...ceiling
    } = await runCeiling(stack, temporal, {
      runId,
      devices: options.devices,
      shape,
      cells: cells.length,
      bars,
    });
    bars.stop();

    const upgradesPerS = steadyRatePerSecond(timeline.closedAtMs);
    const latency = grantLatency(limiters);
    return {
      devices: options.devices,
      tasks: taskIds.length,
      cells: cells.map((cell) => ({ ...cell, limit: COVERAGE[cell.coverage].limit })),
      outcomes,
      wall: {
        provisionS,
        registerS,
        upgradeS,
        msPerDevice: round((upgradeS * 1000) / options.devices),
      },
      upgrades_per_s: upgradesPerS,
      upgrades_started_per_min: round(ratePerMinute(timeline.startedAtMs), 0),
      ceiling: { ...ceiling, shape },
      cpu: { upgrade: upgradeCpu, ceiling: ceilingCpu },
      temporal_requests: { upgrade: upgradeRequests, ceiling: ceilingRequests },
      ceiling_ratio:
        upgradesPerS !== null && ceiling.upgrades_per_s ? round(upgradesPerS / ceiling.upgrades_per_s) : null,
      actions_per_upgrade: deviceCost
        ? round(deviceCost.actions + taskShare.actions + limiterShare.actions)
        : null,
      history_events_per_upgrade: deviceCost
        ? round(deviceCost.events + taskShare.events + limiterShare.events)
        : null,
      cost_breakdown: {
        device: deviceCost,
        taskShare,
        limiterShare: {
          actions: round(limiterShare.actions, 3) ?? 0,
          events: round(limiterShare.events, 3) ?? 0,
        },
      },
      limiter: {
        grant_p50_ms: latency.p50_ms,
        grant_p99_ms: latency.p99_ms,
        grant_samples: latency.samples,
        actions_per_grant: grants > 0 ? round(limiterCost.actions / grants) : null,
        history_events_per_grant: grants > 0 ? round(limiterCost.events / grants) : null,
        cells: limiters.map(({ releaseToGrantMs: _, cost, ...cell }) => ({
          ...cell,
          actions: cost.actions,
          events: cost.events,
        })),
      },
      downloads: {
        blocks: downloads.blocks,
        block_size: options.blockSize,
        coap_blocks_per_s: downloads.blocksPerSecond(),
        peak_concurrent: downloads.peakConcurrent,
        platform_peak_rss_mb: Math.round(rss.peakMb),
      },
    };
  } finally {
    bars.stop();
    await Promise.all(devices.map((device) => device.stop()));
    await connection.close();
  }
}

/**
 * Devices in cell order good, fair…, poor, interleaved so every cell's queue fills from the first
 * batch of child starts; the poor cell's few devices come first, as their upgrades run one by one.
 */
function planFleet(runId: string, cellBase: number, devices: number): PlannedDevice[] {
  const poor = Math.min(POOR_DEVICES, Math.max(1, Math.floor(devices / 20)));
  const rest = devices - poor;
  const good = Math.ceil(rest / 2);
  const perCell: Array<{ cellId: number; coverage: Coverage; count: number }> = [
    { cellId: cellBase + 9, coverage: 'poor', count: poor },
    { cellId: cellBase, coverage: 'good', count: good },
  ];
  for (let fair = 0; fair < FAIR_CELLS; fair++) {
    const count = Math.floor((rest - good) / FAIR_CELLS) + (fair < (rest - good) % FAIR_CELLS ? 1 : 0);
    perCell.push({ cellId: cellBase + 1 + fair, coverage: 'fair', count });
  }
  const plans: PlannedDevice[] = [];
  for (let index = 0; plans.length < devices; index++) {
    for (const cell of perCell) {
      if (index < cell.count)
        plans.push({
          deviceId: `nb-${runId}-${cell.cellId}-${index}`,
          cellId: cell.cellId,
          coverage: cell.coverage,
        });
    }
  }
  return plans;
}

function cellsOf(plans: PlannedDevice[]): Array<{ cellId: string; coverage: Coverage; devices: number }> {
  const cells = new Map<number, { cellId: string; coverage: Coverage; devices: number }>();
  for (const plan of plans) {
    const cell = cells.get(plan.cellId) ?? {
      cellId: String(plan.cellId),
      coverage: plan.coverage,
      devices: 0,
    };
    cell.devices += 1;
    cells.set(plan.cellId, cell);
  }
  return [...cells.values()];
}

/**
 * CoAP blocks received at the device side, per second of download time: the time at least one
 * device was downloading (the gaps while every device waits for a permit or a workflow step are not
 * download time).
 */
class DownloadMeter {
  blocks = 0;
  peakConcurrent = 0;
  private running = 0;
  private busySince = 0;
  private busyMs = 0;

  constructor(private readonly blockSize: number) {}

  started(): void {
    if (this.running === 0) this.busySince = Date.now();
    this.running += 1;
    this.peakConcurrent = Math.max(this.peakConcurrent, this.running);
  }

  finished(bytes: number): void {
    this.running -= 1;
    this.blocks += Math.ceil(bytes / this.blockSize);
    if (this.running === 0) this.busyMs += Date.now() - this.busySince;
  }

  blocksPerSecond(): number | null {
    return this.busyMs > 0 ? round((this.blocks * 1000) / this.busyMs, 1) : null;
  }
}
