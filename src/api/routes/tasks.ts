import { type WorkflowClient, WorkflowNotFoundError } from '@temporalio/client';
import { Router } from 'express';
import type { z } from 'zod';
import { OtaSearchAttributes, TaskQueue, taskWorkflowId } from '../../../workflows/definitions';
import type { Lwm2mTaskSettings } from '../../../workflows/lwm2m/definitions';
import {
  pauseTaskSignal,
  type RolloutTaskInput,
  resumeTaskSignal,
  rolloutTaskWorkflowTaskTimeout,
  rolloutTaskWorkflowType,
  type TaskTarget,
} from '../../../workflows/rollout/definitions';
import type { Database } from '../../db/database';
import { newId } from '../../db/ids';
import { findPackage, type Package, toPackageInfo } from '../../db/packages';
import {
  findUnfitListedDevices,
  groupExists,
  insertListedTaskDevices,
  insertResolvedTaskDevices,
  maxTaskDevices,
} from '../../db/task-targets';
import {
  activeTaskStates,
  countTaskDevices,
  deleteTask,
  findTask,
  insertTask,
  listTaskDevices,
  listTasks,
  markTaskCancelling,
  setTaskState,
  type Task,
} from '../../db/tasks';
import type { Logger } from '../../logger';
import { conflict, HttpProblem, notFound, unprocessable } from '../problem';
import { defaultTaskEventTiming, streamTaskProgress, type TaskEventTiming } from '../task-event-stream';
import { sendTaskResultsCsv } from '../task-results-csv';
import {
  CreateTaskRequest,
  maxListedErrors,
  TaskDeviceQuery,
  TaskListQuery,
  TaskParams,
} from '../task-schemas';
import { parseInput } from '../validate';

/** The part of a Temporal `Client` the API uses. */
export interface TaskWorkflows {
  workflow: Pick<WorkflowClient, 'start' | 'getHandle' | 'list'>;
}

/** The task as the API shows it: the callback URL of tasks from before webhooks stays internal. */
function taskBody({ callbackUrl: _internal, ...task }: Task) {
  return task;
}

function isFuture(instant: string | undefined): boolean {
  return instant !== undefined && Date.parse(instant) > Date.now();
}

/** How many of a previewed task's devices the preview names, in start order. */
const PREVIEW_DEVICES = 10;

/** Thrown to roll a preview's transaction back, carrying what it found. */
class TaskPreview {
  deviceCount = 0;
  firstDeviceIds: string[] = [];
}

function temporalUnavailable(what: string): HttpProblem {
  return new HttpProblem(503, 'Service unavailable', `${what}: Temporal is not reachable`);
}

