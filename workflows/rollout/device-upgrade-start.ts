/**
 * Starting one device's upgrade as a child of a task workflow: seed 001's flow for an MQTT device,
 * seed 000's software or firmware flow for an NB-IoT (LwM2M) one, under the device's operation ID so
 * that Temporal refuses a second operation on the device ("Task Conflict").
 */
import { type ParentClosePolicy, startChild } from '@temporalio/workflow';
import {
  deviceOperationWorkflowId,
  deviceUpgradeSearchAttributes,
  type PackageInfo,
  TaskQueue,
} from '../definitions';
import type { Lwm2mTaskSettings } from '../lwm2m/definitions';
import { lwm2mFirmwareUpgrade } from '../lwm2m/firmware-upgrade';
import { lwm2mSoftwareUpgrade } from '../lwm2m/software-upgrade';
import { mqttUpgrade } from '../mqtt/mqtt-upgrade';

export interface DeviceUpgradeStart {
  taskId: string;
  deviceId: string;
  package: PackageInfo;
  /** The radio settings of an NB-IoT device's upgrade; undefined for an MQTT device. */
  lwm2m: Lwm2mTaskSettings | undefined;
  parentClosePolicy: ParentClosePolicy;
}

export function startDeviceUpgrade(start: DeviceUpgradeStart) {
  const { taskId, deviceId, lwm2m, parentClosePolicy } = start;
  const upgrade = { taskId, deviceId, package: start.package };
  const options = {
    workflowId: deviceOperationWorkflowId(deviceId),
    taskQueue: TaskQueue.platform,
    parentClosePolicy,
    typedSearchAttributes: deviceUpgradeSearchAttributes(upgrade),
  };
  if (!lwm2m) return startChild(mqttUpgrade, { ...options, args: [upgrade] });
  const { coverageRanges, radioResources } = lwm2m;
  const flow = start.package.kind === 'firmware' ? lwm2mFirmwareUpgrade : lwm2mSoftwareUpgrade;
  return startChild(flow, { ...options, args: [{ ...upgrade, coverageRanges, radioResources }] });
}
