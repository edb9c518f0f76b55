import type { Database } from './database';
import { type Page, type PageRequest, toPage } from './paging';

type Queryable = Pick<Database, 'query'>;

/** One change attempted through the API: who, what, when, from where, and how it ended. */
export interface AuditEntry {
  id: string;
  at: Date;
  apiKeyId: string;
  method: string;
  /** The request's path, without its query. */
  path: string;
  /** The route it matched (`/v1/devices/:id`), when it matched one. */
  route: string | null;
  status: number;
  /** Where a create's answer points (its `Location`). */
  location: string | null;
  /** The client's address as the API saw it. */
  address: string | null;
}

export interface AuditFilter {
  apiKeyId?: string;
  method?: string;
  pathPrefix?: string;
  since?: Date;
  until?: Date;
}

interface Row {
  id: string;
  at: Date;
  api_key_id: string;
  method: string;
  path: string;
  route: string | null;
  status: number;
  location: string | null;
  address: string | null;
}

const toEntry = (row: Row): AuditEntry => ({
  id: row.id,
  at: row.at,
  apiKeyId: row.api_key_id,
  method: row.method,
  path: row.path,
  route: row.route,
  status: row.status,
  location: row.location,
  address: row.address,
});

export async function appendAuditEntry(db: Queryable, entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void> {
  await db.query(
    `insert into audit_log (api_key_id, method, path, route, status, location, address)
     values ($1, $2, $3, $4, $5, $6, $7)`,
    [entry.apiKeyId, entry.method, entry.path, entry.route, entry.status, entry.location, entry.address],
  );
}

/** Newest first; the cursor is the last entry's ID. */
export async function listAuditEntries(
  db: Queryable,
  filter: AuditFilter,
  page: PageRequest,
): Promise<Page<AuditEntry>> {
  const { rows } = await db.query<Row>(
    `select id::text, at, api_key_id, method, path, route, status, location, address from audit_log
      where ($1::bigint is null or id < $1)
        and ($2::text is null or api_key_id = $2)
        and ($3::text is null or method = $3)
        and ($4::text is null or starts_with(path, $4))
        and ($5::timestamptz is null or at >= $5)
        and ($6::timestamptz is null or at < $6)
      order by id desc limit $7`,
    [
      page.cursor ?? null,
      filter.apiKeyId ?? null,
      filter.method ?? null,
      filter.pathPrefix ?? null,
      filter.since ?? null,
      filter.until ?? null,
      page.limit + 1,
    ],
  );
  return toPage(rows.map(toEntry), page.limit, (entry) => entry.id);
}
