import { Context } from '@temporalio/activity';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { Database } from '../src/db/database';
import { recordInstalledVersion } from '../src/db/devices';
import { lockDeviceAttempt, recordRetryingAttempt } from '../src/db/rollout';
import { findTask, finishTask, recordDeviceResult, type StepChange, type Task } from '../src/db/tasks';
import { type OtaflowMetrics, observeStepChange } from '../src/metrics/metrics';
import { enqueueWebhookEvent } from '../src/webhooks/outbox';
import { type DeviceUpgradeResult, taskWorkflowId } from '../workflows/definitions';
import { type DeviceUpgradeEnded, deviceUpgradeEndedSignal } from '../workflows/rollout/definitions';
import { isRetried, retryDelayMs } from '../workflows/rollout/retry';
import type { PlatformActivities } from './interfaces';

type Queryable = Pick<Database, 'query'>;

/** What a `device.result` webhook event carries: the device's final result in the task. */
export interface DeviceResultPayload {
  taskId: string;
  deviceId: string;
  outcome: DeviceUpgradeResult['outcome'];
  cause: string | null;
  detail: string | null;
  fromVersion: string | null;
  toVersion: string;
  attempts: number;
  finishedAt: string;
}

/** Queues the device's `device.result` event; one per device and task, whoever records the result. */
export function enqueueDeviceResult(db: Queryable, payload: DeviceResultPayload): Promise<void> {
  return enqueueWebhookEvent(db, {
    type: 'device.result',
    id: `device.result:${payload.taskId}:${payload.deviceId}`,
    taskId: payload.taskId,
    payload,
  });
}

/** The `flow` label of an ended upgrade: the workflow type that reports it. */
const FLOW_OF_WORKFLOW: Record<string, string> = {
  mqttUpgrade: 'mqtt',
  lwm2mFirmwareUpgrade: 'lwm2m-firmware',
  lwm2mSoftwareUpgrade: 'lwm2m-software',
  // Devices the task ends without an upgrade of their own (aborted, cancelled before they started).
  rolloutTask: 'none',
};

export function createNotificationActivities(deps: {
  db: Database;
  temporal: Client;
  metrics: Pick<OtaflowMetrics, 'upgradesStarted' | 'upgradesEnded' | 'upgradeStepSeconds'>;
}): Pick<PlatformActivities, 'notifyDeviceResult' | 'notifyTaskCompleted'> {
  const { db, temporal, metrics } = deps;
  return {
    async notifyDeviceResult(result, reporter) {
      const { workflowExecution, workflowType } = Context.current().info;
      const runId = workflowExecution?.runId ?? '';
      let repeated = false;
      const now = new Date();
      /** The step the device's result ends; none when the task reports it (no upgrade ran) or it was in. */
      let lastStep: StepChange | undefined;
      const ended = await db.transaction(async (tx): Promise<DeviceUpgradeEnded | undefined> => {
        const task = await findTask(tx, result.taskId);
        if (!task) throw new Error(`task ${result.taskId} does not exist`);
        const attempt = await lockDeviceAttempt(tx, result.taskId, result.deviceId);
        if (reporter === 'device') lastStep = attempt?.stepChange;
        if (!task.rollout || reporter === 'task' || !attempt) {
          await recordFinalResult(tx, task, result, now, attempt?.attempts ?? 0);
          return undefined;
        }
        const report = { deviceId: result.deviceId, runId, outcome: result.outcome, cause: result.cause };
        // A repeated report (the activity retried) is signalled again, in case the signal was lost.
        if (attempt.resultRunId === runId || attempt.finished) {
          repeated = true;
          lastStep = undefined;
          const retryInMs =
            attempt.retryAt === undefined ? undefined : Math.max(0, attempt.retryAt - now.getTime());
          return { ...report, final: attempt.finished, retryInMs };
        }
        // An attempt that failed before recording any step is counted here.
        const attempts = attempt.attempts + (['pending', 'retrying'].includes(attempt.step) ? 1 : 0);
        const { retry } = task.rollout;
        if (retry && isRetried(retry, result, attempts)) {
          const retryInMs = retryDelayMs(retry, attempts);
          const retryAt = new Date(now.getTime() + retryInMs);
          await recordRetryingAttempt(tx, result, { attempts, runId, retryAt }, now);
          return { ...report, final: false, retryInMs };
        }
        await recordFinalResult(tx, task, result, now, attempts, runId);
        return { ...report, final: true };
      });
      if (!repeated) {
        metrics.upgradesEnded.inc({
          flow: FLOW_OF_WORKFLOW[workflowType ?? ''] ?? 'other',
          outcome: result.outcome,
          cause: result.cause ?? '',
        });
      }
      observeStepChange(metrics, lastStep, 'ended', now);
      if (ended) await signalTask(temporal, result.taskId, ended);
    },

    async notifyTaskCompleted(summary) {
      await db.transaction(async (tx) => {
        const task = await finishTask(tx, summary.taskId, new Date());
        if (!task) throw new Error(`task ${summary.taskId} does not exist`);
        await enqueueWebhookEvent(tx, {
          type: 'task.completed',
          id: `task.completed:${task.id}`,
          taskId: task.id,
          payload: {
            ...summary,
            state: task.state,
            stateReason: task.stateReason,
            finishedAt: (task.finishedAt ?? new Date()).toISOString(),
          },
        });
      });
    },
  };
}

async function recordFinalResult(
  tx: Queryable,
  task: Task,
  result: DeviceUpgradeResult,
  now: Date,
  attempts: number,
  runId?: string,
): Promise<void> {
  await recordDeviceResult(tx, result, now, runId === undefined ? undefined : { attempts, runId });
  if (result.outcome === 'succeeded' || result.outcome === 'already-latest') {
    await recordInstalledVersion(tx, result.deviceId, task.packageId, result.toVersion, now);
  }
  await enqueueDeviceResult(tx, {
    taskId: result.taskId,
    deviceId: result.deviceId,
    outcome: result.outcome,
    cause: result.cause ?? null,
    detail: result.detail ?? null,
    fromVersion: result.fromVersion ?? null,
    toVersion: result.toVersion,
    attempts,
    finishedAt: now.toISOString(),
  });
}

/** A task that has ended (or a rollout task started on a server since wiped) has nobody to tell. */
async function signalTask(temporal: Client, taskId: string, ended: DeviceUpgradeEnded): Promise<void> {
  try {
    await temporal.workflow.getHandle(taskWorkflowId(taskId)).signal(deviceUpgradeEndedSignal, ended);
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}
