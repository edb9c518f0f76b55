/**
 * Temporal's own server (`temporal-server` of go.temporal.io/server) on PostgreSQL, as production runs
 * it, where the dev server runs on a SQLite file: four services in one process, its history and
 * visibility stores in two databases its SQL tool creates and migrates. For the tests and the
 * benchmark that show otaflow on the Temporal its users run (docs/deployment.md); provisioned by
 * scripts/provision.sh (the server, the SQL tool and the PostgreSQL schema of the same release).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { otaflowCacheDir, requireBinary } from './binaries';
import { type ReadinessProbe, startChildServer } from './child-process';
import { freePort } from './free-port';

/** The release scripts/provision.sh builds: its schema sits beside the binaries in the cache. */
const SERVER_VERSION = 'v1.29.1';

export interface SqlTemporalServerOptions {
  /** A PostgreSQL account that may create databases: `postgres://user:password@host:port/any`. */
  postgresUrl: string;
  /** Config, logs. */
  dataDir: string;
  namespace?: string;
  /** History shards: fixed for the life of a cluster (4 here, as Temporal's development configs). */
  historyShards?: number;
  startTimeoutMs?: number;
}

export interface SqlTemporalServer {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  stop(): Promise<void>;
}

export async function startSqlTemporalServer(options: SqlTemporalServerOptions): Promise<SqlTemporalServer> {
  const namespace = options.namespace ?? 'default';
  const postgres = new URL(options.postgresUrl);
  const databases = { history: 'temporal', visibility: 'temporal_visibility' };
  await migrate(postgres, databases);

  const ports = {
    frontend: await freePort(),
    frontendHttp: await freePort(),
    frontendMembership: await freePort(),
    history: await freePort(),
    historyMembership: await freePort(),
    matching: await freePort(),
    matchingMembership: await freePort(),
    worker: await freePort(),
    workerMembership: await freePort(),
  };
  const root = path.join(options.dataDir, 'temporal-server');
  mkdirSync(path.join(root, 'config'), { recursive: true });
  writeFileSync(
    path.join(root, 'config', 'development.yaml'),
    serverConfig({ postgres, databases, ports, historyShards: options.historyShards ?? 4 }),
  );
  const address = `127.0.0.1:${ports.frontend}`;
  const server = await startChildServer({
    name: 'Temporal server (PostgreSQL)',
    command: requireBinary('temporal-server', 'a PostgreSQL-backed Temporal server'),
    args: ['--root', root, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start'],
    logFile: path.join(options.dataDir, 'logs', 'temporal-server.log'),
    isReady: namespaceRegistered(address, namespace),
    startTimeoutMs: options.startTimeoutMs ?? 120_000,
  });
  return { address, namespace, stop: server.stop };
}

function schemaDir(): string {
  const dir =
    process.env.OTAFLOW_TEMPORAL_SCHEMA_DIR ||
    path.join(otaflowCacheDir(), 'temporal-server-schema', SERVER_VERSION, 'postgresql', 'v12');
  if (!existsSync(dir)) {
    throw new Error(`Temporal's PostgreSQL schema is not provisioned (${dir}): run \`npm run provision\``);
  }
  return dir;
}

/** Creates both databases and brings them to the release's schema (idempotent, as the SQL tool is). */
async function migrate(postgres: URL, databases: { history: string; visibility: string }): Promise<void> {
  const tool = requireBinary('temporal-sql-tool', 'a PostgreSQL-backed Temporal server');
  const connection = [
    '--plugin',
    'postgres12',
    '--ep',
    postgres.hostname,
    '--port',
    postgres.port,
    '--user',
    decodeURIComponent(postgres.username),
    '--password',
    decodeURIComponent(postgres.password),
  ];
  const run = async (database: string, ...command: string[]) => {
    await promisify(execFile)(tool, [...connection, '--db', database, ...command]).catch(
      (error: { stderr?: string; message: string }) => {
        throw new Error(
          `temporal-sql-tool ${command[0]} on ${database} failed: ${error.stderr || error.message}`,
        );
      },
    );
  };
  for (const [database, schema] of [
    [databases.history, 'temporal'],
    [databases.visibility, 'visibility'],
  ] as const) {
    await run(database, 'create-database');
    await run(database, 'setup-schema', '-v', '0.0');
    await run(database, 'update-schema', '-d', path.join(schemaDir(), schema, 'versioned'));
  }
}

function serverConfig(settings: {
  postgres: URL;
  databases: { history: string; visibility: string };
  ports: Record<string, number>;
  historyShards: number;
}): string {
  const { postgres, databases, ports } = settings;
  const store = (database: string, maxConns: number) => `
      sql:
        pluginName: postgres12
        databaseName: ${database}
        connectAddr: "${postgres.hostname}:${postgres.port}"
        connectProtocol: tcp
        user: ${JSON.stringify(decodeURIComponent(postgres.username))}
        password: ${JSON.stringify(decodeURIComponent(postgres.password))}
        maxConns: ${maxConns}
        maxIdleConns: ${maxConns}
        maxConnLifetime: 1h`;
  const service = (grpcPort: number, membershipPort: number, httpPort?: number) => `
    rpc:
      grpcPort: ${grpcPort}
      membershipPort: ${membershipPort}
      bindOnLocalHost: true${httpPort === undefined ? '' : `\n      httpPort: ${httpPort}`}`;
  return `log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: ${settings.historyShards}
  datastores:
    postgres-default:${store(databases.history, 20)}
    postgres-visibility:${store(databases.visibility, 4)}
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:${service(ports.frontend as number, ports.frontendMembership as number, ports.frontendHttp)}
  history:${service(ports.history as number, ports.historyMembership as number)}
  matching:${service(ports.matching as number, ports.matchingMembership as number)}
  worker:${service(ports.worker as number, ports.workerMembership as number)}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:${ports.frontend}"
dcRedirectionPolicy:
  policy: noop
`;
}

/**
 * Ready once the frontend answers for the namespace, its search attributes included (they come from
 * a namespace cache that learns of a new namespace a few seconds after it is registered); the server
 * creates none itself, so the first answer that it does not exist registers it.
 */
function namespaceRegistered(address: string, namespace: string): ReadinessProbe {
  return async () => {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        await connection.workflowService.describeNamespace({ namespace });
      } catch {
        await connection.workflowService.registerNamespace({
          namespace,
          workflowExecutionRetentionPeriod: msToTs('1 day'),
        });
        return false;
      }
      await connection.operatorService.listSearchAttributes({ namespace });
      return true;
    } catch {
      return false;
    } finally {
      await connection?.close();
    }
  };
}
