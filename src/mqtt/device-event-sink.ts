/**
 * How device events reach the device's operation workflow: as signals addressed by the device's
 * workflow ID, never by a run ID. A device with no operation in progress has no workflow to signal;
 * that is the normal case, not an error.
 */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import {
  deviceOnlineSignal,
  deviceOperationWorkflowId,
  type UpgradeResultReport,
  upgradeResultReportedSignal,
  type VersionReport,
  versionReportedSignal,
} from '../../workflows/definitions';
import { type Logger, logger } from '../logger';

export interface DeviceEventSink {
  deviceOnline(deviceId: string): Promise<void>;
  versionReported(deviceId: string, report: VersionReport): Promise<void>;
  upgradeResultReported(deviceId: string, report: UpgradeResultReport): Promise<void>;
}

export function createTemporalDeviceEventSink(client: Client, log: Logger = logger): DeviceEventSink {
  async function signalDevice(deviceId: string, send: (workflowId: string) => Promise<void>, what: string) {
    try {
      await send(deviceOperationWorkflowId(deviceId));
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      log.debug({ deviceId, signal: what }, 'no operation in progress for the device; signal dropped');
    }
  }
  return {
    deviceOnline: (deviceId) =>
      signalDevice(
        deviceId,
        (id) => client.workflow.getHandle(id).signal(deviceOnlineSignal),
        'deviceOnline',
      ),
    versionReported: (deviceId, report) =>
      signalDevice(
        deviceId,
        (id) => client.workflow.getHandle(id).signal(versionReportedSignal, report),
        'versionReported',
      ),
    upgradeResultReported: (deviceId, report) =>
      signalDevice(
        deviceId,
        (id) => client.workflow.getHandle(id).signal(upgradeResultReportedSignal, report),
        'upgradeResultReported',
      ),
  };
}
