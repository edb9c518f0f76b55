/** How LwM2M device events reach the device's operation workflow. */
import type { Client } from '@temporalio/client';
import { deviceOnlineSignal } from '../../workflows/definitions';
import {
  type DeviceCommandFailure,
  deviceCommandFailedSignal,
  type ResourcesReport,
  resourcesReportedSignal,
} from '../../workflows/lwm2m/definitions';
import { signalDeviceOperation } from '../devices/operation-signals';
import { type Logger, logger } from '../logger';

export interface Lwm2mEventSink {
  deviceOnline(deviceId: string): Promise<void>;
  resourcesReported(deviceId: string, report: ResourcesReport): Promise<void>;
  deviceCommandFailed(deviceId: string, failure: DeviceCommandFailure): Promise<void>;
}

export function createTemporalLwm2mEventSink(client: Client, log: Logger = logger): Lwm2mEventSink {
  const signal = signalDeviceOperation(client, log);
  return {
    deviceOnline: (deviceId) => signal(deviceId, deviceOnlineSignal),
    resourcesReported: (deviceId, report) => signal(deviceId, resourcesReportedSignal, report),
    deviceCommandFailed: (deviceId, failure) => signal(deviceId, deviceCommandFailedSignal, failure),
  };
}
