import type { Response } from 'express';
import type { Database } from '../db/database';
import { listTaskDevices, type TaskDevice } from '../db/tasks';
import { everyItem, sendCsv } from './csv-download';

/** The CSV's columns, in order; the header row names them so. */
export const taskResultColumns = [
  'deviceId',
  'step',
  'outcome',
  'failureCause',
  'failureDetail',
  'progress',
  'progressDescription',
  'attempts',
  'retryAt',
  'fromVersion',
  'toVersion',
  'startedAt',
  'updatedAt',
  'finishedAt',
] as const satisfies readonly (keyof TaskDevice)[];

/**
 * Every device row of the task, in start order, streamed a page at a time with backpressure: a
 * 100,000-device task is never held in memory.
 */
export function sendTaskResultsCsv(res: Response, db: Database, taskId: string): Promise<void> {
  return sendCsv<TaskDevice>(
    res,
    `${taskId}-results.csv`,
    taskResultColumns,
    everyItem((page) => listTaskDevices(db, taskId, page)),
  );
}