export function tasksRouter(deps: {
  db: Database;
  temporal: TaskWorkflows;
  logger: Logger;
  /** What NB-IoT (LwM2M) upgrades use to read radio coverage and turn it into cell permits. */
  nbiot: Lwm2mTaskSettings;
  events?: TaskEventTiming;
}): Router {
  const { db, temporal } = deps;
  const router = Router({ caseSensitive: true });

  async function requireTask(id: string): Promise<Task> {
    const task = await findTask(db, id);
    if (!task) throw notFound(`task ${id} does not exist`);
    return task;
  }

  /**
   * The task's state is written first, so a workflow that reads it sees the request; when Temporal
   * cannot be told, the state goes back and nothing changed.
   */
  async function tellWorkflow(task: Task, changed: Task, tell: () => Promise<void>): Promise<void> {
    try {
      await tell();
    } catch (error) {
      await setTaskState(db, task.id, [changed.state], task.state);
      if (error instanceof WorkflowNotFoundError) throw conflict(`task ${task.id}'s workflow has ended`);
      deps.logger.error({ err: error, taskId: task.id }, 'could not reach the task workflow');
      throw temporalUnavailable(`task ${task.id} is unchanged`);
    }
  }

  /**
   * The request's package (existing, not retired), and its task with its target devices inserted in
   * `tx`: what a creation commits and a preview rolls back.
   */
  async function insertRequestedTask(
    tx: Pick<Database, 'query'>,
    taskId: string,
    request: z.output<typeof CreateTaskRequest>,
  ): Promise<{ pkg: Package; task: Task | undefined }> {
    const pkg = await findPackage(tx, request.packageId);
    if (!pkg) {
      throw unprocessable(`package ${request.packageId} does not exist`, [
        { path: 'packageId', message: 'no such package' },
      ]);
    }
    if (pkg.retiredAt) {
      throw unprocessable(`package ${pkg.id} is retired`, [
        { path: 'packageId', message: `retired at ${pkg.retiredAt.toISOString()}: no new task may use it` },
      ]);
    }
    const state = isFuture(request.rollout.startAt) ? ('scheduled' as const) : ('running' as const);
    const newTask = { id: taskId, packageId: pkg.id, name: request.name, mode: request.mode, state };
    const rollout = request.rollout;
    const { target } = request;
    if ('deviceIds' in target) {
      await refuseUnfitDevices(tx, pkg, target.deviceIds);
      await insertTask(tx, {
        ...newTask,
        rollout,
        target: { deviceList: { count: target.deviceIds.length } },
      });
      await insertListedTaskDevices(tx, taskId, target.deviceIds);
    } else {
      if ('groupId' in target && !(await groupExists(tx, target.groupId))) {
        throw unprocessable(`group ${target.groupId} does not exist`, [
          { path: 'target.groupId', message: 'no such group' },
        ]);
      }
      await insertTask(tx, { ...newTask, rollout, target });
      refuseResolvedCount(await insertResolvedTaskDevices(tx, taskId), target, request.mode);
    }
    return { pkg, task: await findTask(tx, taskId) };
  }

  /**
   * What creating this task would target, without creating it: the same checks and the same
   * resolution of the target, in a transaction that is rolled back.
   */
  router.post('/preview', async (req, res) => {
    const request = parseInput(CreateTaskRequest, req.body, 'body');
    const preview = new TaskPreview();
    try {
      await db.transaction(async (tx) => {
        const taskId = newId('task');
        const { task } = await insertRequestedTask(tx, taskId, request);
        preview.deviceCount = task?.deviceCount ?? 0;
        const first = await listTaskDevices(tx, taskId, { limit: PREVIEW_DEVICES });
        preview.firstDeviceIds = first.items.map((device) => device.deviceId);
        throw preview;
      });
    } catch (error) {
      if (error !== preview) throw error;
    }
    res.json({ deviceCount: preview.deviceCount, firstDeviceIds: preview.firstDeviceIds });
  });

  router.post('/', async (req, res) => {
    const request = parseInput(CreateTaskRequest, req.body, 'body');
    const taskId = newId('task');
    const { pkg, task } = await db.transaction((tx) => insertRequestedTask(tx, taskId, request));
    if (!task) throw new Error(`task ${taskId} vanished after its creation`);

    const input: RolloutTaskInput = {
      taskId,
      package: toPackageInfo(pkg),
      mode: request.mode,
      policy: request.rollout,
      nbiot: deps.nbiot,
    };
    try {
      await temporal.workflow.start(rolloutTaskWorkflowType, {
        workflowId: taskWorkflowId(taskId),
        taskQueue: TaskQueue.tasks,
        workflowTaskTimeout: rolloutTaskWorkflowTaskTimeout,
        args: [input],
        typedSearchAttributes: [{ key: OtaSearchAttributes.taskId, value: taskId }],
      });
    } catch (error) {
      // A task without its workflow would never move.
      await deleteTask(db, taskId);
      deps.logger.error({ err: error, taskId }, 'could not start the task workflow');
      throw temporalUnavailable('the task could not be started');
    }
    res.status(201).location(`/v1/tasks/${task.id}`).json(taskBody(task));
  });

  router.get('/', async (req, res) => {
    const page = await listTasks(db, parseInput(TaskListQuery, req.query, 'query'));
    res.json({ ...page, items: page.items.map(taskBody) });
  });

  router.get('/:id', async (req, res) => {
    const { id } = parseInput(TaskParams, req.params, 'params');
    const task = await requireTask(id);
    res.json({ ...taskBody(task), counts: await countTaskDevices(db, id) });
  });

  router.get('/:id/devices', async (req, res) => {
    const { id } = parseInput(TaskParams, req.params, 'params');
    const query = parseInput(TaskDeviceQuery, req.query, 'query');
    await requireTask(id);
    res.json(await listTaskDevices(db, id, query));
  });

  router.get('/:id/results.csv', async (req, res) => {
    const { id } = parseInput(TaskParams, req.params, 'params');
    await requireTask(id);
    await sendTaskResultsCsv(res, db, id);
  });

  router.get('/:id/events', async (req, res) => {
    const { id } = parseInput(TaskParams, req.params, 'params');
    await requireTask(id);
    await streamTaskProgress(
      res,
      async () => {
        const task = await findTask(db, id);
        if (!task) return undefined;
        const { state, stateReason, deviceCount } = task;
        return { state, stateReason, deviceCount, counts: await countTaskDevices(db, id) };
      },
      deps.events ?? defaultTaskEventTiming,
    );
  });

  router.post('/:id/pause', async (req, res) => {
    const { id } = parseInput(TaskParams, req.params, 'params');
    const task = await requireTask(id);
    if (!task.rollout) throw conflict(`task ${id} predates rollout control and cannot be paused`);
    const paused = await setTaskState(db, id, ['scheduled', 'running'], 'paused');
    if (!paused)
      throw conflict(`task ${id} is ${task.state}; only a scheduled or running task can be paused`);
    await tellWorkflow(task, paused, () =>
      temporal.workflow.getHandle(taskWorkflowId(id)).signal(pauseTaskSignal),
    );
    res.json(taskBody(paused));
  });

  router.post('/:id/resume', async (req, res) => {
    const { id } = parseInput(TaskParams, req.params, 'params');
    const task = await requireTask(id);
    const startAt = task.rollout?.startAt;
    const resumed = await setTaskState(db, id, ['paused'], isFuture(startAt) ? 'scheduled' : 'running');
    if (!resumed) throw conflict(`task ${id} is ${task.state}; only a paused task can be resumed`);
    await tellWorkflow(task, resumed, () =>
      temporal.workflow.getHandle(taskWorkflowId(id)).signal(resumeTaskSignal),
    );
    res.json(taskBody(resumed));
  });

  router.post('/:id/cancel', async (req, res) => {
    const { id } = parseInput(TaskParams, req.params, 'params');
    const task = await requireTask(id);
    if (!activeTaskStates.includes(task.state) && task.state !== 'cancelling')
      throw conflict(`task ${id} is already ${task.state}`);
    // Cancelling a task being cancelled asks its workflow again.
    const cancelling = (await markTaskCancelling(db, id)) ?? task;
    await tellWorkflow(task, cancelling, async () => {
      await temporal.workflow.getHandle(taskWorkflowId(id)).cancel();
    });
    res.status(202).json(taskBody(cancelling));
  });

  return router;
}

