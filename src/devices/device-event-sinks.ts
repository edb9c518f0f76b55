/**
 * How the gateways' device events reach the device's operation workflow: signals addressed by the
 * device's workflow ID, never by a run ID. A device with no operation in progress has no workflow to
 * signal; that is the normal case, not an error. One sink per gateway, for the events its protocol has.
 */
import type { Client } from '@temporalio/client';
import { type SignalDefinition, WorkflowNotFoundError } from '@temporalio/common';
import {
  deviceOnlineSignal,
  deviceOperationWorkflowId,
  type UpgradeResultReport,
  upgradeResultReportedSignal,
  type VersionReport,
  versionReportedSignal,
} from '../../workflows/definitions';
import {
  type DeviceCommandFailure,
  deviceCommandFailedSignal,
  type ResourcesReport,
  resourcesReportedSignal,
} from '../../workflows/lwm2m/definitions';
import { type Logger, logger } from '../logger';

/** What the MQTT gateway tells device workflows. */
export interface DeviceEventSink {
  deviceOnline(deviceId: string): Promise<void>;
  versionReported(deviceId: string, report: VersionReport): Promise<void>;
  upgradeResultReported(deviceId: string, report: UpgradeResultReport): Promise<void>;
}

/** What the LwM2M gateway tells device workflows. */
export interface Lwm2mEventSink {
  deviceOnline(deviceId: string): Promise<void>;
  resourcesReported(deviceId: string, report: ResourcesReport): Promise<void>;
  deviceCommandFailed(deviceId: string, failure: DeviceCommandFailure): Promise<void>;
}

type SignalDeviceOperation = <Args extends unknown[]>(
  deviceId: string,
  signal: SignalDefinition<Args>,
  ...args: Args
) => Promise<void>;

function signalDeviceOperation(client: Client, log: Logger): SignalDeviceOperation {
  return async (deviceId, signal, ...args) => {
    try {
      await client.workflow.getHandle(deviceOperationWorkflowId(deviceId)).signal(signal, ...args);
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      log.debug({ deviceId, signal: signal.name }, 'no operation in progress for the device; signal dropped');
    }
  };
}

export function createTemporalDeviceEventSink(client: Client, log: Logger = logger): DeviceEventSink {
  const signal = signalDeviceOperation(client, log);
  return {
    deviceOnline: (deviceId) => signal(deviceId, deviceOnlineSignal),
    versionReported: (deviceId, report) => signal(deviceId, versionReportedSignal, report),
    upgradeResultReported: (deviceId, report) => signal(deviceId, upgradeResultReportedSignal, report),
  };
}

export function createTemporalLwm2mEventSink(client: Client, log: Logger = logger): Lwm2mEventSink {
  const signal = signalDeviceOperation(client, log);
  return {
    deviceOnline: (deviceId) => signal(deviceId, deviceOnlineSignal),
    resourcesReported: (deviceId, report) => signal(deviceId, resourcesReportedSignal, report),
    deviceCommandFailed: (deviceId, failure) => signal(deviceId, deviceCommandFailedSignal, failure),
  };
}
