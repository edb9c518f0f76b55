/**
 * The limiter scenario's requester worker, in a process of its own like otaflow's worker: started with
 * TEMPORAL_ADDRESS set, it says `ready` over IPC and runs until it is sent `stop`. Its activities are
 * otaflow's own permit calls (signal-with-start of the cell's limiter, the release signal).
 */
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createLwm2mPlatformActivities } from '../../activities/cell-permits';
import { installTemporalRuntime } from '../../src/temporal/runtime';
import { LIMITER_REQUESTER_TASK_QUEUE } from './shape';

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS must name the Temporal frontend of the benchmark');
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  installTemporalRuntime();
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace });
  const { requestCellPermit, releaseCellPermit } = createLwm2mPlatformActivities({
    client,
    gatewayOf: async () => undefined,
  });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue: LIMITER_REQUESTER_TASK_QUEUE,
    workflowsPath: path.resolve(__dirname, 'workflows.ts'),
    activities: { requestCellPermit, releaseCellPermit },
  });
  const stop = () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  process.on('message', (message) => {
    if (message === 'stop') stop();
  });
  process.on('disconnect', stop);
  const running = worker.run();
  process.send?.('ready');
  await running;
  await connection.close();
  await clientConnection.close();
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
