import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import type { Response } from 'express';
import type { Page, PageRequest } from '../db/paging';

const rowsPerRead = 1000;

/** Every item of a keyset-paged listing, a page at a time. */
export async function* everyItem<T>(readPage: (page: PageRequest) => Promise<Page<T>>): AsyncGenerator<T> {
  let cursor: string | undefined;
  do {
    const page = await readPage({ limit: rowsPerRead, cursor });
    yield* page.items;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
}

/**
 * Streams `rows` as a CSV attachment with backpressure, never holding them all in memory. The header
 * row names `columns`; empty cells are nulls; times are ISO 8601 (UTC).
 */
export async function sendCsv<Row extends object>(
  res: Response,
  fileName: string,
  columns: readonly (keyof Row & string)[],
  rows: AsyncIterable<Row>,
): Promise<void> {
  res.attachment(fileName).type('text/csv; charset=utf-8');
  const csv = stringify({
    header: true,
    columns: [...columns],
    cast: { date: (value) => value.toISOString() },
  });
  try {
    await pipeline(Readable.from(rows), csv, res);
  } catch (error) {
    // The client went away mid-download: nothing is wrong with the server.
    if ((error as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw error;
  }
}
