/**
 * The stack a benchmark runs on: the Temporal dev server and MinIO started here on free loopback ports
 * with a temp data dir (as test/support/stack does), unless TEMPORAL_ADDRESS / MINIO_ENDPOINT name
 * existing ones; otaflow itself in a child process (platform-process.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateApiKey } from '../src/api/auth';
import { freePorts } from '../src/stack/free-port';
import { startMinioServer } from '../src/stack/minio-server';
import { type MqttAccount, startMosquitto } from '../src/stack/mosquitto';
import { startThrowawayPostgres } from '../src/stack/postgres';
import { startTemporalDevServer } from '../src/stack/temporal-dev-server';
import { type RequestCounts, scrapeTemporalRequests } from './temporal-requests';

export interface BenchStack {
  temporalAddress: string;
  namespace: string;
  api: string;
  /** The API key the benchmark's otaflow is started with. */
  apiKey: string;
  /** The broker devices connect to: `mqtts:` with `tls`. */
  mqtt: string;
  /** With `tls`, the local CA devices verify the broker and the HTTPS downloads against. */
  deviceCa?: Buffer;
  /** otaflow's LwM2M gateway, `coap://127.0.0.1:port`. */
  lwm2m: string;
  /** The same over DTLS with pre-shared keys, `coaps://127.0.0.1:port`. */
  lwm2mDtls: string;
  /** Which components the benchmark started itself and which it was given. */
  description: Record<string, string>;
  /**
   * Lets these devices log in to the broker: Mosquitto's password file in the split deployment (the
   * single process's embedded broker checks the registry itself).
   */
  allowMqttDevices(accounts: MqttAccount[]): Promise<void>;
  platformRss(): Promise<PlatformMemory>;
  resetPlatformRss(): void;
  /**
   * Starts a bench worker in a process of its own (the ceiling's, the limiter's requesters'): `file`
   * gets TEMPORAL_ADDRESS, says `ready` over IPC and stops when sent `stop` (or with the stack).
   */
  startWorkerProcess(file: string): Promise<{ stop(): Promise<void> }>;
  /** The Temporal server's requests so far; null for a server given by TEMPORAL_ADDRESS. */
  temporalRequests(): Promise<RequestCounts | null>;
  stop(): Promise<void>;
}

/** What an otaflow process says when it has started (platform-process.ts); absent: not its roles. */
interface PlatformReady {
  api?: string;
  mqtt: string;
  mqttTls?: string;
  tlsCaFile?: string;
  lwm2m?: string;
  lwm2mDtls?: string;
  workflowCacheSize: number;
}

/** The otaflow process's memory: peak RSS since the last reset, the rest as of the request. */
export interface PlatformMemory {
  peakMb: number;
  currentMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
}

const MINIO_CREDENTIALS = { accessKey: 'otaflow-bench', secretKey: 'otaflow-bench-secret' };

export interface BenchStackOptions {
  /** `pglite`: the product's embedded default; `postgres`: a throwaway PostgreSQL server. */
  database: 'pglite' | 'postgres';
  /** MQTT over TLS and HTTPS downloads (`npm start`'s default) instead of plain MQTT and HTTP. */
  tls: boolean;
  /**
   * `single`: otaflow as `npm start` runs it, one process with its embedded broker; `split`: four
   * processes by role on Mosquitto (docs/deployment.md), PostgreSQL and plain MQTT only (run.ts refuses
   * other combinations before any stack starts).
   */
  deployment: Deployment;
}

export const DEPLOYMENTS = ['single', 'split'] as const;
export type Deployment = (typeof DEPLOYMENTS)[number];

