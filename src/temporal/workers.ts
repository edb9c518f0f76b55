import path from 'node:path';
import { type NativeConnection, Worker } from '@temporalio/worker';
import type {
  Lwm2mCommandActivities,
  Lwm2mPlatformActivities,
  MqttCommandActivities,
  PlatformActivities,
} from '../../activities/interfaces';
import { TaskQueue } from '../../workflows/definitions';
import { lwm2mGatewayTaskQueue } from '../../workflows/lwm2m-definitions';

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  platformActivities: PlatformActivities & Lwm2mPlatformActivities;
  mqttCommandActivities: MqttCommandActivities;
  lwm2mGateway: { gatewayId: string; activities: Lwm2mCommandActivities };
  /** The platform worker's workflow cache (`OTAFLOW_WORKFLOW_CACHE_SIZE`). */
  workflowCacheSize: number;
}

/**
 * The workers of one otaflow process: the platform worker (all workflows plus registry, token,
 * notification and permit activities), the MQTT gateway worker (device downlinks, on its own task
 * queue so commands leave through a process that holds a broker connection) and the LwM2M gateway
 * worker (CoAP commands, on this gateway's own queue: only it holds its devices' NAT bindings).
 */
export async function createWorkers(options: WorkerOptions): Promise<Worker[]> {
  const { connection, namespace } = options;
  const platform = await Worker.create({
    connection,
    namespace,
    taskQueue: TaskQueue.platform,
    workflowsPath: path.resolve(__dirname, '../../workflows/index.ts'),
    // The SDK sizes its cache from the heap limit (≈ 2,300 workflows on a 4 GiB heap), but upgrades
    // wait for hours between workflow tasks: cached, each waiting upgrade holds memory; evicted, it
    // replays its short history when its device answers.
    maxCachedWorkflows: options.workflowCacheSize,
    activities: { ...options.platformActivities },
  });
  const mqttGateway = await Worker.create({
    connection,
    namespace,
    taskQueue: TaskQueue.mqttGateway,
    activities: { ...options.mqttCommandActivities },
  });
  const lwm2mGateway = await Worker.create({
    connection,
    namespace,
    taskQueue: lwm2mGatewayTaskQueue(options.lwm2mGateway.gatewayId),
    activities: { ...options.lwm2mGateway.activities },
  });
  return [platform, mqttGateway, lwm2mGateway];
}
