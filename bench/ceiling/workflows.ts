/**
 * The engine's ceiling: a task workflow and device workflows with exactly the Temporal work of a device
 * upgrade workflow, MQTT or LwM2M, as counted from its real history (activities, signals answered
 * after an activity, timers, search-attribute upserts), and no logic, no database, no broker.
 * Children start in batches like `upgradeTask` starts them. The LwM2M flow's permit (one signal sent
 * to its cell limiter, and the limiter's own work) is left out: see BENCHMARKS.md.
 */
import {
  condition,
  defineSignal,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { OtaSearchAttributes } from '../../workflows/definitions';
import type { CeilingActivities } from './activities';
import { type CeilingTaskInput, ceilingAnswerSignalName, type UpgradeShape } from './shape';

const START_BATCH_SIZE = 100;
const ANSWER_TIMEOUT = '3 minutes';

const activities = proxyActivities<CeilingActivities>({ startToCloseTimeout: '30 seconds' });
const answerSignal = defineSignal(ceilingAnswerSignalName);

export async function ceilingTask(input: CeilingTaskInput): Promise<number> {
  const results: Array<Promise<void>> = [];
  for (let first = 0; first < input.children; first += START_BATCH_SIZE) {
    const indexes = Array.from(
      { length: Math.min(START_BATCH_SIZE, input.children - first) },
      (_, i) => first + i,
    );
    const started = await Promise.all(
      indexes.map((index) =>
        startChild(ceilingUpgrade, { workflowId: `${input.childIdPrefix}-${index}`, args: [input.shape] }),
      ),
    );
    results.push(...started.map((child) => child.result()));
  }
  await Promise.all(results);
  await activities.noop();
  return input.children;
}

export async function ceilingUpgrade(shape: UpgradeShape): Promise<void> {
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
  const plain = Math.max(0, shape.activities - shape.signals);
  for (let i = 0; i < plain; i++) await activities.noop();
  for (let i = 0; i < shape.signals; i++) {
    upsert();
    await activities.answerWithSignal();
    if (i < shape.timers) await condition(() => answers > i, ANSWER_TIMEOUT);
    else await condition(() => answers > i);
  }
  while (upserts > 0) upsert();
}
