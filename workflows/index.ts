/** The workflow types the worker registers (its `workflowsPath` bundles this file): one per flow. */

export { cellLimiter } from './cell-limiter/cell-limiter';
export { lwm2mFirmwareUpgrade } from './lwm2m/firmware-upgrade';
export { lwm2mSoftwareUpgrade } from './lwm2m/software-upgrade';
export { mqttUpgrade } from './mqtt/mqtt-upgrade';
export { rolloutTask } from './rollout/rollout-task';
