/** The ceiling's worker process: no-op activities and the ceiling workflows on their own task queue. */
import path from 'node:path';
import { runBenchWorkerProcess } from '../worker-process';
import { createCeilingActivities } from './activities';
import { CEILING_TASK_QUEUE } from './shape';

runBenchWorkerProcess({
  taskQueue: CEILING_TASK_QUEUE,
  workflowsPath: path.resolve(__dirname, 'workflows.ts'),
  activities: createCeilingActivities,
});