export async function startBenchStack(
  options: BenchStackOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BenchStack> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-bench-'));
  const stops: Array<() => Promise<void>> = [];
  // Once, however many callers (an interrupt and the run's own `finally`), and in reverse start order:
  // otaflow before the servers it writes to.
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const stopPart of [...stops].reverse()) await stopPart().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    const [
      temporalPort,
      uiPort,
      metricsPort,
      minioPort,
      consolePort,
      apiPort,
      mqttPort,
      lwm2mPort,
      apiTlsPort,
      mqttTlsPort,
      lwm2mDtlsPort,
    ] = await freePorts(11);
    const namespace = env.TEMPORAL_NAMESPACE ?? 'default';
    const description: Record<string, string> = {};

    let temporalAddress = env.TEMPORAL_ADDRESS;
    let temporalMetricsUrl: string | undefined;
    if (temporalAddress) description.temporal = `given: ${temporalAddress}`;
    else {
      const server = await startTemporalDevServer({
        dataDir: path.join(dataDir, 'temporal'),
        port: must(temporalPort),
        uiPort: must(uiPort),
        metricsPort: must(metricsPort),
        namespace,
      });
      temporalMetricsUrl = `http://127.0.0.1:${must(metricsPort)}/metrics`;
      stops.push(() => server.stop());
      temporalAddress = server.address;
      description.temporal = 'Temporal CLI dev server (SQLite file), started by the benchmark';
    }

    const minioEnv: NodeJS.ProcessEnv = {};
    if (env.MINIO_ENDPOINT) description.minio = `given: ${env.MINIO_ENDPOINT}`;
    else {
      const minio = await startMinioServer({
        dataDir: path.join(dataDir, 'minio'),
        port: must(minioPort),
        consolePort: must(consolePort),
        ...MINIO_CREDENTIALS,
      });
      stops.push(() => minio.stop());
      Object.assign(minioEnv, {
        MINIO_ENDPOINT: minio.endpoint,
        MINIO_ACCESS_KEY: MINIO_CREDENTIALS.accessKey,
        MINIO_SECRET_KEY: MINIO_CREDENTIALS.secretKey,
      });
      description.minio = 'MinIO, started by the benchmark';
    }
    const databaseEnv: NodeJS.ProcessEnv = {};
    if (env.DATABASE_URL) description.database = 'given: PostgreSQL (DATABASE_URL)';
    else if (options.database === 'postgres') {
      const postgres = await startThrowawayPostgres({ port: must((await freePorts(1))[0]) });
      stops.push(() => postgres.stop());
      databaseEnv.DATABASE_URL = postgres.url;
      description.database = 'PostgreSQL, started by the benchmark';
    } else description.database = 'embedded PGlite (the product default), in the otaflow process';

    const apiKey = generateApiKey();
    const platformNodeArgs = (env.BENCH_PLATFORM_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    // What every otaflow process of the deployment is configured with.
    const platformEnv: NodeJS.ProcessEnv = {
      ...env,
      ...minioEnv,
      ...databaseEnv,
      OTAFLOW_API_KEY: apiKey,
      // The fleet is registered and watched through one key, far faster than a client should.
      OTAFLOW_API_REQUESTS_PER_MINUTE: '10000000',
      OTAFLOW_API_PORT: String(must(apiPort)),
      OTAFLOW_TLS: options.tls ? 'on' : 'off',
      OTAFLOW_API_TLS_PORT: String(must(apiTlsPort)),
      OTAFLOW_LOG_LEVEL: env.OTAFLOW_LOG_LEVEL ?? 'warn',
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: namespace,
      LWM2M_HOST: '127.0.0.1',
      LWM2M_PORT: String(must(lwm2mPort)),
      // The LwM2M flow's devices register over plain CoAP (provisioned so), as in earlier runs; the
      // CoAP scenario serves the same downloads over both.
      LWM2M_DTLS: 'on',
      LWM2M_DTLS_PORT: String(must(lwm2mDtlsPort)),
    };
    const startPlatformProcess = async (name: string, processEnv: NodeJS.ProcessEnv) => {
      const child = forkTs(
        path.join(__dirname, 'platform-process.ts'),
        ['--expose-gc', ...platformNodeArgs],
        {
          ...platformEnv,
          ...processEnv,
          OTAFLOW_DATA_DIR: path.join(dataDir, name),
        },
      );
      stops.push(() => stopChild(child, 'stop'));
      const ready = await nextMessage<PlatformReady>(child, 'ready', 180_000);
      return { child, ready };
    };

    let mqttBroker: string;
    let allowMqttDevices: BenchStack['allowMqttDevices'] = async () => undefined;
    let platforms: Array<{ child: ChildProcess; ready: PlatformReady }>;
    if (options.deployment === 'single') {
      const single = await startPlatformProcess('otaflow', {
        MQTT_URL: '',
        MQTT_HOST: '127.0.0.1',
        MQTT_PORT: String(must(mqttPort)),
        MQTT_TLS_PORT: String(must(mqttTlsPort)),
      });
      platforms = [single];
      mqttBroker = options.tls && single.ready.mqttTls ? single.ready.mqttTls : single.ready.mqtt;
      description.deployment = 'one otaflow process with every role (npm start)';
      description.mqtt = options.tls
        ? 'embedded aedes broker, devices over MQTT TLS and HTTPS downloads (local CA)'
        : 'embedded aedes broker, devices over plain MQTT and HTTP downloads';
    } else {
      const serviceAccount = { username: 'otaflow-gateway', password: randomBytes(16).toString('hex') };
      const mosquitto = await startMosquitto({ port: must(mqttPort), serviceAccount });
      stops.push(() => mosquitto.stop());
      mqttBroker = mosquitto.url;
      allowMqttDevices = (accounts) => mosquitto.addDeviceAccounts(accounts);
      Object.assign(platformEnv, {
        MQTT_URL: mosquitto.url,
        MQTT_SERVICE_USERNAME: serviceAccount.username,
        MQTT_SERVICE_PASSWORD: serviceAccount.password,
        OTAFLOW_SECRET_KEY: randomBytes(32).toString('hex'),
      });
      const healthPorts = await freePorts(3);
      // The API first: it migrates the database the others find ready.
      const front = await startPlatformProcess('otaflow-api', { OTAFLOW_ROLES: 'api,webhooks' });
      const rest = await Promise.all(
        [
          { name: 'otaflow-workers', OTAFLOW_ROLES: 'upgrade-worker,task-worker' },
          { name: 'otaflow-gateway-1', OTAFLOW_ROLES: 'mqtt-gateway,lwm2m-gateway' },
          { name: 'otaflow-gateway-2', OTAFLOW_ROLES: 'mqtt-gateway' },
        ].map(({ name, ...roles }, index) =>
          startPlatformProcess(name, {
            ...roles,
            OTAFLOW_GATEWAY_ID: name,
            OTAFLOW_HEALTH_PORT: String(must(healthPorts[index])),
          }),
        ),
      );
      platforms = [front, ...rest];
      description.deployment =
        "split by OTAFLOW_ROLES: api+webhooks, one upgrade+task worker, two gateways on the broker's shared subscription (docs/deployment.md)";
      description.mqtt = "Mosquitto with otaflow's plugin, devices over plain MQTT and HTTP downloads";
    }
    const readyOf = (field: 'api' | 'lwm2m') => {
      const found = platforms.find((platform) => platform.ready[field])?.ready;
      if (!found) throw new Error(`no otaflow process of the deployment serves ${field}`);
      return found;
    };
    const front = readyOf('api');
    const gateway = readyOf('lwm2m');
    description.workflow_cache = `${front.workflowCacheSize} workflows (OTAFLOW_WORKFLOW_CACHE_SIZE)`;
    const askAll = async <T>(message: string, type: string) =>
      Promise.all(
        platforms.map(({ child }) => {
          const reply = nextMessage<T>(child, type, 10_000);
          child.send(message);
          return reply;
        }),
      );

    return {
      temporalAddress,
      namespace,
      api: front.api as string,
      apiKey,
      mqtt: mqttBroker,
      deviceCa: options.tls && front.tlsCaFile ? readFileSync(front.tlsCaFile) : undefined,
      lwm2m: gateway.lwm2m as string,
      lwm2mDtls: gateway.lwm2mDtls as string,
      description,
      allowMqttDevices,
      async platformRss() {
        // The deployment's processes together: peaks are summed, so the peak is an upper bound.
        const memories = await askAll<PlatformMemory>('rss', 'rss');
        const sum = (field: keyof PlatformMemory) =>
          memories.reduce((total, memory) => total + memory[field], 0);
        return {
          peakMb: sum('peakMb'),
          currentMb: sum('currentMb'),
          heapUsedMb: sum('heapUsedMb'),
          heapTotalMb: sum('heapTotalMb'),
          externalMb: sum('externalMb'),
          arrayBuffersMb: sum('arrayBuffersMb'),
        };
      },
      resetPlatformRss() {
        for (const { child } of platforms) child.send('reset-rss');
      },
      async startWorkerProcess(file) {
        const worker = forkTs(file, platformNodeArgs, {
          ...env,
          TEMPORAL_ADDRESS: temporalAddress,
          TEMPORAL_NAMESPACE: namespace,
        });
        const stopWorker = () => stopChild(worker, 'stop');
        // Also stopped with the stack, before the servers it uses, when a run is interrupted.
        stops.push(stopWorker);
        await nextMessage(worker, 'ready', 120_000);
        return { stop: stopWorker };
      },
      async temporalRequests() {
        return temporalMetricsUrl === undefined ? null : scrapeTemporalRequests(temporalMetricsUrl);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function forkTs(file: string, nodeOptions: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return fork(file, [], {
    env,
    execArgv: ['--import', 'tsx', ...nodeOptions],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** The child's next IPC message of this type (`ready` may also be sent as a bare string). */
function nextMessage<T>(child: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new Error(`no '${type}' from ${child.spawnargs.at(-1)} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onMessage = (message: unknown) => {
      const messageType = typeof message === 'string' ? message : (message as { type?: string })?.type;
      if (messageType === type) finish(undefined, message as T);
    };
    const onExit = (code: number | null) =>
      finish(new Error(`${child.spawnargs.at(-1)} exited with code ${code}`));
    function finish(error?: Error, value?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(value as T);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

async function stopChild(child: ChildProcess, message: string): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.send(message);
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(killer);
}

function must(port: number | undefined): number {
  if (port === undefined) throw new Error('no free port found');
  return port;
}
