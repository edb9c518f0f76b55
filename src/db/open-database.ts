import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Pool } from 'pg';
import { logger } from '../logger';
import type { Database } from './database';
import { migrate } from './migrations';

export interface DatabaseOptions {
  /** A PostgreSQL connection URL; without one, an embedded PGlite database under `dataDir`. */
  url?: string;
  dataDir: string;
}

/** Opens the database and brings its schema up to date before anyone queries it. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const database = options.url
    ? openPostgres(options.url)
    : await openPglite(path.join(options.dataDir, 'db'));
  try {
    await migrate(database);
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

function openPostgres(url: string): Database {
  const pool = new Pool({ connectionString: url });
  // An idle client's connection can drop (server restart, failover); the pool replaces it on next use.
  pool.on('error', (error) => logger.warn({ err: error }, 'an idle PostgreSQL connection failed'));
  return {
    async query<Row>(sql: string, params?: unknown[]) {
      const result = await pool.query(sql, params);
      return { rows: result.rows as Row[] };
    },
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('begin');
        const result = await work({
          async query<Row>(sql: string, params?: unknown[]) {
            const outcome = await client.query(sql, params);
            return { rows: outcome.rows as Row[] };
          },
        });
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback');
        throw error;
      } finally {
        client.release();
      }
    },
    connections: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: () => pool.end(),
  };
}

async function openPglite(directory: string): Promise<Database> {
  const pglite = await PGlite.create(directory);
  return {
    async query<Row>(sql: string, params?: unknown[]) {
      const result = await pglite.query<Row>(sql, params);
      return { rows: result.rows };
    },
    transaction: (work) =>
      pglite.transaction((tx) =>
        work({
          async query<Row>(sql: string, params?: unknown[]) {
            const result = await tx.query<Row>(sql, params);
            return { rows: result.rows };
          },
        }),
      ),
    close: () => pglite.close(),
  };
}
