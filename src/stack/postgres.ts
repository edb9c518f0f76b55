import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { type ReadinessProbe, startChildServer } from './child-process';
import { giveTo, serviceAccountFor } from './service-account';

export interface PostgresOptions {
  port: number;
  /** Database created for the caller. */
  database?: string;
  startTimeoutMs?: number;
}

export interface PostgresServer {
  /** postgres://user:password@127.0.0.1:port/database */
  url: string;
  /** Stops the server and deletes the cluster. */
  stop(): Promise<void>;
  /** Stops the server and keeps the cluster, for an outage in a test; `start` brings it back. */
  interrupt(): Promise<{ start(): Promise<void> }>;
}

const USER = 'otaflow';

/**
 * A throwaway PostgreSQL cluster on loopback for integration tests: created in a temp dir, tuned for
 * speed over durability, deleted on stop.
 */
export async function startThrowawayPostgres(options: PostgresOptions): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const database = options.database ?? 'otaflow';
  const password = randomBytes(12).toString('hex');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-postgres-'));
  try {
    const dataDir = path.join(dir, 'data');
    const passwordFile = path.join(dir, 'password');
    writeFileSync(passwordFile, password, { mode: 0o600 });
    const account = serviceAccountFor('postgres');
    giveTo(dir, account);
    await promisify(execFile)(
      path.join(bin, 'initdb'),
      [
        '-D',
        dataDir,
        '-U',
        USER,
        `--pwfile=${passwordFile}`,
        '--auth=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
        '-N',
      ],
      { uid: account?.uid, gid: account?.gid },
    ).catch((error: { stderr?: string; message: string }) => {
      throw new Error(`initdb failed: ${error.stderr || error.message}`);
    });
    rmSync(passwordFile);
    const run = () =>
      startChildServer({
        name: 'PostgreSQL',
        command: path.join(bin, 'postgres'),
        args: [
          '-D',
          dataDir,
          '-h',
          '127.0.0.1',
          '-p',
          String(options.port),
          '-k',
          dir,
          '-c',
          'fsync=off',
          '-c',
          'synchronous_commit=off',
          '-c',
          'full_page_writes=off',
        ],
        logFile: path.join(dir, 'postgres.log'),
        isReady: acceptsQueries(connectionUrl(password, options.port, 'postgres')),
        startTimeoutMs: options.startTimeoutMs ?? 30_000,
        // SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to disconnect.
        stopSignal: 'SIGINT',
        runAs: account,
      });
    let server = await run();
    const stop = async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await withClient(connectionUrl(password, options.port, 'postgres'), (client) =>
        client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`),
      );
    } catch (error) {
      await stop();
      throw error;
    }
    const interrupt = async () => {
      await server.stop();
      return {
        start: async () => {
          server = await run();
        },
      };
    };
    return { url: connectionUrl(password, options.port, database), stop, interrupt };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The newest PostgreSQL under /usr/lib/postgresql (Debian's layout). */
function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  } catch {
    // absent: reported below
  }
  if (versions[0] === undefined) {
    throw new Error(
      `PostgreSQL is not installed (${root}): run \`npm run provision\` (apt-get install postgresql)`,
    );
  }
  return path.join(root, versions[0], 'bin');
}

function connectionUrl(password: string, port: number, database: string): string {
  return `postgres://${USER}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

function acceptsQueries(url: string): ReadinessProbe {
  return () =>
    withClient(url, (client) => client.query('select 1')).then(
      () => true,
      () => false,
    );
}

async function withClient<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
