/**
 * Seed 001: software or firmware upgrade of one MQTT device. One workflow per device upgrade, with
 * the device's operation ID (`deviceOperationWorkflowId`), so it reads like the seed, step by step.
 * Every way the upgrade ends is a result, notified to the application (step 9); the workflow itself
 * only fails on a bug.
 */
import type { Duration } from '@temporalio/common';
import {
  ActivityFailure,
  type ActivityOptions,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  DEVICE_NOT_ONLINE,
  type MqttCommandActivities,
  type PlatformActivities,
  type UpgradeDelivery,
} from '../../activities/interfaces';
import {
  type DeviceUpgradeInput,
  type DeviceUpgradeResult,
  type DeviceUpgradeStatus,
  deviceOnlineSignal,
  deviceUpgradeSearchAttributes,
  deviceUpgradeStatusQuery,
  OtaSearchAttributes,
  type PackageKind,
  TaskQueue,
  type UpgradeResultReport,
  type UpgradeStep,
  upgradeResultReportedSignal,
  type VersionReport,
  versionReportedSignal,
} from '../definitions';
import { type DeviceDisabling, listenForDisabling } from '../device-disabling';
import { DeviceCause, MqttResultCode, mqttResultCause, OtaflowCause, PlatformCause } from '../failure-causes';
import { MqttTimeouts } from '../timeouts';

/** Registry, gateway and broker hiccups are retried; an offline device is an answer, not a hiccup. */
const commandOptions: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: [DEVICE_NOT_ONLINE],
  },
};

const platform = proxyActivities<PlatformActivities>({ ...commandOptions, taskQueue: TaskQueue.platform });
const mqtt = proxyActivities<MqttCommandActivities>({ ...commandOptions, taskQueue: TaskQueue.mqttGateway });

/** How the upgrade ended, before it is stamped with the task, device and target version. */
type Ending = Pick<DeviceUpgradeResult, 'outcome' | 'cause' | 'detail' | 'fromVersion'>;

/**
 * The gateway's commands record the API's steps and issue the download token themselves
 * (`queryVersionIfOnline`, `deliverUpgrade`), so a success costs 7 actions: the start, 3 activities,
 * the 2 device signals and the upsert at the end (8 while a patch marker is recorded, docs/versioning.md).
 */
export async function mqttUpgrade(input: DeviceUpgradeInput): Promise<DeviceUpgradeResult> {
  const device = listenToDevice(input.package.kind);
  const disabling = listenForDisabling();
  const status: DeviceUpgradeStatus = { step: 'waiting-online' };
  setHandler(deviceUpgradeStatusQuery, () => status);
  if (workflowInfo().typedSearchAttributes.get(OtaSearchAttributes.taskId) === undefined) {
    upsertSearchAttributes(deviceUpgradeSearchAttributes(input)); // started by a client without them
  }

  const ending = await upgradeEnding(input, device, gatewayCommands(input, device, status), disabling);
  const result: DeviceUpgradeResult = {
    taskId: input.taskId,
    deviceId: input.deviceId,
    toVersion: input.package.version,
    ...ending,
  };
  status.step = finalStep(result);
  // One upsert at the end — the final step and the failure cause, so Temporal UI users can count a
  // task's upgrades by outcome and cause; the steps in between are the API's.
  upsertSearchAttributes([
    { key: OtaSearchAttributes.step, value: status.step },
    ...(result.cause ? [{ key: OtaSearchAttributes.failureCause, value: result.cause }] : []),
  ]);
  status.result = result;

  // Step 9, also after a cancellation: the application always learns how the device ended.
  await CancellationScope.nonCancellable(() => platform.notifyDeviceResult(result, 'device'));
  return result;
}

function finalStep(result: DeviceUpgradeResult): UpgradeStep {
  return result.outcome === 'already-latest' ? 'succeeded' : result.outcome;
}

/**
 * The device commands of one upgrade, each also recording the API's step. `device.reportedVersion`
 * and `device.upgradeResult` are cleared just before the command that asks for them, so an answer
 * to an earlier command is not taken for this one; a result must also have been received after the
 * delivery was published.
 */
interface UpgradeCommands {
  /** Step 3, then step 4 when the device is online (true); false: it is not, step `waiting-online`. */
  queryVersionIfOnline(): Promise<boolean>;
  /** Step 4 once the device came online; fails with DeviceNotOnline when it left again. */
  queryVersion(): Promise<void>;
  /** Steps 6–7: URL, token and package information delivered, step `downloading`. */
  deliver(fromVersion: string): Promise<void>;
}

function gatewayCommands(
  input: DeviceUpgradeInput,
  device: DeviceEvents,
  status: DeviceUpgradeStatus,
): UpgradeCommands {
  const upgrade = { taskId: input.taskId, deviceId: input.deviceId };
  return {
    async queryVersionIfOnline() {
      device.reportedVersion = undefined;
      const queried = await mqtt.queryVersionIfOnline(upgrade, 'wait');
      status.step = queried ? 'querying-version' : 'waiting-online';
      return queried;
    },
    async queryVersion() {
      status.step = 'querying-version';
      device.reportedVersion = undefined;
      await mqtt.queryVersionIfOnline(upgrade, 'fail');
    },
    async deliver(fromVersion) {
      device.upgradeResult = undefined;
      const earlierReports = device.upgradeReports.length;
      const delivery = await mqtt.deliverUpgrade(upgrade, input.package, fromVersion);
      status.step = 'downloading';
      // A result counts only if the gateway received it after the notification was published: a report
      // held up by an outage, or from an earlier attempt, used to be taken as this delivery's answer.
      // (`publishedAt` is missing when a 0.1.0 gateway ran the delivery; docs/versioning.md.)
      if (patched('0.2.0-reports-of-this-delivery')) {
        const publishedAt = (delivery as UpgradeDelivery | undefined)?.publishedAt;
        device.resultOfThisDelivery = () =>
          device.upgradeReports
            .slice(earlierReports)
            .find(
              (report) =>
                report.receivedAt === undefined ||
                publishedAt === undefined ||
                report.receivedAt >= publishedAt,
            );
      }
    },
  };
}

