import type { WorkflowClient } from '@temporalio/client';
import { Router } from 'express';
import {
  type Lwm2mTaskSettings,
  TaskQueue,
  type UpgradeTaskInput,
  upgradeTaskWorkflowId,
} from '../../../workflows/definitions';
import type { Database } from '../../db/database';
import { findDevices } from '../../db/devices';
import { newId } from '../../db/ids';
import { findPackage, toPackageInfo } from '../../db/packages';
import {
  countTaskDevices,
  deleteTask,
  findTask,
  insertTask,
  listTaskDevices,
  markTaskCancelling,
} from '../../db/tasks';
import type { Logger } from '../../logger';
import { conflict, type FieldError, HttpProblem, notFound, unprocessable } from '../problem';
import { PageQuery } from '../schemas';
import { CreateTaskRequest, TaskParams } from '../task-schemas';
import { parseInput } from '../validate';

/** The part of a Temporal `Client` the API uses. */
export interface TaskWorkflows {
  workflow: Pick<WorkflowClient, 'start' | 'getHandle'>;
}

export const upgradeTaskWorkflowType = 'upgradeTask';

export function tasksRouter(deps: {
  db: Database;
  temporal: TaskWorkflows;
  logger: Logger;
  /** What NB-IoT (LwM2M) upgrades use to read radio coverage and turn it into cell permits. */
  nbiot: Pick<Lwm2mTaskSettings, 'coverageRanges' | 'radioResources'>;
}): Router {
  const { db, temporal } = deps;
  const router = Router();

  router.post('/', async (req, res) => {
    const request = parseInput(CreateTaskRequest, req.body, 'body');
    const pkg = await findPackage(db, request.packageId);
    if (!pkg) {
      throw unprocessable(`package ${request.packageId} does not exist`, [
        { path: 'packageId', message: 'no such package' },
      ]);
    }
    const devices = new Map((await findDevices(db, request.deviceIds)).map((device) => [device.id, device]));
    const errors: FieldError[] = [];
    request.deviceIds.forEach((deviceId, index) => {
      const device = devices.get(deviceId);
      const path = `deviceIds.${index}`;
      if (!device) errors.push({ path, message: `device ${deviceId} does not exist` });
      else if (device.product !== pkg.product || device.model !== pkg.model) {
        errors.push({
          path,
          message: `device ${deviceId} is ${device.product}/${device.model}; the package is for ${pkg.product}/${pkg.model}`,
        });
      }
    });
    if (errors.length > 0) throw unprocessable(`${errors.length} device(s) cannot take this package`, errors);

    const taskId = newId('task');
    const task = await db.transaction((tx) =>
      insertTask(tx, {
        id: taskId,
        packageId: pkg.id,
        callbackUrl: request.callbackUrl,
        deviceIds: request.deviceIds,
        toVersion: pkg.version,
      }),
    );
    const lwm2mDeviceIds = request.deviceIds.filter((id) => devices.get(id)?.protocol === 'lwm2m');
    const input: UpgradeTaskInput = {
      taskId,
      deviceIds: request.deviceIds,
      package: toPackageInfo(pkg),
      ...(lwm2mDeviceIds.length > 0 && { lwm2m: { deviceIds: lwm2mDeviceIds, ...deps.nbiot } }),
    };
    try {
      await temporal.workflow.start(upgradeTaskWorkflowType, {
        workflowId: upgradeTaskWorkflowId(taskId),
        taskQueue: TaskQueue.platform,
        args: [input],
      });
    } catch (error) {
      // A task without its workflow would stay 'running' forever.
      await deleteTask(db, taskId);
      deps.logger.error({ err: error, taskId }, 'could not start the upgrade task workflow');
      throw new HttpProblem(
        503,
        'Service unavailable',
        'the task could not be started: Temporal is not reachable',
      );
    }
    res.status(201).location(`/v1/tasks/${task.id}`).json(task);
  });

  router.get('/:id', async (req, res) => {
    const { id } = parseInput(TaskParams, req.params, 'params');
    const task = await findTask(db, id);
    if (!task) throw notFound(`task ${id} does not exist`);
    res.json({ ...task, counts: await countTaskDevices(db, id) });
  });

  router.get('/:id/devices', async (req, res) => {
    const { id } = parseInput(TaskParams, req.params, 'params');
    const page = parseInput(PageQuery, req.query, 'query');
    if (!(await findTask(db, id))) throw notFound(`task ${id} does not exist`);
    res.json(await listTaskDevices(db, id, page));
  });

  router.post('/:id/cancel', async (req, res) => {
    const { id } = parseInput(TaskParams, req.params, 'params');
    const task = await findTask(db, id);
    if (!task) throw notFound(`task ${id} does not exist`);
    if (task.state === 'completed' || task.state === 'cancelled')
      throw conflict(`task ${id} is already ${task.state}`);
    const cancelling = (await markTaskCancelling(db, id)) ?? task;
    await temporal.workflow.getHandle(upgradeTaskWorkflowId(id)).cancel();
    res.status(202).json(cancelling);
  });

  return router;
}
