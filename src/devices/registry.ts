import type { VersionReport } from '../../workflows/definitions';

/**
 * What the gateways need from the device registry. Implemented over the database in src/db;
 * unit tests may use an in-memory one.
 */
export interface DeviceRegistry {
  /** The device's secret, decrypted, for MQTT authentication; undefined for an unknown or disabled device. */
  getDeviceSecret(deviceId: string): Promise<string | undefined>;
  setPresence(deviceId: string, online: boolean, at: Date): Promise<void>;
  isOnline(deviceId: string): Promise<boolean>;
  /**
   * The device was heard from at `at`: it is online. Whether it already was, in the same round
   * trip (every uplink asks); undefined for an unknown device.
   */
  markSeen(deviceId: string, at: Date): Promise<{ wasOnline: boolean } | undefined>;
  recordReportedVersions(deviceId: string, report: VersionReport, at: Date): Promise<void>;
  /** Progress (0–100) of the device's upgrade in flight, shown by the API; no workflow action. */
  recordUpgradeProgress(
    deviceId: string,
    progress: number,
    description: string | undefined,
    at: Date,
  ): Promise<void>;
}
