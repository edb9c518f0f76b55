import type { Database } from './database';
import { type Page, type PageRequest, toPage } from './paging';

type Queryable = Pick<Database, 'query'>;

export type ApiScope = 'read' | 'write' | 'admin';

export interface ApiKey {
  id: string;
  name: string;
  scopes: ApiScope[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

interface ApiKeyRow {
  id: string;
  name: string;
  scopes: ApiScope[];
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const columns = 'id, name, scopes, created_at, last_used_at, revoked_at';

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export async function insertApiKey(
  db: Queryable,
  key: { id: string; name: string; keyHash: string; scopes: ApiScope[] },
): Promise<ApiKey> {
  const { rows } = await db.query<ApiKeyRow>(
    `insert into api_keys (id, name, key_hash, scopes) values ($1, $2, $3, $4) returning ${columns}`,
    [key.id, key.name, key.keyHash, key.scopes],
  );
  return toApiKey(rows[0] as ApiKeyRow);
}

/** The key with this SHA-256 hash, revoked or not. */
export async function findApiKeyByHash(db: Queryable, keyHash: string): Promise<ApiKey | undefined> {
  const { rows } = await db.query<ApiKeyRow>(`select ${columns} from api_keys where key_hash = $1`, [
    keyHash,
  ]);
  return rows[0] && toApiKey(rows[0]);
}

export async function findApiKey(db: Queryable, id: string): Promise<ApiKey | undefined> {
  const { rows } = await db.query<ApiKeyRow>(`select ${columns} from api_keys where id = $1`, [id]);
  return rows[0] && toApiKey(rows[0]);
}

export async function listApiKeys(db: Queryable, page: PageRequest): Promise<Page<ApiKey>> {
  const { rows } = await db.query<ApiKeyRow>(
    `select ${columns} from api_keys where $1::text is null or id > $1 order by id limit $2`,
    [page.cursor ?? null, page.limit + 1],
  );
  return toPage(rows.map(toApiKey), page.limit, (key) => key.id);
}

/** Undefined when no such key exists; a key revoked earlier keeps its first revocation time. */
export async function revokeApiKey(db: Queryable, id: string): Promise<ApiKey | undefined> {
  const { rows } = await db.query<ApiKeyRow>(
    `update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1 returning ${columns}`,
    [id],
  );
  return rows[0] && toApiKey(rows[0]);
}

/** At most one write a minute per key: `lastUsedAt` is for spotting unused keys, not an audit log. */
export async function touchApiKey(db: Queryable, id: string): Promise<void> {
  await db.query(
    `update api_keys set last_used_at = now()
      where id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute')`,
    [id],
  );
}
