import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { json, jsonBody, problem } from './openapi';
import { PageQuery } from './schemas';
import { CreateTaskRequest, Task, TaskDeviceList, TaskParams, TaskStatus } from './task-schemas';

/** The /v1/tasks paths of the OpenAPI document (./openapi.ts). */
export function registerTaskPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/tasks',
    summary: 'Create an upgrade task and start it',
    request: { body: jsonBody(CreateTaskRequest) },
    responses: {
      201: json('The task, running', Task),
      400: problem('Invalid input'),
      422: problem('Unknown package or devices, or devices the package does not fit'),
      503: problem('Temporal is not reachable; nothing was created'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks/{id}',
    summary: 'Task state with counts per step, outcome and failure cause',
    request: { params: TaskParams },
    responses: { 200: json('The task', TaskStatus), 404: problem('No such task') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/tasks/{id}/devices',
    summary: "Each device's step, progress, outcome and failure cause",
    request: { params: TaskParams, query: PageQuery },
    responses: { 200: json('One page of task devices', TaskDeviceList), 404: problem('No such task') },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/tasks/{id}/cancel',
    summary: 'Cancel a running task',
    request: { params: TaskParams },
    responses: {
      202: json('Cancellation requested', Task),
      404: problem('No such task'),
      409: problem('The task has finished'),
    },
  });
}
