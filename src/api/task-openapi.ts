import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { json, jsonBody, problem } from './openapi-bodies';
import { taskResultColumns } from './task-results-csv';
import {
  CreateTaskRequest,
  Task,
  TaskDeviceList,
  TaskDeviceQuery,
  TaskList,
  TaskListQuery,
  TaskParams,
  TaskPreview,
  TaskProgressEvent,
  TaskStatus,
} from './task-schemas';

const taskChange = (summary: string, status: 200 | 202, fromStates: string) => ({
  summary,
  request: { params: TaskParams },
  responses: {
    [status]: json('The task in its new state', Task),
    404: problem('No such task'),
    409: problem(`The task is not ${fromStates}`),
    503: problem('Temporal is not reachable; the task is unchanged'),
  },
});

/** The /v1/tasks paths of the OpenAPI document (./openapi.ts). */
export function registerTaskPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/tasks',
    summary: 'Create an upgrade task for a device list, a group or a filter, and start it',
    description:
      "Targets are resolved in the request (up to 100,000 devices of the package's product and model); " +
      'the task is `scheduled` when `rollout.startAt` is in the future, `running` otherwise.',
    request: { body: jsonBody(CreateTaskRequest) },
    responses: {
      201: json('The task', Task),
      400: problem('Invalid input'),
      422: problem(
        'Unknown package or group; listed devices unknown or of another model; a target of no device or of more than 100,000',
      ),
      503: problem('Temporal is not reachable; nothing was created'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/tasks/preview',
    summary: 'What creating this task would target, without creating it',
    description:
      'The same body, checks and target resolution as `POST /v1/tasks`, rolled back: the devices it would upgrade, counted, and the first of them in start order.',
    request: { body: jsonBody(CreateTaskRequest) },
    responses: {
      200: json('The devices the task would target', TaskPreview),
      400: problem('Invalid input'),
      422: problem(
        'Unknown package or group; listed devices unknown or of another model; a target of no device or of more than 100,000',
      ),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks',
    summary: 'List tasks, oldest first',
    request: { query: TaskListQuery },
    responses: { 200: json('One page of tasks', TaskList), 400: problem('Invalid paging or state') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks/{id}',
    summary: 'Task state, target, rollout policy and live counts per step, outcome and failure cause',
    request: { params: TaskParams },
    responses: { 200: json('The task', TaskStatus), 404: problem('No such task') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks/{id}/devices',
    summary: "Each device's step, progress, attempts, outcome and failure cause, in start order",
    request: { params: TaskParams, query: TaskDeviceQuery },
    responses: {
      200: json('One page of task devices', TaskDeviceList),
      400: problem('Invalid paging or filter'),
      404: problem('No such task'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks/{id}/results.csv',
    summary: 'Every device row of the task as CSV (streamed; RFC 4180 quoting; header row)',
    request: { params: TaskParams },
    responses: {
      200: {
        description: `Columns: ${taskResultColumns.join(', ')}. Empty cells are nulls; times are ISO 8601 UTC.`,
        headers: {
          'Content-Disposition': {
            description: 'attachment; filename=<taskId>-results.csv',
            schema: { type: 'string' },
          },
        },
        content: { 'text/csv': { schema: z.string() } },
      },
      404: problem('No such task'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks/{id}/events',
    summary: "Server-sent events of the task's progress, for live views",
    description:
      '`event: progress` with a TaskProgressEvent JSON `data` line when the stream opens and whenever the ' +
      "task's state or counts change (read every second); `: heartbeat` comment lines when nothing else was " +
      'sent for 15 s; `event: end` with the final TaskProgressEvent once the task is completed, cancelled or ' +
      'aborted, after which the server closes the stream.',
    request: { params: TaskParams },
    responses: {
      200: {
        description: 'An event stream; each event `data` is a TaskProgressEvent',
        content: { 'text/event-stream': { schema: TaskProgressEvent } },
      },
      404: problem('No such task'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/tasks/{id}/pause',
    ...taskChange(
      'Pause a task: no new device starts; upgrades in progress go on',
      200,
      'scheduled or running',
    ),
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/tasks/{id}/resume',
    ...taskChange('Resume a paused task', 200, 'paused'),
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/tasks/{id}/cancel',
    ...taskChange(
      'Cancel a task: it turns `cancelling`, then `cancelled` once its device upgrades have stopped',
      202,
      'scheduled, running, paused or cancelling',
    ),
  });
}
