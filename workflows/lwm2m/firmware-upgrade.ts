/**
 * Seed 000, "Firmware Upgrade for Devices Using LwM2M": one NB-IoT device, LwM2M object 5. One
 * workflow per device upgrade, with the device's operation ID (`deviceOperationWorkflowId`). Every
 * way the upgrade ends is a result, notified to the application; the workflow itself only fails on
 * a bug.
 */
import { CancellationScope, condition } from '@temporalio/workflow';
import type { DeviceUpgradeResult } from '../definitions';
import { listenForDisabling } from '../device-disabling';
import { PlatformCause } from '../failure-causes';
import { Lwm2mTimeouts } from '../timeouts';
import { CellPermit } from './cell-permit';
import { Lwm2mPath, type QuietValues } from './definitions';
import { Lwm2mDevice, waitUntilOnline } from './device';
import { asText, listenToLwm2mDevice } from './device-reports';
import { type Ending, endingOfError, failed, targetVersionEnding, versionDecision } from './endings';
import { trackProgress } from './progress';
import { queryRadioCoverage } from './radio-query';
import { FirmwareState, FirmwareUpdateResult, firmwareResultCause } from './result-codes';
import type { Lwm2mUpgradeInput } from './upgrade-input';

const observed = [Lwm2mPath.firmwareState, Lwm2mPath.firmwareUpdateResult];
/** Firmware states and results that end no wait while the device downloads, and while it updates. */
const quietWhileDownloading: QuietValues = {
  [Lwm2mPath.firmwareState]: [FirmwareState.idle, FirmwareState.downloading],
  [Lwm2mPath.firmwareUpdateResult]: [FirmwareUpdateResult.initial],
};
const quietWhileUpdating: QuietValues = {
  [Lwm2mPath.firmwareState]: [
    FirmwareState.idle,
    FirmwareState.downloading,
    FirmwareState.downloaded,
    FirmwareState.updating,
  ],
  [Lwm2mPath.firmwareUpdateResult]: [FirmwareUpdateResult.initial],
};

export async function lwm2mFirmwareUpgrade(input: Lwm2mUpgradeInput): Promise<DeviceUpgradeResult> {
  const device = new Lwm2mDevice(input.deviceId, listenToLwm2mDevice());
  const disabling = listenForDisabling();
  const progress = trackProgress(input);
  const permit = new CellPermit(device);
  let observing = false;
  let fromVersion: string | undefined;
  // Steps 15–16: notify the application of the result.
  return progress.end(await upgrade());

  async function upgrade(): Promise<Ending> {
    try {
      // Step 3: negotiate once the device is online (24 hours).
      if (!(await waitUntilOnline(device, progress))) return failed(PlatformCause.onlineTimeout);

      // Steps 4–5: query the firmware version (3 minutes) and decide whether an upgrade is required.
      const version = await device.read([Lwm2mPath.firmwareVersion], Lwm2mTimeouts.versionReport, {
        step: progress.startedBy('querying-version'),
      });
      fromVersion = asText(version?.[Lwm2mPath.firmwareVersion]);
      if (fromVersion === undefined)
        return failed(PlatformCause.versionTimeout, device.readRefusal([Lwm2mPath.firmwareVersion]));
      const decided = versionDecision(input.package, fromVersion);
      if (decided) return decided;

      // Steps 6–8: radio coverage → the cell's permits; wait for one.
      const cell = await queryRadioCoverage(device, input, {
        step: progress.startedBy('querying-radio', { fromVersion }),
      });
      if (!cell)
        return failed(
          PlatformCause.cellIdTimeout,
          device.readRefusal([input.radioResources.cellId]),
          fromVersion,
        );
      await progress.enter('waiting-permit', { fromVersion });
      await permit.acquire(cell);

      // Step 9: subscribe to the firmware upgrade status; steps 10–11: deliver the package URL; the
      // device downloads it (60 minutes).
      observing = true;
      device.reports.forget(observed);
      await device.send({
        operations: [
          { op: 'observe', paths: observed },
          { op: 'write-package-uri', path: Lwm2mPath.firmwarePackageUri, package: input.package },
        ],
        quiet: quietWhileDownloading,
        step: progress.startedBy('downloading', { fromVersion }),
      });
      const downloaded = () =>
        device.reports.tookAnyOf(Lwm2mPath.firmwareState, [FirmwareState.downloaded, FirmwareState.updating]);
      await condition(() => deviceFailure() !== undefined || downloaded(), Lwm2mTimeouts.download);
      if (deviceFailure()) return deviceFailure() as Ending;
      if (!downloaded()) {
        await device.collectQuietValues();
        const started = device.reports.tookAnyOf(Lwm2mPath.firmwareState, [FirmwareState.downloading]);
        return failed(
          started ? PlatformCause.downloadedTimeout : PlatformCause.startDownloadTimeout,
          undefined,
          fromVersion,
        );
      }

      // Steps 12–13: execute the update; the device updates and reports the result (30 minutes).
      await device.send({
        operations: [{ op: 'execute', path: Lwm2mPath.firmwareUpdate }],
        quiet: quietWhileUpdating,
        step: progress.startedBy('updating', { fromVersion }),
      });
      const succeeded = () =>
        device.reports.latestNumber(Lwm2mPath.firmwareUpdateResult) === FirmwareUpdateResult.success;
      await condition(() => deviceFailure() !== undefined || succeeded(), Lwm2mTimeouts.upgradeResult);
      if (deviceFailure()) return deviceFailure() as Ending;
      if (!succeeded()) await device.collectQuietValues();
      const startedUpdating = device.reports.tookAnyOf(Lwm2mPath.firmwareState, [FirmwareState.updating]);
      if (!succeeded() && !startedUpdating)
        return failed(PlatformCause.startUpdateTimeout, undefined, fromVersion);

      // Step 14: query the upgrade result and the version to check it (also when the result never came);
      // step 15's cancel of the observation goes in the same batch.
      const check = await device.read(
        [Lwm2mPath.firmwareUpdateResult, Lwm2mPath.firmwareVersion],
        Lwm2mTimeouts.versionReport,
        { after: [{ op: 'cancel-observation', paths: observed }] },
      );
      observing = false;
      if (!check) {
        const refusal = device.readRefusal([Lwm2mPath.firmwareUpdateResult, Lwm2mPath.firmwareVersion]);
        return failed(PlatformCause.updateAndVersionCheckTimeout, refusal, fromVersion);
      }
      if (deviceFailure()) return deviceFailure() as Ending;
      if (!succeeded()) return failed(PlatformCause.resultTimeout, undefined, fromVersion);
      return targetVersionEnding(asText(check[Lwm2mPath.firmwareVersion]), input.package, fromVersion);
    } catch (err) {
      return endingOfError(err, disabling, fromVersion);
    } finally {
      // Step 15 and the cell's permit, whatever the ending, also after a cancellation.
      await CancellationScope.nonCancellable(async () => {
        if (observing) await device.cancelObservation(observed);
        await permit.release();
      });
    }
  }

  /** A failure result (/5/0/5 other than 0 or 1) ends the upgrade whenever the device reports it. */
  function deviceFailure(): Ending | undefined {
    const code = device.reports.latestNumber(Lwm2mPath.firmwareUpdateResult);
    const cause = code === undefined ? undefined : firmwareResultCause(code);
    return cause && failed(cause, `firmware update result ${code}`, fromVersion);
  }
}
