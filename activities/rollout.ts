import type { Database } from '../src/db/database';
import { closeUnstartedTaskDevices, nextTaskDevices, recordTaskState } from '../src/db/rollout';
import { insertMatchingTaskDevices } from '../src/db/task-targets';
import { CLOSE_BATCH_SIZE, type RolloutActivities } from './interfaces';
import { enqueueDeviceResult } from './notifications';

export function createRolloutActivities(deps: { db: Database }): RolloutActivities {
  const { db } = deps;
  return {
    nextTaskDevices: (taskId, afterSeq, limit) => nextTaskDevices(db, taskId, afterSeq, limit),

    addMatchingDevices: (taskId) => db.transaction((tx) => insertMatchingTaskDevices(tx, taskId)),

    recordTaskState: (taskId, state, reason) => recordTaskState(db, taskId, state, reason),

    closeUnstartedDevices: (request) =>
      db.transaction(async (tx) => {
        const now = new Date();
        const closed = await closeUnstartedTaskDevices(tx, request, CLOSE_BATCH_SIZE, now);
        for (const device of closed) {
          await enqueueDeviceResult(tx, {
            taskId: request.taskId,
            deviceId: device.deviceId,
            outcome: device.outcome,
            cause: device.failureCause,
            detail: device.failureDetail,
            fromVersion: device.fromVersion,
            toVersion: device.toVersion,
            attempts: device.attempts,
            finishedAt: now.toISOString(),
          });
        }
        const cancelled = closed.filter((device) => device.outcome === 'cancelled').length;
        return { cancelled, failed: closed.length - cancelled, remaining: cancelled === CLOSE_BATCH_SIZE };
      }),
  };
}
