/**
 * The activities the workflows call, as types only: workflow code imports this module and nothing
 * else from activities/. Implementations live beside it, one file per concern, and are wired with
 * their dependencies by `createActivities` (platform queue) and `createMqttCommandActivities`
 * (MQTT gateway queue).
 */
import type {
  DeviceUpgradeResult,
  PackageInfo,
  PackageKind,
  UpgradeStep,
  UpgradeTaskSummary,
} from '../workflows/definitions';
import type { PermitRequest, ResourceValue } from '../workflows/lwm2m-definitions';

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

/**
 * Runs on the task queue of the LwM2M gateway the device is registered with
 * (`lwm2mGatewayTaskQueue`). Each call returns once the command is sent, or queued for a sleeping
 * device (queue mode: it leaves with the device's next uplink); the device's answers reach the
 * workflow as `resourcesReported` / `deviceCommandFailed` signals. Fails with `DeviceNotOnline` when
 * the device has no live registration.
 */
export interface Lwm2mCommandActivities {
  lwm2mRead(deviceId: string, paths: string[]): Promise<void>;
  lwm2mWrite(deviceId: string, path: string, value: ResourceValue): Promise<void>;
  lwm2mExecute(deviceId: string, path: string): Promise<void>;
  /** Observing a resource also reports its current value. */
  lwm2mObserve(deviceId: string, paths: string[]): Promise<void>;
  lwm2mCancelObservation(deviceId: string, paths: string[]): Promise<void>;
  /**
   * Where the device fetches the package: a CoAP URI on this gateway, served block-wise from the
   * package store, whose path carries the package's versionCheckCode.
   */
  lwm2mPackageUri(deviceId: string, pkg: PackageInfo): Promise<string>;
}

/** Runs on TaskQueue.platform. */
export interface Lwm2mPlatformActivities {
  /** The task queue of the gateway holding the device's registration; undefined when it has none. */
  locateLwm2mDevice(deviceId: string): Promise<{ taskQueue: string } | undefined>;
  /** Delivers the request to the cell's limiter workflow, starting it if the cell has none yet. */
  requestCellPermit(cellId: string, request: PermitRequest): Promise<void>;
  /** Of these workflows, the ones that are no longer running (terminated, timed out, completed, gone). */
  findEndedWorkflows(workflowIds: string[]): Promise<string[]>;
}

export const DEVICE_NOT_ONLINE = 'DeviceNotOnline';
