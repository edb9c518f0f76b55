import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { Database } from '../src/db/database';
import { closeUnstartedTaskDevices, nextTaskDevices, recordTaskState } from '../src/db/rollout';
import { insertMatchingTaskDevices } from '../src/db/task-targets';
import { CLOSE_BATCH_SIZE, type EndedRun, type RolloutActivities, type WorkflowRun } from './interfaces';
import { enqueueDeviceResult } from './notifications';

/** `findEndedRuns` describes this many runs at once, so a full batch does not flood the server. */
const DESCRIBE_CONCURRENCY = 20;

export function createRolloutActivities(deps: { db: Database; temporal: Client }): RolloutActivities {
  const { db, temporal } = deps;
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

    async findEndedRuns(runs) {
      const ended: EndedRun[] = [];
      for (let i = 0; i < runs.length; i += DESCRIBE_CONCURRENCY) {
        const described = await Promise.all(
          runs
            .slice(i, i + DESCRIBE_CONCURRENCY)
            .map(async (run) => ({ ...run, status: await statusOf(temporal, run) })),
        );
        ended.push(...described.filter((run) => run.status !== 'RUNNING'));
      }
      return ended;
    },
  };
}

async function statusOf(client: Client, run: WorkflowRun): Promise<string> {
  try {
    return (await client.workflow.getHandle(run.workflowId, run.runId).describe()).status.name;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return 'NOT_FOUND';
    throw err;
  }
}
