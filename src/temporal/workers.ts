import path from 'node:path';
import { type NativeConnection, Worker } from '@temporalio/worker';
import type { MqttCommandActivities, PlatformActivities } from '../../activities/interfaces';
import { TaskQueue } from '../../workflows/definitions';

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  platformActivities: PlatformActivities;
  mqttCommandActivities: MqttCommandActivities;
}

/**
 * The two workers of one otaflow process: the platform worker (all workflows plus registry, token and
 * notification activities) and the MQTT gateway worker (device downlinks, on its own task queue so
 * commands leave through a process that holds a broker connection).
 */
export async function createWorkers(options: WorkerOptions): Promise<Worker[]> {
  const { connection, namespace } = options;
  const platform = await Worker.create({
    connection,
    namespace,
    taskQueue: TaskQueue.platform,
    workflowsPath: path.resolve(__dirname, '../../workflows/index.ts'),
    activities: { ...options.platformActivities },
  });
  const mqttGateway = await Worker.create({
    connection,
    namespace,
    taskQueue: TaskQueue.mqttGateway,
    activities: { ...options.mqttCommandActivities },
  });
  return [platform, mqttGateway];
}
