/**
 * The main of a bench worker process (the ceiling's, the limiter requesters'), like otaflow's worker
 * in a process of its own: started by `BenchStack.startWorkerProcess` with TEMPORAL_ADDRESS set, it
 * says `ready` over IPC and runs until it is sent `stop`.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { installTemporalRuntime } from '../src/temporal/runtime';

export interface BenchWorker {
  taskQueue: string;
  workflowsPath: string;
  activities(client: Client): object;
}

export function runBenchWorkerProcess(bench: BenchWorker): void {
  main(bench).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

async function main(bench: BenchWorker): Promise<void> {
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
    taskQueue: bench.taskQueue,
    workflowsPath: bench.workflowsPath,
    activities: bench.activities(client),
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
