/**
 * The engine's ceiling: a task workflow and device workflows with exactly the Temporal work of a device
 * upgrade workflow, MQTT or LwM2M, as counted from its real history (activities, signals answered
 * after an activity, timers, search-attribute upserts), and no logic, no database, no broker.
 * Like `rolloutTask`, the task starts children in batches of 100 up to `maxInProgress` in flight,
 * with their search attributes, never awaits them, learns each end from a signal the device
 * workflow's last activity sends and continues as new past the same number of events. With the
 * LwM2M flows' shape, each device also asks its cell's workflow for a permit as they do (local
 * activities to request and release, a grant signal back); the cell's workflow grants every request
 * at once: the limiter's Temporal work, not its queueing.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineSignal,
  getExternalWorkflowHandle,
  ParentClosePolicy,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { deviceOperationWorkflowId, OtaSearchAttributes } from '../../workflows/definitions';
import { historyIsLong } from '../../workflows/history-length';
import { HISTORY_EVENTS_BEFORE_CONTINUE_AS_NEW } from '../../workflows/rollout/rollout-task';
import type { CeilingActivities } from './activities';
import {
  type CeilingTaskInput,
  ceilingAnswerSignalName,
  ceilingDeviceEndedSignalName,
  ceilingPermitGrantedSignalName,
  ceilingPermitReleaseSignalName,
  ceilingPermitRequestSignalName,
  timersOfChild,
  type UpgradeShape,
} from './shape';

const START_BATCH_SIZE = 100;
const ANSWER_TIMEOUT = '3 minutes';
/** As the cell limiter, the cell's workflow continues as new well before Temporal's history limits. */
const CELL_EVENTS_BEFORE_CONTINUE_AS_NEW = 10_000;

const activities = proxyActivities<CeilingActivities>({ startToCloseTimeout: '30 seconds' });
const answerSignal = defineSignal(ceilingAnswerSignalName);
const deviceEndedSignal = defineSignal<[string]>(ceilingDeviceEndedSignalName);
const permitRequestSignal = defineSignal<[string]>(ceilingPermitRequestSignalName);
const permitReleaseSignal = defineSignal<[string]>(ceilingPermitReleaseSignalName);
const permitGrantedSignal = defineSignal(ceilingPermitGrantedSignalName);
const permits = proxyLocalActivities<CeilingActivities>({ startToCloseTimeout: '30 seconds' });

export async function ceilingTask(input: CeilingTaskInput): Promise<number> {
  // By workflow ID, as `rolloutTask` keeps its results: a report whose activity was retried after its
  // signal went out (a start-to-close timeout on a saturated worker) must not end another device.
  const inFlight = new Set(input.inFlight);
  setHandler(deviceEndedSignal, (deviceWorkflowId) => {
    inFlight.delete(deviceWorkflowId);
  });
  const taskWorkflowId = workflowInfo().workflowId;
  const maxInProgress = Math.max(1, input.maxInProgress);
  let started = input.started ?? 0;
  while (started < input.children) {
    // As `rolloutTask`, before the server's history limit (a 10,000-device task passes 51,200 events).
    const eventLimit = input.historyEventLimit ?? HISTORY_EVENTS_BEFORE_CONTINUE_AS_NEW;
    await condition(() => inFlight.size < maxInProgress || historyIsLong(eventLimit));
    if (historyIsLong(eventLimit)) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof ceilingTask>({ ...input, started, inFlight: [...inFlight] });
    }
    const batch = Math.min(START_BATCH_SIZE, maxInProgress - inFlight.size, input.children - started);
    const first = started;
    await Promise.all(
      Array.from({ length: batch }, (_, i) => {
        const deviceId = `${input.taskId}-${first + i}`;
        const workflowId = deviceOperationWorkflowId(deviceId);
        inFlight.add(workflowId);
        return startChild(ceilingUpgrade, {
          workflowId,
          parentClosePolicy: ParentClosePolicy.ABANDON,
          typedSearchAttributes: [
            { key: OtaSearchAttributes.taskId, value: input.taskId },
            { key: OtaSearchAttributes.deviceId, value: deviceId },
            { key: OtaSearchAttributes.packageVersion, value: 'ceiling' },
          ],
          args: [
            input.shape,
            taskWorkflowId,
            `${input.taskId}-${(first + i) % Math.max(1, input.cells)}`,
            timersOfChild(input.shape.timers, first + i),
          ],
        });
      }),
    );
    started += batch;
  }
  await condition(() => inFlight.size === 0);
  await activities.noop();
  return input.children;
}

export async function ceilingUpgrade(
  shape: UpgradeShape,
  taskWorkflowId: string,
  cellId: string,
  timers: number,
): Promise<void> {
  let answers = 0;
  let granted = false;
  setHandler(answerSignal, () => {
    answers += 1;
  });
  setHandler(permitGrantedSignal, () => {
    granted = true;
  });
  const { workflowId } = workflowInfo();
  let upserts = shape.upserts;
  const upsert = () => {
    if (upserts <= 0) return;
    upserts -= 1;
    upsertSearchAttributes([{ key: OtaSearchAttributes.step, value: `ceiling-${upserts}` }]);
  };
  upsert();
  // The permit's grant is one of the signals received; the other signals answer activities. The last
  // plain activity is the result's report to the task.
  const answered = shape.permit ? Math.max(0, shape.signals - 1) : shape.signals;
  const plain = Math.max(0, shape.activities - answered);
  for (let i = 0; i < plain - 1; i++) await activities.noop();
  for (let i = 0; i < answered; i++) {
    upsert();
    // The wait, and its timer, start with the command: the answer is signalled during the activity, so
    // a timer started after it would be cancelled in the same workflow task and never reach the server.
    const answer = i < timers ? condition(() => answers > i, ANSWER_TIMEOUT) : condition(() => answers > i);
    await activities.answerWithSignal();
    await answer;
    if (shape.permit && i === 0) {
      // After the radio query, as the LwM2M flows ask for theirs.
      await permits.requestPermit(cellId, workflowId);
      await condition(() => granted);
    }
  }
  while (upserts > 0) upsert();
  if (shape.permit) await permits.releasePermit(cellId, workflowId);
  await activities.reportToTask(taskWorkflowId);
}

/** A cell's permits without a limit: each request is granted at once by a signal to its requester. */
export async function ceilingCell(): Promise<void> {
  const requests: string[] = [];
  setHandler(permitRequestSignal, (requesterWorkflowId) => {
    requests.push(requesterWorkflowId);
  });
  setHandler(permitReleaseSignal, () => {});
  for (;;) {
    await condition(() => requests.length > 0 || historyIsLong(CELL_EVENTS_BEFORE_CONTINUE_AS_NEW));
    const batch = requests.splice(0);
    await Promise.all(
      batch.map((requester) => getExternalWorkflowHandle(requester).signal(permitGrantedSignal)),
    );
    if (historyIsLong(CELL_EVENTS_BEFORE_CONTINUE_AS_NEW)) {
      await condition(allHandlersFinished);
      if (requests.length === 0) await continueAsNew<typeof ceilingCell>();
    }
  }
}
