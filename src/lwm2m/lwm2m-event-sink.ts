/**
 * How LwM2M device events reach the device's operation workflow: signals addressed by the device's
 * workflow ID (never a run ID); a device with no operation in progress has none, and that is normal.
 */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { deviceOnlineSignal, deviceOperationWorkflowId } from '../../workflows/definitions';
import {
  type DeviceCommandFailure,
  deviceCommandFailedSignal,
  type ResourcesReport,
  resourcesReportedSignal,
} from '../../workflows/lwm2m-definitions';
import { type Logger, logger } from '../logger';

export interface Lwm2mEventSink {
  deviceOnline(deviceId: string): Promise<void>;
  resourcesReported(deviceId: string, report: ResourcesReport): Promise<void>;
  deviceCommandFailed(deviceId: string, failure: DeviceCommandFailure): Promise<void>;
}

export function createTemporalLwm2mEventSink(client: Client, log: Logger = logger): Lwm2mEventSink {
  async function signalDevice(deviceId: string, what: string, send: (workflowId: string) => Promise<void>) {
    try {
      await send(deviceOperationWorkflowId(deviceId));
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      log.debug({ deviceId, signal: what }, 'no operation in progress for the device; signal dropped');
    }
  }
  return {
    deviceOnline: (deviceId) =>
      signalDevice(deviceId, 'deviceOnline', (id) =>
        client.workflow.getHandle(id).signal(deviceOnlineSignal),
      ),
    resourcesReported: (deviceId, report) =>
      signalDevice(deviceId, 'resourcesReported', (id) =>
        client.workflow.getHandle(id).signal(resourcesReportedSignal, report),
      ),
    deviceCommandFailed: (deviceId, failure) =>
      signalDevice(deviceId, 'deviceCommandFailed', (id) =>
        client.workflow.getHandle(id).signal(deviceCommandFailedSignal, failure),
      ),
  };
}
