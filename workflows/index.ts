/** The workflow types the worker registers (its `workflowsPath` bundles this file). */

export { cellLimiter } from './cell-limiter';
export { lwm2mFirmwareUpgrade, lwm2mFirmwareUpgradeV2 } from './lwm2m-firmware-upgrade';
export { lwm2mSoftwareUpgrade, lwm2mSoftwareUpgradeV2 } from './lwm2m-software-upgrade';
export { mqttUpgrade, mqttUpgradeV2, mqttUpgradeV3 } from './mqtt-upgrade';
export { rolloutTask } from './rollout-task';
export { upgradeTask } from './upgrade-task';