async function upgradeEnding(
  input: DeviceUpgradeInput,
  device: DeviceEvents,
  commands: UpgradeCommands,
  disabling: DeviceDisabling,
): Promise<Ending> {
  const { package: pkg } = input;
  let fromVersion: string | undefined;
  try {
    // Step 3: negotiate at once when the device is online, otherwise wait for it to come online.
    if (!(await commands.queryVersionIfOnline())) {
      if (!(await condition(() => device.online, MqttTimeouts.deviceOnline))) {
        return failed(PlatformCause.onlineTimeout);
      }
      await commands.queryVersion();
    }

    // Steps 4–5: the version report decides whether an upgrade is needed.
    fromVersion = await eventWithin(() => device.reportedVersion, MqttTimeouts.versionReport);
    if (fromVersion === undefined) {
      return failed(PlatformCause.versionTimeout);
    }
    if (fromVersion === pkg.version) {
      return { outcome: 'already-latest', fromVersion };
    }
    if (pkg.supportedSourceVersions.length > 0 && !pkg.supportedSourceVersions.includes(fromVersion)) {
      return failed(
        OtaflowCause.sourceVersionNotSupported,
        `device runs ${pkg.kind} version ${fromVersion}; the package upgrades from ${pkg.supportedSourceVersions.join(', ')}`,
        fromVersion,
      );
    }

    // Steps 6–7: deliver URL, token and package information; the device downloads and reports.
    await commands.deliver(fromVersion);
    const report = await eventWithin(
      () => (device.resultOfThisDelivery ? device.resultOfThisDelivery() : device.upgradeResult),
      MqttTimeouts.downloadAndResult,
    );
    if (report === undefined) {
      return failed(PlatformCause.resultTimeout, undefined, fromVersion);
    }

    // Step 8: the upgrade succeeded only if the device now reports the target version.
    return judgeUpgradeResult(report, pkg.version, fromVersion);
  } catch (err) {
    if (isCancellation(err)) {
      return { outcome: 'cancelled', cause: disabling.cancellationCause(), fromVersion };
    }
    if (isDeviceNotOnline(err)) {
      return failed(PlatformCause.deviceNotOnline, undefined, fromVersion);
    }
    throw err;
  }
}

/** The event `read` returns once the device has sent it, or undefined when `timeout` passes first. */
async function eventWithin<T>(read: () => T | undefined, timeout: Duration): Promise<T | undefined> {
  return (await condition(() => read() !== undefined, timeout)) ? read() : undefined;
}

function judgeUpgradeResult(report: UpgradeResultReport, targetVersion: string, fromVersion: string): Ending {
  const reportsSuccess =
    report.resultCode === MqttResultCode.success || report.resultCode === MqttResultCode.alreadyLatest;
  if (!reportsSuccess) {
    return failed(mqttResultCause(report.resultCode), report.description, fromVersion);
  }
  if (report.version !== targetVersion) {
    return failed(
      DeviceCause.firmwareUpdateFailed,
      `device reported version ${report.version ?? '(none)'} after the upgrade, expected ${targetVersion}`,
      fromVersion,
    );
  }
  return { outcome: 'succeeded', fromVersion };
}

function failed(cause: Ending['cause'], detail?: string, fromVersion?: string): Ending {
  return { outcome: 'failed', cause, detail, fromVersion };
}

function isDeviceNotOnline(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === DEVICE_NOT_ONLINE
  );
}

/**
 * What the device told the workflow. Handlers only store and conditions read, so an event that
 * arrives before the workflow waits for it is not lost.
 */
interface DeviceEvents {
  online: boolean;
  /** The version of the package's kind from the latest version report. */
  reportedVersion?: string;
  upgradeResult?: UpgradeResultReport;
  /** Every result report, in arrival order. */
  upgradeReports: UpgradeResultReport[];
  /** The first report that answers the delivery, once it is made (patch `0.2.0-reports-of-this-delivery`). */
  resultOfThisDelivery?: () => UpgradeResultReport | undefined;
}

function listenToDevice(kind: PackageKind): DeviceEvents {
  const events: DeviceEvents = { online: false, upgradeReports: [] };
  setHandler(deviceOnlineSignal, () => {
    events.online = true;
  });
  setHandler(versionReportedSignal, (report: VersionReport) => {
    // A report without this kind's version does not answer the query; keep waiting for one that does.
    const version = kind === 'software' ? report.softwareVersion : report.firmwareVersion;
    if (version !== undefined) events.reportedVersion = version;
  });
  setHandler(upgradeResultReportedSignal, (report: UpgradeResultReport) => {
    events.upgradeResult = report;
    events.upgradeReports.push(report);
  });
  return events;
}
