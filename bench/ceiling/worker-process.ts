/**
 * The ceiling's worker, in a process of its own like otaflow's worker: started by the benchmark with
 * TEMPORAL_ADDRESS set, it says `ready` over IPC and runs until it is sent `stop`.
 */
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { installTemporalRuntime } from '../../src/temporal/runtime';
import { createCeilingActivities } from './activities';
import { CEILING_TASK_QUEUE } from './shape';

async function main(): Promise<void> {
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS must name the Temporal frontend of the benchmark');
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  installTemporalRuntime();
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({
    connection,
    namespace,
    taskQueue: CEILING_TASK_QUEUE,
    workflowsPath: path.resolve(__dirname, 'workflows.ts'),
    activities: createCeilingActivities(client),
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
