/**
 * Starting one device's upgrade as a child of a task workflow: seed 001's flow for an MQTT device,
 * seed 000's software or firmware flow for an NB-IoT (LwM2M) one, under the device's operation ID so
 * that Temporal refuses a second operation on the device ("Task Conflict").
 */
import { type ParentClosePolicy, startChild } from '@temporalio/workflow';
import {
  deviceOperationWorkflowId,
  deviceUpgradeSearchAttributes,
  type Lwm2mTaskSettings,
  type PackageInfo,
  TaskQueue,
} from './definitions';
import { lwm2mFirmwareUpgrade, lwm2mFirmwareUpgradeV2 } from './lwm2m-firmware-upgrade';
import { lwm2mSoftwareUpgrade, lwm2mSoftwareUpgradeV2 } from './lwm2m-software-upgrade';
import { mqttUpgrade, mqttUpgradeV2, mqttUpgradeV3 } from './mqtt-upgrade';

/** The workflow types a task starts, per protocol and package kind. */
export interface DeviceUpgradeFlows {
  mqtt: typeof mqttUpgrade | typeof mqttUpgradeV2 | typeof mqttUpgradeV3;
  lwm2mFirmware: typeof lwm2mFirmwareUpgrade | typeof lwm2mFirmwareUpgradeV2;
  lwm2mSoftware: typeof lwm2mSoftwareUpgrade | typeof lwm2mSoftwareUpgradeV2;
}

/** What `upgradeTask` starts (kept for its histories). */
export const upgradeTaskFlows: DeviceUpgradeFlows = {
  mqtt: mqttUpgrade,
  lwm2mFirmware: lwm2mFirmwareUpgrade,
  lwm2mSoftware: lwm2mSoftwareUpgrade,
};

/** What `rolloutTask` started before patch `device-upgrade-flows-v3`. */
export const rolloutFlowsBeforeV3: DeviceUpgradeFlows = { ...upgradeTaskFlows, mqtt: mqttUpgradeV2 };

/** What `rolloutTask` starts since patch `device-upgrade-flows-v3`: the flows with the fewest actions. */
export const rolloutFlows: DeviceUpgradeFlows = {
  mqtt: mqttUpgradeV3,
  lwm2mFirmware: lwm2mFirmwareUpgradeV2,
  lwm2mSoftware: lwm2mSoftwareUpgradeV2,
};

export interface DeviceUpgradeStart {
  taskId: string;
  deviceId: string;
  package: PackageInfo;
  /** The radio settings of an NB-IoT device's upgrade; undefined for an MQTT device. */
  lwm2m: Pick<Lwm2mTaskSettings, 'coverageRanges' | 'radioResources'> | undefined;
  flows: DeviceUpgradeFlows;
  parentClosePolicy: ParentClosePolicy;
}

export function startDeviceUpgrade(start: DeviceUpgradeStart) {
  const { taskId, deviceId, lwm2m, flows, parentClosePolicy } = start;
  const upgrade = { taskId, deviceId, package: start.package };
  const options = {
    workflowId: deviceOperationWorkflowId(deviceId),
    taskQueue: TaskQueue.platform,
    parentClosePolicy,
    typedSearchAttributes: deviceUpgradeSearchAttributes(upgrade),
  };
  if (!lwm2m) return startChild(flows.mqtt, { ...options, args: [upgrade] });
  const { coverageRanges, radioResources } = lwm2m;
  const flow = start.package.kind === 'firmware' ? flows.lwm2mFirmware : flows.lwm2mSoftware;
  return startChild(flow, { ...options, args: [{ ...upgrade, coverageRanges, radioResources }] });
}
