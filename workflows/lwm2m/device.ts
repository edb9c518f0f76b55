/** One LwM2M device as its upgrade reaches it: commands in batches through its gateway, and its presence. */
import { type Duration, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, condition, log, proxyActivities } from '@temporalio/workflow';
import { DEVICE_NOT_ONLINE, type Lwm2mBatchActivities } from '../../activities/interfaces';
import { Lwm2mTimeouts } from '../timeouts';
import type { Lwm2mBatch, Lwm2mBatchAnswer, Lwm2mOperation, ResourceValue } from './definitions';
import type { DeviceReports } from './device-reports';
import { cleanupOptions, commandOptions, isDeviceNotOnline, platform } from './platform-calls';
import type { Progress } from './progress';

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

// ---- seed step 3: online ----

/** True once the device is online: at once per the registry, or when it registers within 24 hours. */
export async function waitUntilOnline(device: Lwm2mDevice, progress: Progress): Promise<boolean> {
  if (await platform.isDeviceOnline(device.deviceId)) return true;
  await progress.enter('waiting-online');
  return condition(() => device.reports.online, Lwm2mTimeouts.deviceOnline);
}
