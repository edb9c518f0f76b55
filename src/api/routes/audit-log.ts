import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify } from 'csv-stringify';
import { Router } from 'express';
import { type AuditEntry, type AuditFilter, listAuditEntries } from '../../db/audit-log';
import type { Database } from '../../db/database';
import { AuditLogQuery } from '../schemas';
import { parseInput } from '../validate';

const csvColumns = [
  'id',
  'at',
  'apiKeyId',
  'method',
  'path',
  'route',
  'status',
  'location',
  'address',
] as const satisfies readonly (keyof AuditEntry)[];

const rowsPerRead = 1000;

/** The audit log (admin scope): changes made through the API, newest first, filterable and exportable. */
export function auditLogRouter(deps: { db: Database }): Router {
  const { db } = deps;
  const router = Router({ caseSensitive: true });

  router.get('/', async (req, res) => {
    const { limit, cursor, ...filter } = parseInput(AuditLogQuery, req.query, 'query');
    res.json(await listAuditEntries(db, filter, { limit, cursor }));
  });

  router.get('/export.csv', async (req, res) => {
    const { limit: _limit, cursor: _cursor, ...filter } = parseInput(AuditLogQuery, req.query, 'query');
    res.attachment('audit-log.csv').type('text/csv; charset=utf-8');
    const csv = stringify({
      header: true,
      columns: [...csvColumns],
      cast: { date: (value) => value.toISOString() },
    });
    try {
      await pipeline(Readable.from(allEntries(db, filter)), csv, res);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw error;
    }
  });

  return router;
}

async function* allEntries(db: Database, filter: AuditFilter): AsyncGenerator<AuditEntry> {
  let cursor: string | undefined;
  do {
    const page = await listAuditEntries(db, filter, { limit: rowsPerRead, cursor });
    yield* page.items;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
}
