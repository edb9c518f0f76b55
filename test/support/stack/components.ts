/**
 * Each real component on free loopback ports with a temp data dir, for tests that need one of them.
 * `stop()` also deletes what the component stored, unless the caller passed its own data dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../../../src/stack/free-port';
import { type MinioServer, startMinioServer } from '../../../src/stack/minio-server';
import { type MosquittoBroker, type MqttAccount, startMosquitto } from '../../../src/stack/mosquitto';
import { type PostgresServer, startThrowawayPostgres } from '../../../src/stack/postgres';
import { startTemporalDevServer, type TemporalDevServer } from '../../../src/stack/temporal-dev-server';
import { ensureLocalCertificates } from '../../../src/tls/local-certificate-authority';

export interface TestTemporal extends TemporalDevServer {
  dataDir: string;
}

/** Pass `dataDir` (and `port`) to restart a server on the data of an earlier one. */
export async function startTestTemporal(
  options: { dataDir?: string; port?: number } = {},
): Promise<TestTemporal> {
  const [freePort, uiPort] = await freePorts(2);
  const owned = options.dataDir === undefined;
  const dataDir = options.dataDir ?? tempDir('temporal');
  const server = await startOrCleanUp(
    () => startTemporalDevServer({ dataDir, port: options.port ?? must(freePort), uiPort: must(uiPort) }),
    owned ? dataDir : undefined,
  );
  return { ...server, dataDir, stop: stopThenDelete(server, owned ? dataDir : undefined) };
}

export interface TestMinio extends MinioServer {
  accessKey: string;
  secretKey: string;
  /** Stops the server and keeps its data, for an outage in a test; `start` brings it back on its port. */
  interrupt(): Promise<{ start(): Promise<void> }>;
}

export async function startTestMinio(): Promise<TestMinio> {
  const [port, consolePort] = await freePorts(2);
  const dataDir = tempDir('minio');
  const credentials = { accessKey: 'otaflow-test', secretKey: 'otaflow-test-secret' };
  const start = () =>
    startMinioServer({ dataDir, port: must(port), consolePort: must(consolePort), ...credentials });
  let server = await startOrCleanUp(start, dataDir);
  return {
    ...server,
    ...credentials,
    stop: stopThenDelete({ stop: () => server.stop() }, dataDir),
    async interrupt() {
      await server.stop();
      return {
        start: async () => {
          server = await start();
        },
      };
    },
  };
}

export interface TestMosquitto extends MosquittoBroker {
  serviceAccount: MqttAccount;
  /** Its TLS listener's certificate authority (a local one, as `npm start` makes). */
  caFile: string;
}

/** Device accounts: the username is the device ID. Plain and TLS listeners, as in compose. */
export async function startTestMosquitto(deviceAccounts: MqttAccount[] = []): Promise<TestMosquitto> {
  const serviceAccount = { username: 'otaflow-gateway', password: 'otaflow-gateway-test-password' };
  const certificatesDir = tempDir('mosquitto-tls');
  const certificates = await ensureLocalCertificates(certificatesDir, ['localhost', '127.0.0.1']);
  const broker = await startOrCleanUp(async () => {
    const [port, tlsPort] = await freePorts(2);
    return startMosquitto({
      port: must(port),
      tls: { port: must(tlsPort), certFile: certificates.certFile, keyFile: certificates.keyFile },
      serviceAccount,
      deviceAccounts,
    });
  }, certificatesDir);
  return {
    ...broker,
    serviceAccount,
    caFile: certificates.caFile,
    stop: async () => {
      await broker.stop();
      rmSync(certificatesDir, { recursive: true, force: true });
    },
  };
}

export async function startTestPostgres(): Promise<PostgresServer> {
  return startThrowawayPostgres({ port: await onePort() });
}

function tempDir(component: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `otaflow-test-${component}-`));
}

async function onePort(): Promise<number> {
  const [port] = await freePorts(1);
  return must(port);
}

function must(port: number | undefined): number {
  if (port === undefined) throw new Error('no free port found');
  return port;
}

async function startOrCleanUp<T>(start: () => Promise<T>, dir: string | undefined): Promise<T> {
  try {
    return await start();
  } catch (error) {
    if (dir) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function stopThenDelete(server: { stop(): Promise<void> }, dir: string | undefined): () => Promise<void> {
  return async () => {
    await server.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}
