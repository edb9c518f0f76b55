/**
 * Seed 000, "Software Upgrade for Devices Using LwM2M over CoAP": one NB-IoT device, LwM2M object 9
 * (software management). One workflow per device upgrade, with the device's operation ID
 * (`deviceOperationWorkflowId`). Unlike the firmware flow, the device's upgrade status is observed
 * before the radio query, as the seed orders it. Every way the upgrade ends is a result, notified to
 * the application; the workflow itself only fails on a bug.
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
import { SoftwareState, SoftwareUpdateResult, softwareResultCause } from './result-codes';
import type { Lwm2mUpgradeInput } from './upgrade-input';

const observed = [Lwm2mPath.softwareUpdateState, Lwm2mPath.softwareUpdateResult];
/** Update states and results that end no wait until the device has downloaded, and while it installs. */
const quietWhileDownloading: QuietValues = {
  [Lwm2mPath.softwareUpdateState]: [SoftwareState.initial, SoftwareState.downloadStarted],
  [Lwm2mPath.softwareUpdateResult]: [SoftwareUpdateResult.initial, SoftwareUpdateResult.downloading],
};
const quietWhileInstalling: QuietValues = {
  [Lwm2mPath.softwareUpdateState]: Object.values(SoftwareState),
  [Lwm2mPath.softwareUpdateResult]: [
    SoftwareUpdateResult.initial,
    SoftwareUpdateResult.downloading,
    SoftwareUpdateResult.downloadedAndVerified,
  ],
};

export async function lwm2mSoftwareUpgrade(input: Lwm2mUpgradeInput): Promise<DeviceUpgradeResult> {
  const device = new Lwm2mDevice(input.deviceId, listenToLwm2mDevice());
  const disabling = listenForDisabling();
  const progress = trackProgress(input);
  const permit = new CellPermit(device);
  let observing = false;
  let fromVersion: string | undefined;
  // Step 15: notify the application of the result.
  return progress.end(await upgrade());

  async function upgrade(): Promise<Ending> {
    try {
      // Step 3: negotiate once the device is online (24 hours).
      if (!(await waitUntilOnline(device, progress))) return failed(PlatformCause.onlineTimeout);

      // Steps 4–5: query the software version (3 minutes) and decide whether an upgrade is required.
      const version = await device.read([Lwm2mPath.softwareVersion], Lwm2mTimeouts.versionReport, {
        step: progress.startedBy('querying-version'),
      });
      fromVersion = asText(version?.[Lwm2mPath.softwareVersion]);
      if (fromVersion === undefined)
        return failed(PlatformCause.versionTimeout, device.readRefusal([Lwm2mPath.softwareVersion]));
      const decided = versionDecision(input.package, fromVersion);
      if (decided) return decided;

      // Step 6: subscribe to the software upgrade status, in one batch with step 7's radio query;
      // steps 7–9: radio coverage → the cell's permits; wait for one.
      observing = true;
      const cell = await queryRadioCoverage(device, input, {
        before: [{ op: 'observe', paths: observed }],
        quiet: quietWhileDownloading,
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

      // Steps 10–12: notify the new version; the device downloads it in segments (60 minutes).
      device.reports.forget(observed);
      await device.send({
        operations: [{ op: 'write-package-uri', path: Lwm2mPath.softwarePackageUri, package: input.package }],
        quiet: quietWhileDownloading,
        step: progress.startedBy('downloading', { fromVersion }),
      });
      const downloaded = () =>
        device.reports.tookAnyOf(Lwm2mPath.softwareUpdateState, [
          SoftwareState.downloaded,
          SoftwareState.delivered,
        ]) ||
        device.reports.tookAnyOf(Lwm2mPath.softwareUpdateResult, [
          SoftwareUpdateResult.downloadedAndVerified,
        ]);
      await condition(() => deviceFailure() !== undefined || downloaded(), Lwm2mTimeouts.download);
      if (deviceFailure()) return deviceFailure() as Ending;
      if (!downloaded()) {
        await device.collectQuietValues();
        const started =
          device.reports.tookAnyOf(Lwm2mPath.softwareUpdateState, [SoftwareState.downloadStarted]) ||
          device.reports.tookAnyOf(Lwm2mPath.softwareUpdateResult, [SoftwareUpdateResult.downloading]);
        return failed(
          started ? PlatformCause.downloadedTimeout : PlatformCause.startDownloadTimeout,
          undefined,
          fromVersion,
        );
      }

      // Steps 13–14: the upgrade (install) command; the device installs and reports (30 minutes).
      await device.send({
        operations: [{ op: 'execute', path: Lwm2mPath.softwareInstall }],
        quiet: quietWhileInstalling,
        step: progress.startedBy('updating', { fromVersion }),
      });
      const installed = () =>
        device.reports.latestNumber(Lwm2mPath.softwareUpdateResult) === SoftwareUpdateResult.installed;
      await condition(() => deviceFailure() !== undefined || installed(), Lwm2mTimeouts.upgradeResult);
      if (deviceFailure()) return deviceFailure() as Ending;
      if (!installed()) return failed(PlatformCause.resultTimeout, undefined, fromVersion);

      // Success means the device now runs the target version; step 15's cancel of the observation
      // goes in the same batch.
      const check = await device.read([Lwm2mPath.softwareVersion], Lwm2mTimeouts.versionReport, {
        after: [{ op: 'cancel-observation', paths: observed }],
      });
      observing = false;
      if (!check) {
        const refusal = device.readRefusal([Lwm2mPath.softwareVersion]);
        return failed(PlatformCause.updateAndVersionCheckTimeout, refusal, fromVersion);
      }
      return targetVersionEnding(asText(check[Lwm2mPath.softwareVersion]), input.package, fromVersion);
    } catch (err) {
      return endingOfError(err, disabling, fromVersion);
    } finally {
      // The observation and the cell's permit end with the upgrade, whatever the ending.
      await CancellationScope.nonCancellable(async () => {
        if (observing) await device.cancelObservation(observed);
        await permit.release();
      });
    }
  }

  /** A failure result (/9/0/9 of 50 or more) ends the upgrade whenever the device reports it. */
  function deviceFailure(): Ending | undefined {
    const code = device.reports.latestNumber(Lwm2mPath.softwareUpdateResult);
    const cause = code === undefined ? undefined : softwareResultCause(code);
    return cause && failed(cause, `software update result ${code}`, fromVersion);
  }
}
