/**
 * The steps the LwM2M software and firmware upgrades (seed 000) share: what the device reports,
 * commands routed through the device's gateway, waiting for answers, the radio query, the cell
 * permit, and showing progress. Each flow's own file reads top to bottom like the seed.
 */
import type { Duration } from '@temporalio/common';
import {
  ActivityFailure,
  type ActivityOptions,
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  DEVICE_NOT_ONLINE,
  type Lwm2mCommandActivities,
  type Lwm2mPlatformActivities,
  type PlatformActivities,
} from '../activities/interfaces';
import {
  type DeviceUpgradeInput,
  type DeviceUpgradeResult,
  type DeviceUpgradeStatus,
  deviceOnlineSignal,
  deviceUpgradeStatusQuery,
  OtaSearchAttributes,
  type PackageInfo,
  TaskQueue,
  type UpgradeStep,
} from './definitions';
import { type FailureCause, OtaflowCause } from './failure-causes';
import {
  cellLimiterWorkflowId,
  type DeviceCommandFailure,
  deviceCommandFailedSignal,
  Lwm2mPath,
  permitGrantedSignal,
  type RadioResources,
  type ResourcesReport,
  type ResourceValue,
  releasePermitSignal,
  resourcesReportedSignal,
} from './lwm2m-definitions';
import { type CoverageRanges, permitsForCoverage } from './radio-coverage';
import { Lwm2mTimeouts } from './timeouts';

export interface Lwm2mUpgradeInput extends DeviceUpgradeInput {
  /** The RSRP/SINR range bounds that decide the cell's permits (configuration). */
  coverageRanges: CoverageRanges;
  /** Where this fleet's devices report cell ID, RSRP and SINR. */
  radioResources: RadioResources;
}

/**
 * LwM2M Connectivity Monitoring (object 4): /4/0/2 Radio Signal Strength is the RSRP in dBm on an
 * NB-IoT bearer; /4/0/11 is SignalSNR (dB) since object 4 version 1.1, read here as the SINR.
 */
export const defaultRadioResources: RadioResources = {
  cellId: Lwm2mPath.cellId,
  rsrp: Lwm2mPath.radioSignalStrength,
  sinr: Lwm2mPath.signalSnr,
};

/** How the upgrade ended, before it is stamped with the task, device and target version. */
export type Ending = Pick<DeviceUpgradeResult, 'outcome' | 'cause' | 'detail' | 'fromVersion'>;

export function failed(cause: FailureCause, detail?: string, fromVersion?: string): Ending {
  return { outcome: 'failed', cause, detail, fromVersion };
}

export function cancelled(fromVersion?: string): Ending {
  return { outcome: 'cancelled', cause: OtaflowCause.cancelled, fromVersion };
}

/** Seed step 5: the device's version decides whether, and from where, the upgrade goes on. */
export function versionDecision(pkg: PackageInfo, fromVersion: string): Ending | undefined {
  if (fromVersion === pkg.version) return { outcome: 'already-latest', fromVersion };
  if (pkg.supportedSourceVersions.length > 0 && !pkg.supportedSourceVersions.includes(fromVersion)) {
    return failed(
      OtaflowCause.sourceVersionNotSupported,
      `device runs ${pkg.kind} version ${fromVersion}; the package upgrades from ${pkg.supportedSourceVersions.join(', ')}`,
      fromVersion,
    );
  }
  return undefined;
}

// ---- what the device reports ----

/**
 * Everything the device sent since the workflow last forgot a resource. Handlers only store and
 * conditions read, so a report that arrives before the workflow waits for it is not lost; every
 * value is kept, not only the latest, so a state the device passes through quickly is still seen.
 */
export class DeviceReports {
  online = false;
  readonly grantedCells = new Set<string>();
  private readonly values = new Map<string, ResourceValue[]>();
  private failures: DeviceCommandFailure[] = [];

  store(report: ResourcesReport): void {
    for (const [path, value] of Object.entries(report.values)) {
      this.values.set(path, [...(this.values.get(path) ?? []), value]);
    }
  }

  storeFailure(failure: DeviceCommandFailure): void {
    this.failures.push(failure);
  }

  /** Stale values must not answer a new question: forget them right before asking. */
  forget(paths: readonly string[]): void {
    for (const path of paths) this.values.delete(path);
    this.failures = this.failures.filter((failure) => !failure.paths.some((path) => paths.includes(path)));
  }

  latest(path: string): ResourceValue | undefined {
    return this.values.get(path)?.at(-1);
  }

  latestNumber(path: string): number | undefined {
    return asNumber(this.latest(path));
  }

