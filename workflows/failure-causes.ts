/**
 * Failure causes reported to the application, with the exact message text of the seed's tables
 * ("Firmware Upgrade Failure Causes", seeds 000 and 001). The API, the database and notifications
 * carry these strings verbatim; nothing else in otaflow spells them out.
 */
export const PlatformCause = {
  deviceNotOnline: 'Device Abnormal is not online',
  taskConflict: 'Task Conflict',
  onlineTimeout: 'Waiting for the device online timeout',
  resultTimeout: 'Wait for the device to report upgrade result timeout',
  versionTimeout: 'Waiting for report device firmware version timeout',
  cellIdTimeout: 'Waiting for report cellId timeout',
  updateAndVersionCheckTimeout: 'Updating timeout and query device version for check timeout',
  downloadedTimeout: 'Waiting for device downloaded package timeout',
  startUpdateTimeout: 'Waiting for device start to update timeout',
  startDownloadTimeout: 'Waiting for device start download package timeout',
} as const;

export const DeviceCause = {
  notEnoughStorage: 'Not enough storage for the new firmware package',
  outOfMemory: 'Out of memory during downloading process',
  connectionLost: 'Connection lost during downloading process',
  integrityCheckFailure: 'Integrity check failure for new downloaded package',
  unsupportedPackageType: 'Unsupported package type',
  invalidUri: 'Invalid URI',
  firmwareUpdateFailed: 'Firmware update failed',
} as const;

/**
 * Causes otaflow adds where the seed names a rule but no message: the seed continues only when the
 * device's current version "supports upgrades" (is one the package lists as a source), an
 * operator may cancel a task, and a rollout aborts when too many of its devices fail.
 */
export const OtaflowCause = {
  sourceVersionNotSupported: 'Source version not supported by the package',
  cancelled: 'Cancelled',
  /** The device was disabled through the API while its upgrade ran. */
  deviceDisabled: 'Device disabled',
  /** A device the task never started because the task aborted (failures past its threshold). */
  taskAborted: 'Task aborted',
} as const;

export type FailureCause =
  | (typeof PlatformCause)[keyof typeof PlatformCause]
  | (typeof DeviceCause)[keyof typeof DeviceCause]
  | (typeof OtaflowCause)[keyof typeof OtaflowCause];

/**
 * `result_code` of the `$ota` service's `upgrade_progress_report` event, as the seed platform's
 * device SDKs define it, mapped onto the seed's device-side causes. Codes without a seed message of
 * their own (busy, poor signal, low battery, internal error) fail as "Firmware update failed"; the
 * device's description travels along as the detail.
 */
export const MqttResultCode = {
  success: 0,
  busy: 1,
  poorSignal: 2,
  alreadyLatest: 3,
  lowBattery: 4,
  notEnoughSpace: 5,
  downloadTimeout: 6,
  packageCheckFailed: 7,
  unsupportedPackageType: 8,
  outOfMemory: 9,
  installFailed: 10,
  internalError: 255,
} as const;

export function mqttResultCause(resultCode: number): FailureCause {
  switch (resultCode) {
    case MqttResultCode.notEnoughSpace:
      return DeviceCause.notEnoughStorage;
    case MqttResultCode.outOfMemory:
      return DeviceCause.outOfMemory;
    case MqttResultCode.downloadTimeout:
      return DeviceCause.connectionLost;
    case MqttResultCode.packageCheckFailed:
      return DeviceCause.integrityCheckFailure;
    case MqttResultCode.unsupportedPackageType:
      return DeviceCause.unsupportedPackageType;
    default:
      return DeviceCause.firmwareUpdateFailed;
  }
}
