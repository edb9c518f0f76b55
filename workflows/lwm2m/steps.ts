/**
 * The steps the LwM2M software and firmware upgrades (seed 000) share: what the device reports,
 * commands routed through the device's gateway, waiting for answers, the radio query, the cell
 * permit, and showing progress. Each flow's own file reads top to bottom like the seed.
 */
import { type Duration, TimeoutFailure, TimeoutType } from '@temporalio/common';
import {
  ActivityFailure,
  type ActivityOptions,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  DEVICE_NOT_ONLINE,
  type Lwm2mBatchActivities,
  type Lwm2mPlatformActivities,
  type PlatformActivities,
} from '../../activities/interfaces';
import {
  type DeviceUpgradeInput,
  type DeviceUpgradeResult,
  type DeviceUpgradeStatus,
  deviceOnlineSignal,
  deviceUpgradeSearchAttributes,
  deviceUpgradeStatusQuery,
  OtaSearchAttributes,
  type PackageInfo,
  type UpgradeStep,
} from '../definitions';
import { DeviceCause, type FailureCause, OtaflowCause, PlatformCause } from '../failure-causes';
import { Lwm2mTimeouts } from '../timeouts';
import {
  type DeviceCommandFailure,
  deviceCommandFailedSignal,
  type Lwm2mBatch,
  type Lwm2mBatchAnswer,
  type Lwm2mOperation,
  Lwm2mPath,
  permitGrantedSignal,
  type RadioResources,
  type ResourcesReport,
  type ResourceValue,
  resourcesReportedSignal,
} from './definitions';
import { type CoverageRanges, permitsForCoverage } from './radio-coverage';

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

/** The last check of both flows: the upgrade succeeded only if the device now runs the target version. */
export function targetVersionEnding(
  reported: string | undefined,
  pkg: PackageInfo,
  fromVersion: string,
): Ending {
  if (reported === pkg.version) return { outcome: 'succeeded', fromVersion };
  return failed(
    DeviceCause.firmwareUpdateFailed,
    `device reported version ${reported ?? '(none)'} after the upgrade, expected ${pkg.version}`,
    fromVersion,
  );
}

