import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import { type NativeConnection, type WorkerOptions as SdkWorkerOptions, Worker } from '@temporalio/worker';
import type {
  Lwm2mBatchActivities,
  Lwm2mPlatformActivities,
  MqttCommandActivities,
  PlatformActivities,
  RolloutActivities,
} from '../../activities/interfaces';
import { TaskQueue } from '../../workflows/definitions';
import { lwm2mGatewayTaskQueue } from '../../workflows/lwm2m/definitions';
import type { Tracing } from '../tracing/tracing';
import { workflowBundle } from './workflow-bundle';

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  /** The upgrade worker (role `upgrade-worker`): device upgrades, cell limiters, every activity on `TaskQueue.platform`. */
  upgrades?: {
    activities: PlatformActivities & RolloutActivities & Lwm2mPlatformActivities;
    /** Its workflow cache (`OTAFLOW_WORKFLOW_CACHE_SIZE`). */
    workflowCacheSize: number;
  };
  /** The task worker (role `task-worker`): rollout tasks. */
  tasks?: boolean;
  /** Role `mqtt-gateway`: device downlinks, leaving through this process's broker connection. */
  mqttGateway?: { activities: MqttCommandActivities };
  /** Role `lwm2m-gateway`: CoAP commands, on this gateway's own queue. */
  lwm2mGateway?: { gatewayId: string; activities: Lwm2mBatchActivities };
  /** On: workflows run the traced bundle and export their spans here; activities run in spans. */
  tracing?: Tracing;
}

/**
 * How many rollout tasks the task worker keeps cached: a process rarely runs more at once, and each
 * evicted one replays its history (up to ~10,000 events before it continues as new).
 */
const TASK_WORKFLOW_CACHE_SIZE = 100;

/**
 * The workers of one otaflow process, one per role it runs: the upgrade worker (device upgrades and
 * cell limiters, plus the registry, notification, rollout and permit activities), the task worker
 * (rollout tasks, with a cache of their own), the MQTT gateway worker (device downlinks, on its own
 * task queue so commands leave through a process that holds a broker connection) and the LwM2M
 * gateway worker (CoAP commands, on this gateway's own queue: only it holds its devices' NAT
 * bindings). Both workflow workers run the same bundle.
 */
export async function createWorkers(options: WorkerOptions): Promise<Worker[]> {
  const { connection, namespace, upgrades, tasks, mqttGateway, lwm2mGateway, tracing } = options;
  const bundle = upgrades || tasks ? await workflowBundle({ traced: tracing !== undefined }) : undefined;
  const queues: Array<Omit<SdkWorkerOptions, 'connection' | 'namespace'>> = [];
  if (upgrades) {
    queues.push({
      taskQueue: TaskQueue.platform,
      workflowBundle: bundle,
      // The SDK sizes its cache from the heap limit (≈ 2,300 workflows on a 4 GiB heap), but upgrades
      // wait for hours between workflow tasks: cached, each waiting upgrade holds memory; evicted, it
      // replays its short history when its device answers.
      maxCachedWorkflows: upgrades.workflowCacheSize,
      activities: upgrades.activities,
    });
  }
  if (tasks) {
    queues.push({
      taskQueue: TaskQueue.tasks,
      workflowBundle: bundle,
      maxCachedWorkflows: TASK_WORKFLOW_CACHE_SIZE,
    });
  }
  if (mqttGateway) queues.push({ taskQueue: TaskQueue.mqttGateway, activities: mqttGateway.activities });
  if (lwm2mGateway) {
    queues.push({
      taskQueue: lwm2mGatewayTaskQueue(lwm2mGateway.gatewayId),
      activities: lwm2mGateway.activities,
    });
  }
  const workers: Worker[] = [];
  for (const queue of queues) {
    workers.push(
      await Worker.create({ connection, namespace, ...queue, ...(tracing && tracedWorker(tracing)) }),
    );
  }
  return workers;
}

/**
 * Each activity runs in a span, child of the workflow's span that scheduled it, and logs with its trace
 * ID. The workflows' spans leave their sandbox through the `exporter` sink.
 */
function tracedWorker(tracing: Tracing): Pick<SdkWorkerOptions, 'interceptors' | 'sinks'> {
  return {
    interceptors: {
      activity: [
        (context) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(context),
          outbound: new OpenTelemetryActivityOutboundInterceptor(context),
        }),
      ],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