  /** Whether the resource took any of these numeric values since it was last forgotten. */
  tookAnyOf(path: string, values: readonly number[]): boolean {
    return (this.values.get(path) ?? []).some((value) => values.includes(asNumber(value) ?? Number.NaN));
  }

  refused(
    operation: DeviceCommandFailure['operation'],
    paths: readonly string[],
  ): DeviceCommandFailure | undefined {
    return this.failures.find(
      (f) => f.operation === operation && f.paths.some((path) => paths.includes(path)),
    );
  }
}

export function listenToLwm2mDevice(): DeviceReports {
  const reports = new DeviceReports();
  setHandler(deviceOnlineSignal, () => {
    reports.online = true;
  });
  setHandler(resourcesReportedSignal, (report: ResourcesReport) => reports.store(report));
  setHandler(deviceCommandFailedSignal, (failure: DeviceCommandFailure) => reports.storeFailure(failure));
  setHandler(permitGrantedSignal, ({ cellId }) => {
    reports.grantedCells.add(cellId);
  });
  return reports;
}

function asNumber(value: ResourceValue | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

export function asText(value: ResourceValue | undefined): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

// ---- commands, through the gateway that holds the device's registration ----

/** Registry, gateway and network hiccups are retried; an unregistered device is an answer, not a hiccup. */
const commandOptions: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: [DEVICE_NOT_ONLINE],
  },
};
/** Clean-up after the upgrade ended must not hold the result back for long. */
const cleanupOptions: ActivityOptions = {
  ...commandOptions,
  retry: { ...commandOptions.retry, maximumAttempts: 3 },
};

const platform = proxyActivities<PlatformActivities & Lwm2mPlatformActivities>({
  ...commandOptions,
  taskQueue: TaskQueue.platform,
});

/**
 * The device's commands. Each locates the device's gateway first: a sleepy NB-IoT device may
 * register again through another gateway between two steps of a one-hour download.
 */
export class Lwm2mDevice {
  constructor(
    readonly deviceId: string,
    readonly reports: DeviceReports,
  ) {}

  /** The task queue of the device's gateway; the device is not online when no gateway holds it. */
  private async gatewayQueue(): Promise<string> {
    const location = await platform.locateLwm2mDevice(this.deviceId);
    if (!location) {
      throw ApplicationFailure.nonRetryable(
        `device ${this.deviceId} has no LwM2M registration`,
        DEVICE_NOT_ONLINE,
      );
    }
    return location.taskQueue;
  }

  // Returned from a plain function, not an async one: awaiting a proxy would call its "then" activity.
  private commandsVia(taskQueue: string, options = commandOptions): Lwm2mCommandActivities {
    return proxyActivities<Lwm2mCommandActivities>({ ...options, taskQueue });
  }

  /** Reads the resources; their values once all have been reported, undefined on a refusal or timeout. */
  async read(paths: string[], timeout: Duration): Promise<Record<string, ResourceValue> | undefined> {
    this.reports.forget(paths);
    await this.commandsVia(await this.gatewayQueue()).lwm2mRead(this.deviceId, paths);
    const answered = () =>
      this.reports.refused('read', paths) !== undefined ||
      paths.every((path) => this.reports.latest(path) !== undefined);
    if (!(await condition(answered, timeout)) || this.reports.refused('read', paths)) return undefined;
    return Object.fromEntries(paths.map((path) => [path, this.reports.latest(path) as ResourceValue]));
  }

  async observe(paths: string[]): Promise<void> {
    await this.commandsVia(await this.gatewayQueue()).lwm2mObserve(this.deviceId, paths);
  }

  async write(path: string, value: ResourceValue): Promise<void> {
    await this.commandsVia(await this.gatewayQueue()).lwm2mWrite(this.deviceId, path, value);
  }

  async execute(path: string): Promise<void> {
    await this.commandsVia(await this.gatewayQueue()).lwm2mExecute(this.deviceId, path);
  }

  async packageUri(pkg: PackageInfo): Promise<string> {
    return this.commandsVia(await this.gatewayQueue()).lwm2mPackageUri(this.deviceId, pkg);
  }

  /** Best effort: the device may be gone by now, which must not change how the upgrade ended. */
  async cancelObservation(paths: string[]): Promise<void> {
    try {
      await this.commandsVia(await this.gatewayQueue(), cleanupOptions).lwm2mCancelObservation(
        this.deviceId,
        paths,
      );
    } catch (err) {
      log.info('Could not cancel the observation', { deviceId: this.deviceId, paths, err });
    }
  }
}

export function isDeviceNotOnline(err: unknown): boolean {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  return failure instanceof ApplicationFailure && failure.type === DEVICE_NOT_ONLINE;
}

// ---- seed step 3: online ----