/** An upgrade ended by an error: cancelled, or the device's registration gone; anything else is a bug. */
export function endingOfError(err: unknown, fromVersion?: string): Ending {
  if (isCancellation(err)) return cancelled(fromVersion);
  if (isDeviceNotOnline(err)) return failed(PlatformCause.deviceNotOnline, undefined, fromVersion);
  throw err;
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
  /** Quiet values (`QuietValues`): they end no wait, so they only tell what the device passed through. */
  private readonly passedThrough = new Map<string, ResourceValue[]>();
  private failures: DeviceCommandFailure[] = [];

  store(report: ResourcesReport): void {
    if (report.earlier) this.storeQuiet(report.earlier);
    for (const [path, value] of Object.entries(report.values)) {
      this.values.set(path, [...(this.values.get(path) ?? []), value]);
    }
  }

  storeQuiet(values: Record<string, ResourceValue[]>): void {
    for (const [path, list] of Object.entries(values)) {
      this.passedThrough.set(path, [...(this.passedThrough.get(path) ?? []), ...list]);
    }
  }

  /** A batch's quick read answers and refusals, as if they had come by signal. */
  storeAnswer(answer: Pick<Lwm2mBatchAnswer, 'values' | 'refused'>): void {
    if (Object.keys(answer.values).length > 0) this.store({ values: answer.values });
    for (const failure of answer.refused) this.storeFailure(failure);
  }

  storeFailure(failure: DeviceCommandFailure): void {
    this.failures.push(failure);
  }

  /** Stale values must not answer a new question: forget them right before asking. */
  forget(paths: readonly string[]): void {
    for (const path of paths) {
      this.values.delete(path);
      this.passedThrough.delete(path);
    }
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
    const taken = [...(this.values.get(path) ?? []), ...(this.passedThrough.get(path) ?? [])];
    return taken.some((value) => values.includes(asNumber(value) ?? Number.NaN));
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

/**
 * Cheap database reads and writes and the permit request, run by the workflow's own worker: those
 * of one workflow task are one action between them (docs/workflows.md, "Temporal actions").
 */
const platform = proxyLocalActivities<PlatformActivities & Lwm2mPlatformActivities>({
  startToCloseTimeout: commandOptions.startToCloseTimeout,
  retry: commandOptions.retry,
});
const cleanup = proxyLocalActivities<Lwm2mPlatformActivities>({
  startToCloseTimeout: cleanupOptions.startToCloseTimeout,
  retry: cleanupOptions.retry,
});
/**
 * A gateway that does not pick a batch up for this long may be gone, and the device registered with
 * another: the batch locates it again.
 */
const BATCH_SCHEDULE_TO_START = '5 minutes';

/**
 * The device's commands, in batches through the gateway that holds its registration. The gateway is
 * located once, and again when it says it no longer holds the device or does not pick a batch up (a
 * sleepy NB-IoT device may register again through another gateway during a one-hour download).
 */
export class Lwm2mDevice {
  private gateway?: string;

  constructor(
    readonly deviceId: string,
    readonly reports: DeviceReports,
  ) {}

  /** The task queue of the device's gateway; the device is not online when no gateway holds it. */
  private async gatewayQueue(): Promise<string> {
    if (this.gateway !== undefined) return this.gateway;
    const location = await platform.locateLwm2mDevice(this.deviceId);
    if (!location) {
      throw ApplicationFailure.nonRetryable(
        `device ${this.deviceId} has no LwM2M registration`,
        DEVICE_NOT_ONLINE,
      );
    }
    this.gateway = location.taskQueue;
    return location.taskQueue;
  }

  // Returned from a plain function, not an async one: awaiting a proxy would call its "then" activity.
  private batchesVia(taskQueue: string, options = commandOptions): Lwm2mBatchActivities {
    return proxyActivities<Lwm2mBatchActivities>({
      ...options,
      taskQueue,
      scheduleToStartTimeout: BATCH_SCHEDULE_TO_START,
    });
  }

  /** Sends a batch through the device's gateway; its quick read answers are stored as reports. */
  async send(batch: Lwm2mBatch, options = commandOptions): Promise<Lwm2mBatchAnswer> {
    for (;;) {
      const queue = await this.gatewayQueue();
      try {
        const answer = await this.batchesVia(queue, options).lwm2mSend(this.deviceId, batch);
        this.reports.storeAnswer(answer);
        return answer;
      } catch (err) {
        const notPickedUp = isScheduleToStartTimeout(err);
        if (!notPickedUp && !isDeviceNotOnline(err)) throw err;
        this.gateway = undefined;
        // The same gateway, which says it does not hold the device: the device is not online.
        if ((await this.gatewayQueue()) === queue && !notPickedUp) throw err;
      }
    }
  }

  /**
   * Reads the resources, in a batch with `step` and the operations around it; their values once all
   * have been reported, undefined on a refusal or timeout.
   */
  async read(
    paths: string[],
    timeout: Duration,
    batch: Omit<Lwm2mBatch, 'operations'> & { before?: Lwm2mOperation[]; after?: Lwm2mOperation[] } = {},
  ): Promise<Record<string, ResourceValue> | undefined> {
    this.reports.forget(paths);
    const { before = [], after = [], ...rest } = batch;
    await this.send({ ...rest, operations: [...before, { op: 'read', paths }, ...after] });
    const answered = () =>
      this.reports.refused('read', paths) !== undefined ||
      paths.every((path) => this.reports.latest(path) !== undefined);
    // A quick answer needs no wait, and so no timer.
    if (!answered() && !(await condition(answered, timeout))) return undefined;
    if (this.reports.refused('read', paths)) return undefined;
    return Object.fromEntries(paths.map((path) => [path, this.reports.latest(path) as ResourceValue]));
  }

  /** The device's refusal of a read of these paths, in words (`failureDetail`); undefined when it just did not answer in time. */
  readRefusal(paths: string[]): string | undefined {
    return this.reports.refused('read', paths)?.detail;
  }

  /**
   * What the device passed through quietly since the last batch (asked only when a wait timed out,
   * to name the timeout). Best effort: a device gone by now passed through nothing we can learn of.
   */
  async collectQuietValues(): Promise<void> {
    try {
      this.reports.storeQuiet((await this.send({ operations: [] })).kept);
    } catch (err) {
      if (!isDeviceNotOnline(err)) throw err;
    }
  }

  /** Best effort: the device may be gone by now, which must not change how the upgrade ended. */
  async cancelObservation(paths: string[]): Promise<void> {
    try {
      await this.send({ operations: [{ op: 'cancel-observation', paths }] }, cleanupOptions);
    } catch (err) {
      log.info('Could not cancel the observation', { deviceId: this.deviceId, paths, err });
    }
  }
}

function isScheduleToStartTimeout(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START
  );
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
  batch: Parameters<Lwm2mDevice['read']>[2] = {},
): Promise<CellAssignment | undefined> {
  const { cellId: cellIdPath, rsrp, sinr } = input.radioResources;
  const full = await device.read([cellIdPath, rsrp, sinr], Lwm2mTimeouts.radioCoverageReport, batch);
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

  /** A local activity of the last workflow task: one marker action, shared with the result's notification. */
  async release(): Promise<void> {
    if (this.requestedIn === undefined) return;
    try {
      await cleanup.releaseCellPermit(this.requestedIn, { requesterWorkflowId: workflowInfo().workflowId });
    } catch (err) {
      // The limiter's holder check frees the permits of upgrades that ended without releasing them.
      log.warn('Could not release the cell permit', { cellId: this.requestedIn, err });
    }
  }
}

// ---- progress, as the API and the Temporal UI show it ----

export interface Progress {
  enter(step: UpgradeStep, details?: { fromVersion?: string }): Promise<void>;
  /** The step a batch of commands starts: the batch's activity records it. */
  startedBy(step: UpgradeStep, details?: { fromVersion?: string }): Lwm2mBatch['step'];
  /** Stamps the ending into a result, shows it and notifies the application (also after a cancellation). */
  end(ending: Ending): Promise<DeviceUpgradeResult>;
}

/**
 * Search attributes come with the start (a client that starts an upgrade without them gets them
 * upserted here); the one upsert of an upgrade is its final step and, for a failure, the seed's
 * message. The steps in between are the API's, recorded with the commands.
 */
export function trackProgress(input: Lwm2mUpgradeInput): Progress {
  const status: DeviceUpgradeStatus = { step: 'waiting-online' };
  setHandler(deviceUpgradeStatusQuery, () => status);
  if (workflowInfo().typedSearchAttributes.get(OtaSearchAttributes.taskId) === undefined) {
    upsertSearchAttributes(deviceUpgradeSearchAttributes(input));
  }
  return {
    async enter(step, details) {
      status.step = step;
      await platform.recordUpgradeStep(input.taskId, input.deviceId, step, details);
    },
    startedBy(step, details) {
      status.step = step;
      return { taskId: input.taskId, step, ...details };
    },
    async end(ending) {
      const result: DeviceUpgradeResult = {
        taskId: input.taskId,
        deviceId: input.deviceId,
        toVersion: input.package.version,
        ...ending,
      };
      const finalStep = ending.outcome === 'already-latest' ? 'succeeded' : ending.outcome;
      status.step = finalStep;
      upsertSearchAttributes([
        { key: OtaSearchAttributes.step, value: finalStep },
        ...(ending.outcome === 'failed' && ending.cause
          ? [{ key: OtaSearchAttributes.failureCause, value: ending.cause }]
          : []),
      ]);
      status.result = result;
      await CancellationScope.nonCancellable(() => platform.notifyDeviceResult(result));
      return result;
    },
  };
}
