/**
 * The engine's ceiling: a task workflow and device workflows with exactly the Temporal work of a device
 * upgrade workflow, MQTT or LwM2M, as counted from its real history (activities, signals answered
 * after an activity, timers, search-attribute upserts), and no logic, no database, no broker.
 * Like `rolloutTask`, the task starts children in batches of 100 up to `maxInProgress` in flight,
 * with their search attributes, never awaits them and learns each end from a signal the device
 * workflow's last activity sends. The LwM2M flow's permit (one signal sent to its cell limiter, and
 * the limiter's own work) is left out: see BENCHMARKS.md.
 */
import {
  condition,
  defineSignal,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { deviceOperationWorkflowId, OtaSearchAttributes } from '../../workflows/definitions';
import type { CeilingActivities } from './activities';
import {
  type CeilingTaskInput,
  ceilingAnswerSignalName,
  ceilingDeviceEndedSignalName,
  type UpgradeShape,
} from './shape';

const START_BATCH_SIZE = 100;
const ANSWER_TIMEOUT = '3 minutes';

const activities = proxyActivities<CeilingActivities>({ startToCloseTimeout: '30 seconds' });
const answerSignal = defineSignal(ceilingAnswerSignalName);
const deviceEndedSignal = defineSignal(ceilingDeviceEndedSignalName);

export async function ceilingTask(input: CeilingTaskInput): Promise<number> {
  let ended = 0;
  setHandler(deviceEndedSignal, () => {
    ended += 1;
  });
  const taskWorkflowId = workflowInfo().workflowId;
  const maxInProgress = Math.max(1, input.maxInProgress);
  let started = 0;
  while (started < input.children) {
    await condition(() => started - ended < maxInProgress);
    const batch = Math.min(START_BATCH_SIZE, maxInProgress - (started - ended), input.children - started);
    const first = started;
    await Promise.all(
      Array.from({ length: batch }, (_, i) => {
        const deviceId = `${input.taskId}-${first + i}`;
        return startChild(ceilingUpgrade, {
          workflowId: deviceOperationWorkflowId(deviceId),
          parentClosePolicy: ParentClosePolicy.ABANDON,
          typedSearchAttributes: [
            { key: OtaSearchAttributes.taskId, value: input.taskId },
            { key: OtaSearchAttributes.deviceId, value: deviceId },
            { key: OtaSearchAttributes.packageVersion, value: 'ceiling' },
          ],
          args: [input.shape, taskWorkflowId],
        });
      }),
    );
    started += batch;
  }
  await condition(() => ended >= input.children);
  await activities.noop();
  return input.children;
}

export async function ceilingUpgrade(shape: UpgradeShape, taskWorkflowId: string): Promise<void> {
  let answers = 0;
  setHandler(answerSignal, () => {
    answers += 1;
  });
  let upserts = shape.upserts;
  const upsert = () => {
    if (upserts <= 0) return;
    upserts -= 1;
    upsertSearchAttributes([{ key: OtaSearchAttributes.step, value: `ceiling-${upserts}` }]);
  };
  upsert();
  // The last plain activity is the result's report to the task.
  const plain = Math.max(0, shape.activities - shape.signals);
  for (let i = 0; i < plain - 1; i++) await activities.noop();
  for (let i = 0; i < shape.signals; i++) {
    upsert();
    await activities.answerWithSignal();
    if (i < shape.timers) await condition(() => answers > i, ANSWER_TIMEOUT);
    else await condition(() => answers > i);
  }
  while (upserts > 0) upsert();
  await activities.reportToTask(taskWorkflowId);
}
