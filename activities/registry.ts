import type { Database } from '../src/db/database';
import { findDevice } from '../src/db/devices';
import { recordStep } from '../src/db/tasks';
import { type OtaflowMetrics, observeStepChange } from '../src/metrics/metrics';
import { activeTraceContext } from '../src/tracing/spans';
import type { PlatformActivities } from './interfaces';

export function createRegistryActivities(deps: {
  db: Database;
  /** Counts the attempts that start and times each step an upgrade leaves (src/metrics/metrics.ts). */
  metrics: Pick<OtaflowMetrics, 'upgradesStarted' | 'upgradeStepSeconds'>;
}): Pick<PlatformActivities, 'isDeviceOnline' | 'recordUpgradeStep'> {
  return {
    async isDeviceOnline(deviceId) {
      return (await findDevice(deps.db, deviceId))?.online ?? false;
    },
    async recordUpgradeStep(taskId, deviceId, step, details) {
      const at = new Date();
      const change = await recordStep(
        deps.db,
        taskId,
        deviceId,
        step,
        details?.fromVersion,
        at,
        activeTraceContext(),
      );
      observeStepChange(deps.metrics, change, step, at);
    },
  };
}
