/** The workflow types the worker registers (its `workflowsPath` bundles this file). */
export { mqttUpgrade } from './mqtt-upgrade';
export { upgradeTask } from './upgrade-task';
