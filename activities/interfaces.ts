/**
 * The activities the workflows call, as types only: workflow code imports this module and nothing
 * else from activities/. Implementations live beside it, one file per concern, and are wired with
 * their dependencies by `createActivities` (platform queue) and `createMqttCommandActivities`
 * (MQTT gateway queue).
 */
import type {
  DeviceUpgradeResult,
  PackageKind,
  UpgradeStep,
  UpgradeTaskSummary,
} from '../workflows/definitions';

/** What a device needs to fetch a package: the seed's "package download URL, token, and package information". */
export interface PackageDelivery {
  url: string;
  accessToken: string;
  /** Token expiry, seconds since the epoch. */
  expiresAt: number;
  version: string;
  fileName: string;
  size: number;
  sha256: string;
}

/** Runs on TaskQueue.platform. */
export interface PlatformActivities {
  /** The registry's view of the device's connection (kept current by the gateways). */
  isDeviceOnline(deviceId: string): Promise<boolean>;
  /** Makes the step visible through the API (task_devices row). */
  recordUpgradeStep(
    taskId: string,
    deviceId: string,
    step: UpgradeStep,
    details?: { fromVersion?: string },
  ): Promise<void>;
  /** A MinIO presigned download, valid `MqttTimeouts.downloadToken`. */
  issueDownloadToken(
    packageId: string,
    deviceId: string,
  ): Promise<Omit<PackageDelivery, 'version' | 'fileName' | 'size' | 'sha256'>>;
  /** Records the device's final result and tells the application (callback URL, if the task has one). */
  notifyDeviceResult(result: DeviceUpgradeResult): Promise<void>;
  notifyTaskCompleted(summary: UpgradeTaskSummary): Promise<void>;
}

/**
 * Runs on TaskQueue.mqttGateway. Fails with a non-retryable ApplicationFailure of type
 * `DeviceNotOnline` when the gateway knows the device is not connected.
 */
export interface MqttCommandActivities {
  sendVersionQuery(deviceId: string): Promise<void>;
  sendUpgradeNotification(deviceId: string, kind: PackageKind, delivery: PackageDelivery): Promise<void>;
}

export const DEVICE_NOT_ONLINE = 'DeviceNotOnline';
