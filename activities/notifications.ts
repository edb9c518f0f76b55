import type { Database } from '../src/db/database';
import { recordVersions } from '../src/db/devices';
import { findPackage } from '../src/db/packages';
import { findTask, finishTask, recordDeviceResult } from '../src/db/tasks';
import type { PlatformActivities } from './interfaces';

const CALLBACK_TIMEOUT_MS = 10_000;

export function createNotificationActivities(deps: {
  db: Database;
}): Pick<PlatformActivities, 'notifyDeviceResult' | 'notifyTaskCompleted'> {
  const { db } = deps;
  return {
    async notifyDeviceResult(result) {
      const callbackUrl = await db.transaction(async (tx) => {
        const task = await findTask(tx, result.taskId);
        if (!task) throw new Error(`task ${result.taskId} does not exist`);
        const now = new Date();
        await recordDeviceResult(tx, result, now);
        if (result.outcome === 'succeeded' || result.outcome === 'already-latest') {
          const pkg = await findPackage(tx, task.packageId);
          const report =
            pkg?.kind === 'firmware'
              ? { firmwareVersion: result.toVersion }
              : { softwareVersion: result.toVersion };
          await recordVersions(tx, result.deviceId, report, now);
        }
        return task.callbackUrl;
      });
      if (callbackUrl) await postCallback(callbackUrl, { event: 'deviceUpgradeResult', ...result });
    },

    async notifyTaskCompleted(summary) {
      const task = await finishTask(db, summary.taskId, new Date());
      if (!task) throw new Error(`task ${summary.taskId} does not exist`);
      if (task.callbackUrl) {
        await postCallback(task.callbackUrl, { event: 'taskCompleted', state: task.state, ...summary });
      }
    },
  };
}

/** A refused or failed callback throws, so Temporal retries the activity; the writes before it are idempotent. */
async function postCallback(url: string, body: object): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(CALLBACK_TIMEOUT_MS),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`the task's callback URL answered ${response.status}`);
}
