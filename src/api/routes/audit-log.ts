import { Router } from 'express';
import { type AuditEntry, listAuditEntries } from '../../db/audit-log';
import type { Database } from '../../db/database';
import { everyItem, sendCsv } from '../csv-download';
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
    await sendCsv<AuditEntry>(
      res,
      'audit-log.csv',
      csvColumns,
      everyItem((page) => listAuditEntries(db, filter, page)),
    );
  });

  return router;
}
