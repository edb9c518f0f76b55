import type { Database } from '../src/db/database';
import { findDevice } from '../src/db/devices';
import { recordStep } from '../src/db/tasks';
import { activeTraceContext } from '../src/tracing/spans';
import type { PlatformActivities } from './interfaces';

export function createRegistryActivities(deps: {
  db: Database;
}): Pick<PlatformActivities, 'isDeviceOnline' | 'recordUpgradeStep'> {
  return {
    async isDeviceOnline(deviceId) {
      return (await findDevice(deps.db, deviceId))?.online ?? false;
    },
    async recordUpgradeStep(taskId, deviceId, step, details) {
      await recordStep(
        deps.db,
        taskId,
        deviceId,
        step,
        details?.fromVersion,
        new Date(),
        activeTraceContext(),
      );
    },
  };
}
