/**
 * The limiter scenario's requester worker process. Its activities are otaflow's own permit calls
 * (signal-with-start of the cell's limiter, the release signal).
 */
import path from 'node:path';
import { createLwm2mPlatformActivities } from '../../activities/lwm2m-platform';
import { runBenchWorkerProcess } from '../worker-process';
import { LIMITER_REQUESTER_TASK_QUEUE } from './shape';

runBenchWorkerProcess({
  taskQueue: LIMITER_REQUESTER_TASK_QUEUE,
  workflowsPath: path.resolve(__dirname, 'workflows.ts'),
  activities: (client) => {
    const { requestCellPermit, releaseCellPermit } = createLwm2mPlatformActivities({
      client,
      gatewayOf: async () => undefined,
    });
    return { requestCellPermit, releaseCellPermit };
  },
});
