import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { OtaSearchAttributes, otaSearchAttributeNames } from '../../workflows/definitions';
import { locateBinary } from './binaries';
import { type ReadinessProbe, startChildServer } from './child-process';

export interface TemporalDevServerOptions {
  /** Workflow state lives in <dataDir>/temporal/temporal.db and survives restarts. */
  dataDir: string;
  port: number;
  uiPort: number;
  namespace?: string;
  /** Serves the server's Prometheus metrics (requests by operation …) at http://127.0.0.1:<port>/metrics. */
  metricsPort?: number;
  startTimeoutMs?: number;
}

export interface TemporalDevServer {
  /** host:port for @temporalio/client and @temporalio/worker connections. */
  address: string;
  namespace: string;
  uiUrl: string;
  stop(): Promise<void>;
}

/**
 * SQLite in write-ahead-log mode, synced at checkpoints rather than at every commit: with the dev
 * server's default (rollback journal, a sync per commit) the server was otaflow's throughput limit
 * (BENCHMARKS.md). A killed process loses
 * nothing (WAL commits are in the file); an OS crash or power loss can roll back the last commits.
 * Fleets that need more run a Temporal cluster and set TEMPORAL_ADDRESS (README, "Configuration").
 */
const SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];

function tuningArgs(options: TemporalDevServerOptions): string[] {
  return [
    ...SQLITE_PRAGMAS.flatMap((pragma) => ['--sqlite-pragma', pragma]),
    ...(options.metricsPort === undefined ? [] : ['--metrics-port', String(options.metricsPort)]),
  ];
}

/**
 * Starts `temporal server start-dev` from the provisioned Temporal CLI. Without one (a machine with
 * internet but no Go), @temporalio/testing downloads the dev server instead.
 */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const namespace = options.namespace ?? 'default';
  const address = `127.0.0.1:${options.port}`;
  const uiUrl = `http://127.0.0.1:${options.uiPort}`;
  const dbFilename = path.join(options.dataDir, 'temporal', 'temporal.db');
  mkdirSync(path.dirname(dbFilename), { recursive: true });
  const binary = locateBinary('temporal');
  if (!binary) {
    return startDownloadedDevServer({ ...options, namespace, address, uiUrl, dbFilename });
  }
  const server = await startChildServer({
    name: 'Temporal dev server',
    command: binary,
    args: [
      'server',
      'start-dev',
      '--db-filename',
      dbFilename,
      '--ip',
      '127.0.0.1',
      '--port',
      String(options.port),
      '--ui-port',
      String(options.uiPort),
      '--namespace',
      namespace,
      '--log-level',
      'warn',
      ...tuningArgs(options),
      ...otaSearchAttributeNames.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
    ],
    logFile: path.join(options.dataDir, 'logs', 'temporal.log'),
    isReady: namespaceIsServed(address, namespace),
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
  });
  return { address, namespace, uiUrl, stop: server.stop };
}

/** Ready means the namespace answers and otaflow's search attributes are registered in it. */
function namespaceIsServed(address: string, namespace: string): ReadinessProbe {
  return async () => {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 1_000 });
      await connection.workflowService.describeNamespace({ namespace });
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      return otaSearchAttributeNames.every((name) => customAttributes?.[name] !== undefined);
    } catch {
      return false;
    } finally {
      await connection?.close();
    }
  };
}

interface DownloadedDevServerOptions extends TemporalDevServerOptions {
  namespace: string;
  address: string;
  uiUrl: string;
  dbFilename: string;
}

async function startDownloadedDevServer(options: DownloadedDevServerOptions): Promise<TemporalDevServer> {
  let testing: typeof import('@temporalio/testing');
  try {
    testing = await import('@temporalio/testing');
  } catch {
    throw new Error(
      'the Temporal CLI is not provisioned and @temporalio/testing (which could download it) is not installed: ' +
        'run `npm run provision`, set OTAFLOW_TEMPORAL_BIN to a temporal binary, or set TEMPORAL_ADDRESS',
    );
  }
  const env = await testing.TestWorkflowEnvironment.createLocal({
    server: {
      ip: '127.0.0.1',
      port: options.port,
      ui: true,
      uiPort: options.uiPort,
      namespace: options.namespace,
      dbFilename: options.dbFilename,
      searchAttributes: Object.values(OtaSearchAttributes),
      extraArgs: tuningArgs(options),
    },
  });
  return {
    address: options.address,
    namespace: options.namespace,
    uiUrl: options.uiUrl,
    stop: () => env.teardown(),
  };
}
