/** How an LwM2M upgrade ends: the endings both flows share, with the seed's causes. */
import { isCancellation } from '@temporalio/workflow';
import type { DeviceUpgradeResult, PackageInfo } from '../definitions';
import type { DeviceDisabling } from '../device-disabling';
import { DeviceCause, type FailureCause, OtaflowCause, PlatformCause } from '../failure-causes';
import { isDeviceNotOnline } from './platform-calls';

/** How the upgrade ended, before it is stamped with the task, device and target version. */
export type Ending = Pick<DeviceUpgradeResult, 'outcome' | 'cause' | 'detail' | 'fromVersion'>;

export function failed(cause: FailureCause, detail?: string, fromVersion?: string): Ending {
  return { outcome: 'failed', cause, detail, fromVersion };
}

export function cancelled(fromVersion?: string, cause: FailureCause = OtaflowCause.cancelled): Ending {
  return { outcome: 'cancelled', cause, fromVersion };
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
export function endingOfError(err: unknown, disabling: DeviceDisabling, fromVersion?: string): Ending {
  if (isCancellation(err)) return cancelled(fromVersion, disabling.cancellationCause());
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