/** A listed device that does not exist or is of another product/model refuses the whole task. */
async function refuseUnfitDevices(
  db: Pick<Database, 'query'>,
  pkg: Package,
  deviceIds: string[],
): Promise<void> {
  const { unfit, total } = await findUnfitListedDevices(db, pkg.id, deviceIds, maxListedErrors);
  if (total === 0) return;
  const errors = unfit.map(({ index, deviceId, product, model }) => ({
    path: `target.deviceIds.${index}`,
    message:
      product === null
        ? `device ${deviceId} does not exist`
        : `device ${deviceId} is ${product}/${model}; the package is for ${pkg.product}/${pkg.model}`,
  }));
  const listed = total > unfit.length ? ` (the first ${unfit.length} are listed)` : '';
  throw unprocessable(`${total} device(s) cannot take this package${listed}`, errors);
}

function refuseResolvedCount(count: number, target: TaskTarget, mode: RolloutTaskInput['mode']): void {
  const path = 'groupId' in target ? 'target.groupId' : 'target.filter';
  if (count > maxTaskDevices) {
    throw unprocessable(`the target matches more than ${maxTaskDevices} devices`, [
      { path, message: `matches more than ${maxTaskDevices} devices of the package's product and model` },
    ]);
  }
  if (count === 0 && mode === 'snapshot') {
    throw unprocessable('the target matches no device', [
      { path, message: "matches no device of the package's product and model" },
    ]);
  }
}
