import type { Database } from './database';

type Queryable = Pick<Database, 'query'>;

/** A first answer as kept: its body sealed (`SecretBox`), for creates answer with secrets shown once. */
export interface StoredResponse {
  status: number;
  sealedBody: string;
  location?: string;
}

export interface IdempotencyRecord {
  method: string;
  path: string;
  requestHash: string;
  createdAt: Date;
  /** Absent while the first request is still running. */
  response?: StoredResponse;
}

interface Row {
  method: string;
  path: string;
  request_hash: string;
  status: number | null;
  response: { sealedBody: string; location?: string } | null;
  created_at: Date;
}

/**
 * Claims the key for a request about to run: true when this request owns it now. A record older than
 * `expireAfterMs`, or one still unanswered after `abandonAfterMs` (its process died), is replaced.
 */
export async function claimIdempotencyKey(
  db: Queryable,
  claim: { apiKeyId: string; key: string; method: string; path: string; requestHash: string },
  limits: { expireAfterMs: number; abandonAfterMs: number },
): Promise<boolean> {
  const { rows } = await db.query(
    `insert into idempotency_keys as k (api_key_id, key, method, path, request_hash, status, response)
     values ($1, $2, $3, $4, $5, null, null)
     on conflict (api_key_id, key) do update
       set method = excluded.method, path = excluded.path, request_hash = excluded.request_hash,
           status = null, response = null, created_at = now()
       where k.created_at < now() - make_interval(secs => $6::double precision / 1000)
          or (k.status is null and k.created_at < now() - make_interval(secs => $7::double precision / 1000))
     returning 1`,
    [
      claim.apiKeyId,
      claim.key,
      claim.method,
      claim.path,
      claim.requestHash,
      limits.expireAfterMs,
      limits.abandonAfterMs,
    ],
  );
  return rows.length > 0;
}

export async function findIdempotencyRecord(
  db: Queryable,
  apiKeyId: string,
  key: string,
): Promise<IdempotencyRecord | undefined> {
  const { rows } = await db.query<Row>(
    `select method, path, request_hash, status, response, created_at from idempotency_keys
      where api_key_id = $1 and key = $2`,
    [apiKeyId, key],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    method: row.method,
    path: row.path,
    requestHash: row.request_hash,
    createdAt: row.created_at,
    ...(row.status !== null &&
      row.response && {
        response: {
          status: row.status,
          sealedBody: row.response.sealedBody,
          location: row.response.location,
        },
      }),
  };
}

export async function completeIdempotencyKey(
  db: Queryable,
  apiKeyId: string,
  key: string,
  response: StoredResponse,
): Promise<void> {
  await db.query(
    'update idempotency_keys set status = $3, response = $4::jsonb where api_key_id = $1 and key = $2',
    [
      apiKeyId,
      key,
      response.status,
      JSON.stringify({
        sealedBody: response.sealedBody,
        ...(response.location && { location: response.location }),
      }),
    ],
  );
}

/** Frees the key of a request that failed, so a corrected retry may use it. */
export async function releaseIdempotencyKey(db: Queryable, apiKeyId: string, key: string): Promise<void> {
  await db.query('delete from idempotency_keys where api_key_id = $1 and key = $2 and status is null', [
    apiKeyId,
    key,
  ]);
}

export async function purgeExpiredIdempotencyKeys(db: Queryable, expireAfterMs: number): Promise<void> {
  await db.query(
    'delete from idempotency_keys where created_at < now() - make_interval(secs => $1::double precision / 1000)',
    [expireAfterMs],
  );
}
