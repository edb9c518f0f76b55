/**
 * A fleet-scale upgrade task (`upgrade-task:<taskId>`): starts one device upgrade per target in a
 * sliding window under the task's rollout policy, and learns each result from a signal.
 *
 * - Targets are read from the database a page at a time (`nextTaskDevices`); the workflow keeps only
 *   a cursor, the devices in flight and those awaiting a retry, so 100,000 devices fit.
 * - Devices are started as children with parent close policy ABANDON (continue-as-new must not cancel
 *   them) and never awaited: `notifyDeviceResult` signals each result (`deviceUpgradeEnded`).
 * - Starts stop while paused, before `startAt`, outside the maintenance window, when `maxInProgress`
 *   are in flight, when the minute's rate is used up, and at a wave's end until its gate opens.
 * - Aborting (failure threshold or a shut wave gate) and cancelling close the devices never started;
 *   the task then waits for the devices in flight (cancelled, if so asked) and notifies its summary.
 * - Devices started by an earlier run have no child handle here: every `SWEEP_INTERVAL_MS` the task
 *   asks whether their runs ended without reporting.
 * - Its timers wake the loop and are never cancelled (`Alarm`).
 * - The history stays bounded: the workflow continues as new with its progress when Temporal
 *   suggests it or past `HISTORY_EVENTS_BEFORE_CONTINUE_AS_NEW` events.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PlatformActivities, RolloutActivities } from '../../activities/interfaces';
import {
  type DeviceUpgradeResult,
  deviceOperationWorkflowId,
  OtaSearchAttributes,
  TaskQueue,
  type UpgradeOutcome,
} from '../definitions';
import { type FailureCause, OtaflowCause, PlatformCause } from '../failure-causes';
import { historyIsLong } from '../history-length';
import { abortReason } from './abort';
import {
  type DeviceUpgradeEnded,
  deviceUpgradeEndedSignal,
  pauseTaskSignal,
  type RolloutStatus,
  type RolloutTaskInput,
  type RolloutTaskSummary,
  resumeTaskSignal,
  rolloutStatusQuery,
  type TaskState,
  type TaskTargetDevice,
} from './definitions';
import { startDeviceUpgrade } from './device-upgrade-start';
import { windowAt } from './maintenance-window';
import { type RateWindow, rateBudget } from './rate';
import { firstWave, nextWave, type WaveProgress, waveFailureReason, waveGate, waveRoom } from './waves';

/** Far below Temporal's 2,000 pending children per workflow, whatever the policy says. */
export const MAX_IN_PROGRESS = 1000;
/** Children started in one workflow task (each batch awaited), so no task carries thousands of commands. */
const START_BATCH_SIZE = 100;
/** Targets read per `nextTaskDevices` call. */
const TARGET_PAGE_SIZE = 500;
/** How often a continuous task looks for devices that match its target since. */
const MATCH_INTERVAL_MS = 60_000;
/** A run's history is closed well before Temporal's 50,000-event limit and its warnings. */
export const HISTORY_EVENTS_BEFORE_CONTINUE_AS_NEW = 10_000;
/** How often the task asks whether devices started by earlier runs ended without reporting. */
const SWEEP_INTERVAL_MS = 10 * 60_000;
/** Runs asked about per `findEndedRuns` call (at most `MAX_IN_PROGRESS` are in flight). */
const SWEEP_BATCH_SIZE = 250;

