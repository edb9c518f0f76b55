/**
 * Runs otaflow's workflows and a fake fleet's activities on the test server: one worker per task
 * queue, as in production (platform, MQTT gateway).
 */
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { TaskQueue } from '../../workflows/definitions';
import type { FakeFleet } from './fake-fleet';

export const workflowsPath = join(__dirname, '../../workflows/index.ts');

/** Starts both workers and resolves to a function that shuts them down. */
export async function runWorkers(
  env: TestWorkflowEnvironment,
  fleet: FakeFleet,
): Promise<() => Promise<void>> {
  const workflowBundle = await bundleWorkflowCode({ workflowsPath });
  const workers = await Promise.all([
    Worker.create({
      connection: env.nativeConnection,
      taskQueue: TaskQueue.platform,
      workflowBundle,
      activities: fleet.platformActivities(),
    }),
    Worker.create({
      connection: env.nativeConnection,
      taskQueue: TaskQueue.mqttGateway,
      activities: fleet.mqttCommandActivities(),
    }),
  ]);
  const running = workers.map((worker) => worker.run());
  return async () => {
    for (const worker of workers) worker.shutdown();
    await Promise.all(running);
  };
}
