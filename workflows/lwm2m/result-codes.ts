/**
 * The LwM2M update results (OMA LwM2M objects 5 and 9) mapped onto the seed's device-side failure
 * causes. Codes without a seed message of their own fail as "Firmware update failed", with the code
 * in the detail.
 */
import { DeviceCause, type FailureCause } from '../failure-causes';

/** /5/0/3, Firmware Update State. */
export const FirmwareState = { idle: 0, downloading: 1, downloaded: 2, updating: 3 } as const;

/** /5/0/5, Firmware Update Result. */
export const FirmwareUpdateResult = {
  initial: 0,
  success: 1,
  notEnoughFlash: 2,
  outOfRam: 3,
  connectionLost: 4,
  integrityCheckFailure: 5,
  unsupportedPackageType: 6,
  invalidUri: 7,
  updateFailed: 8,
  unsupportedProtocol: 9,
} as const;

/** /9/0/7, Software Management Update State (OMA object 9: 0 INITIAL … 4 INSTALLED). */
export const SoftwareState = {
  initial: 0,
  downloadStarted: 1,
  downloaded: 2,
  delivered: 3,
  installed: 4,
} as const;

/** /9/0/9, Software Management Update Result. Codes of 50 and above are failures. */
export const SoftwareUpdateResult = {
  initial: 0,
  downloading: 1,
  installed: 2,
  downloadedAndVerified: 3,
  notEnoughStorage: 50,
  outOfMemory: 51,
  connectionLost: 52,
  integrityCheckFailure: 53,
  unsupportedPackageType: 54,
  invalidUri: 56,
  deviceDefinedError: 57,
  installationFailure: 58,
  uninstallationFailure: 59,
} as const;

/** The failure cause of a /5/0/5 value, or undefined when it is not a failure (0 initial, 1 success). */
export function firmwareResultCause(code: number): FailureCause | undefined {
  switch (code) {
    case FirmwareUpdateResult.initial:
    case FirmwareUpdateResult.success:
      return undefined;
    case FirmwareUpdateResult.notEnoughFlash:
      return DeviceCause.notEnoughStorage;
    case FirmwareUpdateResult.outOfRam:
      return DeviceCause.outOfMemory;
    case FirmwareUpdateResult.connectionLost:
      return DeviceCause.connectionLost;
    case FirmwareUpdateResult.integrityCheckFailure:
      return DeviceCause.integrityCheckFailure;
    case FirmwareUpdateResult.unsupportedPackageType:
      return DeviceCause.unsupportedPackageType;
    // The device cannot fetch the URI's scheme (coap, http…): the download address is what to check.
    case FirmwareUpdateResult.invalidUri:
    case FirmwareUpdateResult.unsupportedProtocol:
      return DeviceCause.invalidUri;
    default:
      return DeviceCause.firmwareUpdateFailed;
  }
}

/** The failure cause of a /9/0/9 value, or undefined when it is not a failure (below 50). */
export function softwareResultCause(code: number): FailureCause | undefined {
  switch (code) {
    case SoftwareUpdateResult.notEnoughStorage:
      return DeviceCause.notEnoughStorage;
    case SoftwareUpdateResult.outOfMemory:
      return DeviceCause.outOfMemory;
    case SoftwareUpdateResult.connectionLost:
      return DeviceCause.connectionLost;
    case SoftwareUpdateResult.integrityCheckFailure:
      return DeviceCause.integrityCheckFailure;
    case SoftwareUpdateResult.unsupportedPackageType:
      return DeviceCause.unsupportedPackageType;
    case SoftwareUpdateResult.invalidUri:
      return DeviceCause.invalidUri;
    default:
      return code >= SoftwareUpdateResult.notEnoughStorage ? DeviceCause.firmwareUpdateFailed : undefined;
  }
}