const platform = proxyActivities<PlatformActivities & RolloutActivities>({
  taskQueue: TaskQueue.platform,
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** A device whose upgrade is running; `reportedRunIds` are its earlier attempts' runs, whose reports are stale. */
interface InFlightDevice extends TaskTargetDevice {
  attempts: number;
  runId?: string;
  reportedRunIds: string[];
}

/** A device whose failed attempt is tried again at `dueAt`. */
interface RetryingDevice extends TaskTargetDevice {
  attempts: number;
  dueAt: number;
  reportedRunIds: string[];
}

/** Everything a run hands to the next one when it continues as new. */
export interface RolloutProgress {
  /** The state last recorded for the API; undefined before the first. */
  state?: TaskState;
  stateReason?: string;
  /** The cause devices never started end with, once the task aborted or is being cancelled. */
  closingCause?: FailureCause;
  /** `seq` of the last target taken; later ones are still to be read. */
  cursor: number;
  inFlight: InFlightDevice[];
  retrying: RetryingDevice[];
  counts: { started: number; succeeded: number; failed: number; cancelled: number };
  wave: WaveProgress;
  paused: boolean;
  firstStartAt?: number;
  rateWindow: RateWindow;
  nextMatchAt?: number;
  /** When the devices in flight that earlier runs started are next looked up. */
  nextSweepAt?: number;
}

export async function rolloutTask(
  input: RolloutTaskInput,
  carried?: RolloutProgress,
): Promise<RolloutTaskSummary> {
  const rollout = new Rollout(input, carried ?? freshProgress());
  setHandler(deviceUpgradeEndedSignal, (ended) => rollout.deviceEnded(ended));
  setHandler(pauseTaskSignal, () => rollout.setPaused(true));
  setHandler(resumeTaskSignal, () => rollout.setPaused(false));
  setHandler(rolloutStatusQuery, () => rollout.status());
  if (!carried && workflowInfo().typedSearchAttributes.get(OtaSearchAttributes.taskId) === undefined) {
    upsertSearchAttributes([{ key: OtaSearchAttributes.taskId, value: input.taskId }]); // started without it
  }
  try {
    await rollout.run();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await CancellationScope.nonCancellable(async () => {
      await rollout.stop('cancelling', OtaflowCause.cancelled);
      await rollout.run();
    });
  }
  return CancellationScope.nonCancellable(() => rollout.finish());
}

function freshProgress(): RolloutProgress {
  return {
    cursor: 0,
    inFlight: [],
    retrying: [],
    counts: { started: 0, succeeded: 0, failed: 0, cancelled: 0 },
    wave: { ...firstWave },
    paused: false,
    rateWindow: { windowIndex: 0, started: 0 },
  };
}

/** A device workflow that ended without reporting a result (terminated, failed, cancelled). */
interface EndedWithoutResult {
  device: InFlightDevice;
  cancelled: boolean;
  /** How it ended, for the device's failure detail. */
  how: string;
}

class Rollout {
  /** Targets read but not taken yet; re-read after continue-as-new, from the cursor. */
  private targets: TaskTargetDevice[] = [];
  private targetsExhausted = false;
  private endedWithoutResult: EndedWithoutResult[] = [];
  /** Bumped by every signal and child ending, so the loop wakes up to look. */
  private changes = 0;
  private readonly alarm = new Alarm();
  /** The devices an earlier run started: this run has no handle on their workflows. */
  private readonly startedEarlier: ReadonlySet<InFlightDevice>;

  constructor(
    private readonly input: RolloutTaskInput,
    private readonly progress: RolloutProgress,
  ) {
    this.startedEarlier = new Set(progress.inFlight);
  }

  /**
   * Starts devices as the policy allows until the task is done; continues as new on the way. It loops
   * once per device result, so steps with nothing to do are skipped without an `await`: every promise
   * a workflow creates costs a stack trace capture in the SDK (BENCHMARKS.md, "What limits").
   */
  async run(): Promise<void> {
    for (;;) {
      const seen = this.changes;
      const sweepAt = this.startedEarlier.size > 0 ? await this.sweepEarlierRuns() : this.noEarlierRuns();
      if (this.endedWithoutResult.length > 0) await this.accountForEndedWithoutResult();
      if (this.isActive()) {
        const reason = abortReason(this.input.policy.abort, this.progress.counts);
        if (reason) await this.stop('aborted', OtaflowCause.taskAborted, reason);
      }
      let retryAt: number | undefined;
      if (this.isActive()) {
        const state = this.activeState();
        if (state !== this.progress.state) await this.recordState(state);
        if (this.input.mode === 'continuous') await this.matchNewDevices();
        retryAt = await this.startDue();
      } else if (this.progress.retrying.length > 0) {
        await this.closeUnstarted(); // an attempt failed after the task stopped starting devices
      }
      if (!this.hasWorkInFlight() && (await this.isDone())) return;
      if (this.historyIsLong()) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof rolloutTask>(this.input, this.progress);
      }
      const startsAt = this.isActive()
        ? earliest(retryAt, this.nextRetryAt(), this.progress.nextMatchAt)
        : undefined;
      const wakeAt = earliest(startsAt, sweepAt);
      this.alarm.set(wakeAt !== undefined && wakeAt > Date.now() ? wakeAt : undefined);
      await condition(() => this.changes !== seen || this.alarm.rang);
    }
  }

  /** Stops starting devices: closes those never started, and cancels those in flight when so asked. */
  async stop(state: 'aborted' | 'cancelling', cause: FailureCause, reason?: string): Promise<void> {
    this.progress.closingCause = cause;
    this.progress.stateReason = reason;
    await this.recordState(state);
    if (state === 'cancelling' || this.input.policy.abort?.cancelInProgress) await this.cancelInFlight();
    await this.closeUnstarted();
  }

  async finish(): Promise<RolloutTaskSummary> {
    const { succeeded, failed, cancelled } = this.progress.counts;
    const summary: RolloutTaskSummary = {
      taskId: this.input.taskId,
      total: succeeded + failed + cancelled,
      succeeded,
      failed,
      cancelled,
      state: this.endState(),
      ...(this.progress.stateReason === undefined ? {} : { stateReason: this.progress.stateReason }),
    };
    await platform.notifyTaskCompleted(summary);
    return summary;
  }

  /**
   * A device's result, reported by the device-result activity. Reports of earlier attempts and
   * repeated reports are ignored; the report may overtake the start's own completion.
   */
  deviceEnded(ended: DeviceUpgradeEnded): void {
    const device = this.progress.inFlight.find((d) => d.deviceId === ended.deviceId);
    if (!device || device.reportedRunIds.includes(ended.runId)) return;
    if (device.runId !== undefined && device.runId !== ended.runId) return;
    this.removeInFlight(device);
    const reportedRunIds = [...device.reportedRunIds, ended.runId];
    if (ended.final || ended.retryInMs === undefined) {
      this.tally(ended.outcome);
    } else {
      this.progress.retrying.push({
        ...this.target(device),
        attempts: device.attempts,
        dueAt: Date.now() + ended.retryInMs,
        reportedRunIds,
      });
    }
    this.changes++;
  }

  setPaused(paused: boolean): void {
    this.progress.paused = paused;
    this.changes++;
  }

  status(): RolloutStatus {
    const { counts, inFlight, retrying, wave } = this.progress;
    return {
      state: this.progress.state ?? 'scheduled',
      ...(this.progress.stateReason === undefined ? {} : { stateReason: this.progress.stateReason }),
      started: counts.started,
      inProgress: inFlight.length,
      succeeded: counts.succeeded,
      failed: counts.failed,
      cancelled: counts.cancelled,
      retriesPending: retrying.length,
      ...(this.input.policy.waves ? { wave: wave.index + 1 } : {}),
    };
  }

  // ---- starting devices ----

  /** Starts what the policy allows now; returns when time alone (start time, window, rate) allows more. */
  private async startDue(): Promise<number | undefined> {
    const { policy } = this.input;
    const now = Date.now();
    if (this.progress.paused) return undefined;
    const startAt = policy.startAt === undefined ? undefined : Date.parse(policy.startAt);
    if (startAt !== undefined && now < startAt) return startAt;
    if (policy.maintenanceWindow) {
      const window = windowAt(policy.maintenanceWindow, now);
      if (!window.open) return window.opensAt;
    }
    const waveOpen = waveGate(policy.waves, this.progress.wave) === 'filling' || (await this.passWaveGate());
    if (!this.isActive()) return undefined;
    const rate = rateBudget(policy.rate, this.progress.rateWindow, this.progress.firstStartAt, now);
    this.progress.rateWindow = rate.window;
    const maxInProgress = Math.min(policy.maxInProgress, MAX_IN_PROGRESS);
    let room = Math.min(maxInProgress - this.progress.inFlight.length, rate.allowed, START_BATCH_SIZE);
    const batch: (TaskTargetDevice & { attempts: number; reportedRunIds: string[] })[] = [];
    for (const retry of this.dueRetries(now)) {
      if (room <= 0) break;
      this.progress.retrying = this.progress.retrying.filter((d) => d !== retry);
      batch.push(retry);
      room--;
    }
    // Retries belong to the current wave; only new devices wait for the next one to open.
    let newRoom = waveOpen ? Math.min(room, waveRoom(policy.waves, this.progress.wave)) : 0;
    while (newRoom > 0 && (this.targets.length > 0 || (await this.hasTargets()))) {
      const target = this.targets.shift() as TaskTargetDevice;
      this.progress.cursor = target.seq;
      batch.push({ ...target, attempts: 0, reportedRunIds: [] });
      newRoom--;
    }
    if (batch.length > 0) await this.start(batch);
    // A full batch may leave room in the window: look again at once rather than wait for a result.
    if (batch.length === START_BATCH_SIZE) this.changes++;
    const rateUsedUp = rate.allowed - batch.length <= 0;
    return rateUsedUp ? rate.nextWindowAt : undefined;
  }

  /**
   * At the end of a wave whose devices all have a result, opens the next wave if enough succeeded
   * and there are devices left for it, and aborts otherwise. False while new devices must wait.
   */
  private async passWaveGate(): Promise<boolean> {
    const { waves } = this.input.policy;
    const gate = waveGate(waves, this.progress.wave);
    if (gate === 'filling') return true;
    if (gate === 'waiting' || !waves || !(await this.hasTargets())) return false;
    if (gate === 'failed') {
      await this.stop('aborted', OtaflowCause.taskAborted, waveFailureReason(waves, this.progress.wave));
      return false;
    }
    this.progress.wave = nextWave(this.progress.wave);
    return true;
  }

  private async start(batch: (TaskTargetDevice & { attempts: number; reportedRunIds: string[] })[]) {
    this.progress.firstStartAt ??= Date.now();
    this.progress.rateWindow.started += batch.length;
    await Promise.all(batch.map((device) => this.startOne(device)));
  }

  /**
   * Starts one attempt. A device with an operation in progress fails with "Task Conflict", recorded
   * by the task itself since no device workflow will.
   */
  private async startOne(candidate: TaskTargetDevice & { attempts: number; reportedRunIds: string[] }) {
    const device: InFlightDevice = { ...candidate, attempts: candidate.attempts + 1 };
    if (candidate.attempts === 0) {
      this.progress.counts.started++;
      this.progress.wave.started++;
    }
    this.progress.inFlight.push(device);
    try {
      // Not cancellable with the task: cancelling the task cancels its devices explicitly, in this
      // run and in the devices started by earlier runs alike.
      const child = await CancellationScope.nonCancellable(() =>
        startDeviceUpgrade({
          taskId: this.input.taskId,
          deviceId: device.deviceId,
          package: this.input.package,
          lwm2m: device.protocol === 'lwm2m' ? this.input.nbiot : undefined,
          parentClosePolicy: ParentClosePolicy.ABANDON,
        }),
      );
      device.runId = child.firstExecutionRunId;
      child.result().catch((err) => {
        const how = err instanceof Error ? err.message : String(err);
        this.endedWithoutResult.push({ device, cancelled: isCancellation(err), how });
        this.changes++;
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      this.removeInFlight(device);
      await this.notify(device.deviceId, 'failed', PlatformCause.taskConflict);
      this.tally('failed');
    }
  }

  private dueRetries(now: number): RetryingDevice[] {
    return this.progress.retrying.filter((d) => d.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt);
  }

  private nextRetryAt(): number | undefined {
    return earliest(...this.progress.retrying.map((d) => d.dueAt));
  }

  /** Reads the next page of targets when none is left in hand. */
  private async hasTargets(): Promise<boolean> {
    if (this.targets.length === 0 && !this.targetsExhausted) {
      this.targets = await platform.nextTaskDevices(
        this.input.taskId,
        this.progress.cursor,
        TARGET_PAGE_SIZE,
      );
      this.targetsExhausted = this.targets.length < TARGET_PAGE_SIZE;
    }
    return this.targets.length > 0;
  }

  /** Continuous tasks: devices that match the target since join the task, every minute. */
  private async matchNewDevices(): Promise<void> {
    const now = Date.now();
    if (this.progress.nextMatchAt !== undefined && now < this.progress.nextMatchAt) return;
    if ((await platform.addMatchingDevices(this.input.taskId)) > 0) this.targetsExhausted = false;
    this.progress.nextMatchAt = now + MATCH_INTERVAL_MS;
  }

  // ---- stopping ----

  private async cancelInFlight(): Promise<void> {
    await Promise.all(
      this.progress.inFlight.map(
        (device) =>
          getExternalWorkflowHandle(deviceOperationWorkflowId(device.deviceId), device.runId)
            .cancel()
            .catch(() => undefined), // it ended meanwhile; its result is on its way
      ),
    );
  }

  private async closeUnstarted(): Promise<void> {
    const awaitingRetry = this.progress.retrying.map((d) => d.deviceId);
    this.progress.retrying = [];
    this.targets = [];
    this.targetsExhausted = true;
    const request = {
      taskId: this.input.taskId,
      afterSeq: this.progress.cursor,
      awaitingRetry,
      cause: this.progress.closingCause ?? OtaflowCause.cancelled,
    };
    for (let remaining = true; remaining; ) {
      const closed = await platform.closeUnstartedDevices(request);
      this.progress.counts.cancelled += closed.cancelled;
      this.progress.counts.failed += closed.failed;
      remaining = closed.remaining;
      request.awaitingRetry = [];
    }
  }

  // ---- bookkeeping ----

  private isActive(): boolean {
    return this.progress.closingCause === undefined;
  }

  private hasWorkInFlight(): boolean {
    const { inFlight, retrying } = this.progress;
    return inFlight.length > 0 || retrying.length > 0 || this.endedWithoutResult.length > 0;
  }

  private async isDone(): Promise<boolean> {
    if (this.hasWorkInFlight()) return false;
    if (!this.isActive()) return true;
    return this.input.mode === 'snapshot' && !(await this.hasTargets());
  }

  private activeState(): TaskState {
    if (this.progress.paused) return 'paused';
    const { startAt } = this.input.policy;
    return startAt !== undefined && Date.now() < Date.parse(startAt) ? 'scheduled' : 'running';
  }

  private endState(): RolloutTaskSummary['state'] {
    if (this.progress.state === 'cancelling') return 'cancelled';
    return this.progress.state === 'aborted' ? 'aborted' : 'completed';
  }

  private async recordState(state: TaskState): Promise<void> {
    if (this.progress.state === state) return;
    this.progress.state = state;
    await platform.recordTaskState(this.input.taskId, state, this.progress.stateReason);
  }

  private historyIsLong(): boolean {
    return historyIsLong(this.input.historyEventLimit ?? HISTORY_EVENTS_BEFORE_CONTINUE_AS_NEW);
  }

  /**
   * Devices started by earlier runs, every `SWEEP_INTERVAL_MS`: those whose run ended (without a
   * report, or its report would have taken them out of flight) join `endedWithoutResult`. Returns when
   * to look next; undefined when there is nothing to look for.
   */
  private async sweepEarlierRuns(): Promise<number | undefined> {
    const earlier = this.progress.inFlight.filter(
      (device): device is InFlightDevice & { runId: string } =>
        device.runId !== undefined && this.startedEarlier.has(device),
    );
    if (earlier.length === 0) return this.noEarlierRuns();
    const interval = this.input.sweepIntervalMs ?? SWEEP_INTERVAL_MS;
    this.progress.nextSweepAt ??= Date.now() + interval;
    if (Date.now() < this.progress.nextSweepAt) return this.progress.nextSweepAt;
    for (let i = 0; i < earlier.length; i += SWEEP_BATCH_SIZE) {
      const batch = earlier.slice(i, i + SWEEP_BATCH_SIZE);
      const runs = batch.map((device) => ({
        workflowId: deviceOperationWorkflowId(device.deviceId),
        runId: device.runId,
      }));
      for (const run of await platform.findEndedRuns(runs)) {
        const device = batch.find((d) => d.runId === run.runId);
        if (!device) continue;
        const how = `its run ${run.runId} (started by an earlier run of the task) ended ${run.status}`;
        this.endedWithoutResult.push({ device, cancelled: run.status === 'CANCELLED', how });
      }
    }
    this.progress.nextSweepAt = Date.now() + interval;
    return this.progress.nextSweepAt;
  }

  /** No device of an earlier run is in flight: nothing to sweep, now or later. */
  private noEarlierRuns(): undefined {
    this.progress.nextSweepAt = undefined;
    return undefined;
  }

  /** Devices whose workflow ended without a report: the task records their result. */
  private async accountForEndedWithoutResult(): Promise<void> {
    const ended = this.endedWithoutResult;
    this.endedWithoutResult = [];
    for (const { device, cancelled, how } of ended) {
      if (!this.progress.inFlight.includes(device)) continue; // its report came after all
      this.removeInFlight(device);
      if (cancelled) {
        await this.notify(device.deviceId, 'cancelled', OtaflowCause.cancelled);
        this.tally('cancelled');
      } else {
        await this.notify(
          device.deviceId,
          'failed',
          undefined,
          `device workflow ended without a result: ${how}`,
        );
        this.tally('failed');
      }
    }
  }

  private async notify(deviceId: string, outcome: UpgradeOutcome, cause?: FailureCause, detail?: string) {
    const result: DeviceUpgradeResult = {
      taskId: this.input.taskId,
      deviceId,
      toVersion: this.input.package.version,
      outcome,
      ...(cause === undefined ? {} : { cause }),
      ...(detail === undefined ? {} : { detail }),
    };
    await CancellationScope.nonCancellable(() => platform.notifyDeviceResult(result, 'task'));
  }

  private tally(outcome: UpgradeOutcome): void {
    const { counts, wave } = this.progress;
    const succeeded = outcome === 'succeeded' || outcome === 'already-latest';
    if (succeeded) counts.succeeded++;
    else if (outcome === 'failed') counts.failed++;
    else counts.cancelled++;
    wave.finished++;
    if (succeeded) wave.succeeded++;
    this.changes++;
  }

  private removeInFlight(device: InFlightDevice): void {
    this.progress.inFlight = this.progress.inFlight.filter((d) => d !== device);
  }

  private target(device: TaskTargetDevice): TaskTargetDevice {
    return { deviceId: device.deviceId, protocol: device.protocol, seq: device.seq };
  }
}

/**
 * The loop's next time-driven look. A timer, once started, is never cancelled: one no longer needed
 * fires as a look that finds nothing new, and a later time is served by a timer already due before
 * it. Cancelling a timer that fired while the workflow task was with the worker strands the run on
 * Temporal's time-skipping test server, where users test their rollouts (temporalio/sdk-java#3088);
 * the real server drops the buffered fire instead.
 */
class Alarm {
  /** Due times of the timers started and not fired yet. */
  private readonly pending = new Set<number>();
  rang = false;

  set(at: number | undefined): void {
    this.rang = false;
    if (at === undefined || [...this.pending].some((due) => due <= at)) return;
    this.pending.add(at);
    // Not cancellable: cancelling the task must not cancel a timer either.
    void CancellationScope.nonCancellable(() => sleep(Math.max(1, at - Date.now()))).then(() => {
      this.pending.delete(at);
      this.rang = true;
    });
  }
}

function earliest(...times: (number | undefined)[]): number | undefined {
  const defined = times.filter((time): time is number => time !== undefined);
  return defined.length === 0 ? undefined : Math.min(...defined);
}
