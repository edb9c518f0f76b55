import type { VersionReport } from '../../workflows/definitions';

/**
 * What the gateways need from the device registry. Implemented over the database in src/db;
 * unit tests may use an in-memory one.
 */
export interface DeviceRegistry {
  /** The device's secret, decrypted, for MQTT authentication; undefined for an unknown or disabled device. */
  getDeviceSecret(deviceId: string): Promise<string | undefined>;
  /** The broker saw the device connect or disconnect at `at`; ignored when older than the last change. */
  setPresence(deviceId: string, online: boolean, at: Date): Promise<void>;
  isOnline(deviceId: string): Promise<boolean>;
  /**
   * The device was heard from at `at`; online by it only when the broker reports no presence for it.
   * Whether this made it online, in the same round trip (every uplink asks); undefined for an unknown
   * device.
   */
  markSeen(deviceId: string, at: Date): Promise<{ cameOnline: boolean } | undefined>;
  recordReportedVersions(deviceId: string, report: VersionReport, at: Date): Promise<void>;
  /** Progress (0–100) of the device's upgrade in flight, shown by the API; no workflow action. */
  recordUpgradeProgress(
    deviceId: string,
    progress: number,
    description: string | undefined,
    at: Date,
  ): Promise<void>;
}
