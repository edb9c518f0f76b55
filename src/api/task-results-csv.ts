import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type { Response } from 'express';
import type { Database } from '../db/database';
import { listTaskDevices, type TaskDevice } from '../db/tasks';

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

const rowsPerRead = 1000;

async function* taskDevices(db: Database, taskId: string): AsyncGenerator<TaskDevice> {
  let cursor: string | undefined;
  do {
    const page = await listTaskDevices(db, taskId, { limit: rowsPerRead, cursor });
    yield* page.items;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
}

/**
 * Every device row of the task, in start order, streamed a page at a time with backpressure: a
 * 100,000-device task is never held in memory. Empty cells are nulls; times are ISO 8601 (UTC).
 */
export async function sendTaskResultsCsv(res: Response, db: Database, taskId: string): Promise<void> {
  res.attachment(`${taskId}-results.csv`).type('text/csv; charset=utf-8');
  const csv = stringify({
    header: true,
    columns: [...taskResultColumns],
    cast: { date: (value) => value.toISOString() },
  });
  try {
    await pipeline(Readable.from(taskDevices(db, taskId)), csv, res);
  } catch (error) {
    // The client went away mid-download: nothing is wrong with the server.
    if ((error as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw error;
  }
}
