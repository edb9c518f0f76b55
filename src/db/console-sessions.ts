import type { Database } from './database';

type Queryable = Pick<Database, 'query'>;

/**
 * A browser's signed-in session (src/api/session.ts): found by the SHA-256 of its cookie, it stands
 * for the API key it was opened with, named by that key's hash so that a revoked or rotated key ends
 * it; its CSRF token is what the console sends back with each change.
 */
export interface ConsoleSession {
  keyHash: string;
  csrfToken: string;
  expiresAt: Date;
}

export async function insertConsoleSession(
  db: Queryable,
  session: ConsoleSession & { idHash: string; createdAt: Date },
): Promise<void> {
  // Sessions past their time are swept as new ones open: there are as many as operators sign in.
  await db.query('delete from console_sessions where expires_at <= $1', [session.createdAt]);
  await db.query(
    `insert into console_sessions (id_hash, key_hash, csrf_token, created_at, expires_at)
     values ($1, $2, $3, $4, $5)`,
    [session.idHash, session.keyHash, session.csrfToken, session.createdAt, session.expiresAt],
  );
}

/** The session whose cookie hashes to `idHash`, unless it has expired. */
export async function findConsoleSession(
  db: Queryable,
  idHash: string,
  now: Date,
): Promise<ConsoleSession | undefined> {
  const { rows } = await db.query<{ key_hash: string; csrf_token: string; expires_at: Date }>(
    'select key_hash, csrf_token, expires_at from console_sessions where id_hash = $1 and expires_at > $2',
    [idHash, now],
  );
  const row = rows[0];
  return row && { keyHash: row.key_hash, csrfToken: row.csrf_token, expiresAt: new Date(row.expires_at) };
}

export async function deleteConsoleSession(db: Queryable, idHash: string): Promise<void> {
  await db.query('delete from console_sessions where id_hash = $1', [idHash]);
}