/** True once the device is online: at once per the registry, or when it registers within 24 hours. */
export async function waitUntilOnline(device: Lwm2mDevice, progress: Progress): Promise<boolean> {
  if (await platform.isDeviceOnline(device.deviceId)) return true;
  await progress.enter('waiting-online');
  return condition(() => device.reports.online, Lwm2mTimeouts.deviceOnline);
}

// ---- radio query and cell permit ----

export interface CellAssignment {
  cellId: string;
  /** The cell's concurrency limit as this device sees it. */
  permits: number;
}

/**
 * Cell ID, RSRP and SINR → permits by range; when that query fails, the cell ID alone → 10;
 * undefined when the device reports no cell ID either.
 */
export async function queryRadioCoverage(
  device: Lwm2mDevice,
  input: Lwm2mUpgradeInput,
): Promise<CellAssignment | undefined> {
  const { cellId: cellIdPath, rsrp, sinr } = input.radioResources;
  const full = await device.read([cellIdPath, rsrp, sinr], Lwm2mTimeouts.radioCoverageReport);
  const coverage = {
    cellId: asText(full?.[cellIdPath]),
    rsrpDbm: asNumber(full?.[rsrp]),
    sinrDb: asNumber(full?.[sinr]),
  };
  if (coverage.cellId !== undefined && coverage.rsrpDbm !== undefined && coverage.sinrDb !== undefined) {
    return { cellId: coverage.cellId, permits: permitsForCoverage(coverage, input.coverageRanges) as number };
  }
  // The radio query failed: ask for the cell ID alone.
  const only = await device.read([cellIdPath], Lwm2mTimeouts.radioCoverageReport);
  const cellId = asText(only?.[cellIdPath]);
  if (cellId === undefined) return undefined;
  return { cellId, permits: permitsForCoverage({ cellId }, input.coverageRanges) as number };
}

/**
 * The upgrade's permit in its cell. `acquire` waits as long as the cell needs (the seed sets no
 * limit; cancelling the upgrade ends the wait); `release` is safe to call in any state, and the
 * flows call it whatever the ending.
 */
export class CellPermit {
  private requestedIn?: string;

  constructor(private readonly device: Lwm2mDevice) {}

  async acquire(cell: CellAssignment): Promise<void> {
    this.requestedIn = cell.cellId;
    await platform.requestCellPermit(cell.cellId, {
      requesterWorkflowId: workflowInfo().workflowId,
      deviceId: this.device.deviceId,
      limit: cell.permits,
    });
    await condition(() => this.device.reports.grantedCells.has(cell.cellId));
  }

  async release(): Promise<void> {
    if (this.requestedIn === undefined) return;
    try {
      await getExternalWorkflowHandle(cellLimiterWorkflowId(this.requestedIn)).signal(releasePermitSignal, {
        requesterWorkflowId: workflowInfo().workflowId,
      });
    } catch (err) {
      // No limiter runs for the cell: nobody holds a permit there, ours included.
      log.info('Cell limiter gone before the release', { cellId: this.requestedIn, err });
    }
  }
}

// ---- progress, as the API and the Temporal UI show it ----

export interface Progress {
  enter(step: UpgradeStep, details?: { fromVersion?: string }): Promise<void>;
  /** Stamps the ending into a result, shows it and notifies the application (also after a cancellation). */
  end(ending: Ending): Promise<DeviceUpgradeResult>;
}

export function trackProgress(input: Lwm2mUpgradeInput): Progress {
  const status: DeviceUpgradeStatus = { step: 'waiting-online' };
  setHandler(deviceUpgradeStatusQuery, () => status);
  upsertSearchAttributes([
    { key: OtaSearchAttributes.taskId, value: input.taskId },
    { key: OtaSearchAttributes.deviceId, value: input.deviceId },
    { key: OtaSearchAttributes.packageVersion, value: input.package.version },
    { key: OtaSearchAttributes.step, value: status.step },
  ]);
  const show = (step: UpgradeStep) => {
    status.step = step;
    upsertSearchAttributes([{ key: OtaSearchAttributes.step, value: status.step }]);
  };
  return {
    async enter(step, details) {
      show(step);
      await platform.recordUpgradeStep(input.taskId, input.deviceId, step, details);
    },
    async end(ending) {
      const result: DeviceUpgradeResult = {
        taskId: input.taskId,
        deviceId: input.deviceId,
        toVersion: input.package.version,
        ...ending,
      };
      show(ending.outcome === 'already-latest' ? 'succeeded' : ending.outcome);
      status.result = result;
      await CancellationScope.nonCancellable(() => platform.notifyDeviceResult(result));
      return result;
    },
  };
}
