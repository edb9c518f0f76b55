/** How MQTT device events reach the device's operation workflow. */
import type { Client } from '@temporalio/client';
import {
  deviceOnlineSignal,
  type UpgradeResultReport,
  upgradeResultReportedSignal,
  type VersionReport,
  versionReportedSignal,
} from '../../workflows/definitions';
import { signalDeviceOperation } from '../devices/operation-signals';
import { type Logger, logger } from '../logger';

export interface DeviceEventSink {
  deviceOnline(deviceId: string): Promise<void>;
  versionReported(deviceId: string, report: VersionReport): Promise<void>;
  upgradeResultReported(deviceId: string, report: UpgradeResultReport): Promise<void>;
}

export function createTemporalDeviceEventSink(client: Client, log: Logger = logger): DeviceEventSink {
  const signal = signalDeviceOperation(client, log);
  return {
    deviceOnline: (deviceId) => signal(deviceId, deviceOnlineSignal),
    versionReported: (deviceId, report) => signal(deviceId, versionReportedSignal, report),
    upgradeResultReported: (deviceId, report) => signal(deviceId, upgradeResultReportedSignal, report),
  };
}
