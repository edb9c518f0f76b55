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
 * What each cause means and what to do about it: the seed's "Description" and "Solution" columns,
 * verbatim, and otaflow's own for its own causes. A device's story shows them beside the message.
 */
export const failureCauseHelp = {
  [PlatformCause.deviceNotOnline]: {
    description: 'The device is offline or abnormal.',
    solution: 'Check the device.',
  },
  [PlatformCause.taskConflict]: {
    description: 'A task conflict occurs.',
    solution:
      'Check whether a software upgrade, firmware upgrade, log collection, or device restart task is in progress.',
  },
  [PlatformCause.onlineTimeout]: {
    description: 'The device does not go online within the specified time.',
    solution: 'Check the device.',
  },
  [PlatformCause.resultTimeout]: {
    description: 'The device does not report the upgrade result within the specified time.',
    solution: 'Check the device.',
  },
  [PlatformCause.versionTimeout]: {
    description: 'The device does not report the firmware version within the specified time.',
    solution: 'Check the device.',
  },
  [PlatformCause.cellIdTimeout]: {
    description: 'The device does not report the cell ID within the specified time.',
    solution: 'Check the device.',
  },
  [PlatformCause.updateAndVersionCheckTimeout]: {
    description: 'The device does not report the upgrade result or device version within the specified time.',
    solution: 'Check the device.',
  },
  [PlatformCause.downloadedTimeout]: {
    description: 'The device does not finish downloading the firmware package within the specified time.',
    solution: 'Check the device.',
  },
  [PlatformCause.startUpdateTimeout]: {
    description: 'The device does not start the update within the specified time.',
    solution: 'Check the device.',
  },
  [PlatformCause.startDownloadTimeout]: {
    description: 'The device does not start to download the firmware package within the specified time.',
    solution: 'Check the device.',
  },
  [DeviceCause.notEnoughStorage]: {
    description: 'The storage space is insufficient for the firmware package.',
    solution: 'Check the storage space of the device.',
  },
  [DeviceCause.outOfMemory]: {
    description: 'The memory was insufficient during the download.',
    solution: 'Check the device memory.',
  },
  [DeviceCause.connectionLost]: {
    description: 'The connection was interrupted during the download.',
    solution: 'Check the device connection status.',
  },
  [DeviceCause.integrityCheckFailure]: {
    description: 'The integrity check on the firmware package fails.',
    solution: 'Check whether the firmware package downloaded is complete.',
  },
  [DeviceCause.unsupportedPackageType]: {
    description: 'The firmware package type is not supported.',
    solution:
      'Check whether the device status and firmware package provided by the manufacturer are correct.',
  },
  [DeviceCause.invalidUri]: {
    description: 'The URI is invalid.',
    solution: 'Check whether the download address of the firmware package is correct.',
  },
  [DeviceCause.firmwareUpdateFailed]: {
    description: 'The firmware fails to update.',
    solution: 'Check the device.',
  },
  [OtaflowCause.sourceVersionNotSupported]: {
    description: "The device's current version is not one the package upgrades from.",
    solution:
      "Upload a package that lists the device's version among its source versions, or leave the device out.",
  },
  [OtaflowCause.cancelled]: {
    description: 'An operator cancelled the task, or the rollout was aborted with its upgrades in progress.',
    solution: 'Create a new task for the device when it should be upgraded.',
  },
  [OtaflowCause.deviceDisabled]: {
    description: 'The device was disabled through the API while its upgrade ran.',
    solution: 'Enable the device, then create a new task for it.',
  },
  [OtaflowCause.taskAborted]: {
    description: "The task aborted (its failures passed the rollout's threshold) before this device started.",
    solution: "Find the cause of the task's failures, then create a new task.",
  },
} as const satisfies Record<FailureCause, { description: string; solution: string }>;

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
