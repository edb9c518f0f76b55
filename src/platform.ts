import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import path from 'node:path';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createDownloadTokens } from '../activities/download-tokens';
import type { MqttCommandActivities } from '../activities/interfaces';
import { createLwm2mCommandActivities } from '../activities/lwm2m-commands';
import { createLwm2mPlatformActivities } from '../activities/lwm2m-platform';
import { createMqttCommandActivities } from '../activities/mqtt-commands';
import { createRegistryActivities } from '../activities/registry';
import { loadBootstrapApiKey } from './api/auth';
import { createApi, defaultApiLimits } from './api/create-api';
import { listenApi } from './api/http-server';
import { type Config, ConfigError } from './config';
import { servicePassword } from './data-dir-secrets';
import type { Database } from './db/database';
import { createDeviceRegistry } from './db/device-registry';
import { findDevice, findPskKeyCiphertext } from './db/devices';
import { createLwm2mGatewayRegistry, findLwm2mGateway } from './db/lwm2m-registrations';
import { openDatabase } from './db/open-database';
import { holdsTheSharedSecretKey } from './db/secret-key-check';
import { findMqttDevicesAwaitingOnline, findUpgradeTraceContext } from './db/tasks';
import { createDatabaseUplinkInbox } from './db/uplink-inbox';
import type { DeviceConnections } from './devices/device-connections';
import { createTemporalDeviceEventSink, createTemporalLwm2mEventSink } from './devices/device-event-sinks';
import { createSecretBox, loadSecretKey, type SecretBox } from './devices/secrets';
import { type HealthServer, startHealthServer } from './health-server';
import { limitHeapGrowth } from './heap-growth';
import { hostOf, withPort } from './host-and-port';
import { type Logger, logger as rootLogger } from './logger';
import { DtlsSessionTable } from './lwm2m/dtls/dtls-session-table';
import { type DtlsTerminator, startDtlsTerminator } from './lwm2m/dtls/dtls-terminator';
import { type Lwm2mGateway, startLwm2mGateway } from './lwm2m/gateway';
import { exportCellPermitGauges } from './metrics/cell-permit-gauges';
import { exportDatabaseGauges } from './metrics/database-gauges';
import { meteredDatabase } from './metrics/database-metrics';
import { createMetrics, type OtaflowMetrics } from './metrics/metrics';
import { type MetricsServer, startMetricsServer } from './metrics/metrics-server';
import { createVersionAnswers, signallingVersionAnswers } from './mqtt/device-answers';
import { createDeviceAuthenticator, type DeviceAuthenticator } from './mqtt/device-auth';
import type { PresenceSource } from './mqtt/embedded-broker';
import { startEmbeddedBroker } from './mqtt/embedded-broker';
import { type MqttGateway, startMqttGateway } from './mqtt/gateway';
import { startMosquittoPresence } from './mqtt/mosquitto-presence';
import { buildVersionQuery } from './mqtt/ota-protocol';
import { createPackageDownloads, type PackageDownloads, publicBaseUrl } from './packages/download';
import { createDownloadRevocations } from './packages/download-revocations';
import { downloadTokenKey } from './packages/download-token';
import { createPackageCatalog, type PackageCatalog } from './packages/package-catalog';
import { loadTrustedSigningKeys } from './packages/package-signing';
import { createPackageStore, type PackageStore } from './packages/package-store';
import { createReadiness, type DependencyCheck, databaseCheck, type Readiness } from './readiness';
import { requireBinary } from './stack/binaries';
import { type MinioServer, startMinioServer } from './stack/minio-server';
import { startTemporalDevServer, type TemporalDevServer } from './stack/temporal-dev-server';
import { deviceStories, temporalUiRunUrl } from './temporal/device-story';
import { installTemporalRuntime } from './temporal/runtime';
import { ensureSearchAttributes } from './temporal/search-attributes';
import { createWorkers } from './temporal/workers';
import { loadPlatformCredentials, type PlatformCredentials } from './tls/platform-credentials';
import { traceContextFrom, type UpgradeTraceLookup } from './tracing/spans';
import { startTracing } from './tracing/tracing';
import { startWebhookDispatcher } from './webhooks/dispatcher';

/** Where each part of a running platform can be reached. */
export interface PlatformAddresses {
  /** `/healthz` and `/readyz` of a process without role `api` (the API answers them otherwise). */
  health?: string;
  /** Prometheus' `/metrics`, when OTAFLOW_METRICS_PORT is set. */
  metrics?: string;
  /** The Temporal SDK's own `/metrics`, when OTAFLOW_TEMPORAL_METRICS_PORT is set. */
  temporalMetrics?: string;
  /** Present where the process runs the role that serves it (`api`, `mqtt-gateway`, `lwm2m-gateway`). */
  api?: string;
  temporal: string;
  temporalUi?: string;
  minio: string;
  minioConsole?: string;
  mqtt?: string;
  /** The embedded broker's MQTT-over-TLS listener. */
  mqttTls?: string;
  /** The API over HTTPS, where devices download packages. */
  apiTls?: string;
  /** The local certificate authority devices verify the server against (none with a configured certificate). */
  tlsCaFile?: string;
  /** LwM2M over plain CoAP; with LWM2M_PLAIN=off, the loopback socket only the DTLS terminator reaches. */
  lwm2m?: string;
  /** LwM2M over DTLS (pre-shared keys). */
  lwm2mDtls?: string;
}

export interface Platform {
  addresses: PlatformAddresses;
  db: Database;
  temporal: Client;
  /** The bootstrap API key (every scope), for the process's own clients (the demo); with role `api`. */
  apiKey?: string;
  /** Where the bootstrap key is kept, when it is not `OTAFLOW_API_KEY`. */
  apiKeyFile?: string;
  stop(): Promise<void>;
}

export interface PlatformOptions {
  /**
   * Where spans end besides the exporters OTEL_* configures (a test's in-memory exporter); given,
   * tracing is on.
   */
  spanProcessors?: SpanProcessor[];
}

/**
 * Starts one otaflow process: every embedded component the configuration leaves unaddressed
 * (Temporal dev server, MinIO, aedes broker, PGlite), then the workers, the MQTT gateway and the API.
 * Stopping runs the same steps backwards; a failure half-way stops what had started.
 */
export async function startPlatform(
  config: Config,
  log: Logger = rootLogger,
  options: PlatformOptions = {},
): Promise<Platform> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const stopPart of stops.reverse()) {
      await stopPart().catch((error: unknown) => log.error({ err: error }, 'stopping a part failed'));
    }
  };
  try {
    limitHeapGrowth(config.OTAFLOW_HEAP_GROWTH_PERCENT);
    const tracing =
      config.tracing || options.spanProcessors
        ? startTracing({
            settings: config.tracing,
            spanProcessors: options.spanProcessors,
            attributes: {
              'service.instance.id': config.OTAFLOW_GATEWAY_ID,
              'otaflow.roles': [...config.roles].join(','),
            },
          })
        : undefined;
    // Stopped last: it exports the spans of everything stopping before it.
    if (tracing) stops.push(() => tracing.stop());
    mkdirSync(config.dataDir, { recursive: true });

    let temporalAddress = config.temporal.address;
    let devServer: TemporalDevServer | undefined;
    if (!temporalAddress) {
      const server = await startTemporalDevServer({
        dataDir: config.dataDir,
        port: config.TEMPORAL_DEV_SERVER_PORT,
        uiPort: config.TEMPORAL_UI_PORT,
        namespace: config.temporal.namespace,
      });
      stops.push(() => server.stop());
      devServer = server;
      temporalAddress = server.address;
    }

    // Unset secrets live in the data dir (loadConfig requires MINIO_SECRET_KEY with MINIO_ENDPOINT).
    const minioSecretKey = await servicePassword(config.MINIO_SECRET_KEY, config.dataDir, 'minio-secret-key');
    const mqttServicePassword = await servicePassword(
      config.MQTT_SERVICE_PASSWORD,
      config.dataDir,
      'mqtt-service-password',
    );
    for (const generated of [minioSecretKey, mqttServicePassword].filter((secret) => secret.generated)) {
      log.info({ file: generated.file }, 'generated a service password into its file');
    }

    let minioEndpoint = config.MINIO_ENDPOINT;
    let minio: MinioServer | undefined;
    if (!minioEndpoint) {
      const server = await startMinioServer({
        dataDir: config.dataDir,
        port: config.MINIO_PORT,
        consolePort: config.MINIO_CONSOLE_PORT,
        accessKey: config.MINIO_ACCESS_KEY,
        secretKey: minioSecretKey.value,
      });
      stops.push(() => server.stop());
      minio = server;
      minioEndpoint = server.endpoint;
    }

    const metrics = createMetrics();
    const db = meteredDatabase(
      await openDatabase({ url: config.DATABASE_URL, dataDir: config.dataDir }),
      metrics,
    );
    stops.push(() => db.close());
    const secretKey = await loadSecretKey({
      configuredKey: config.OTAFLOW_SECRET_KEY,
      dataDir: config.dataDir,
    });
    const secrets = createSecretBox(secretKey);
    if (!(await holdsTheSharedSecretKey(db, secrets))) {
      const source = config.OTAFLOW_SECRET_KEY
        ? 'OTAFLOW_SECRET_KEY'
        : path.join(config.dataDir, 'secret.key');
      throw new ConfigError(
        `${source} is not the key this database's secrets are sealed with: every otaflow process sharing a database needs the same OTAFLOW_SECRET_KEY (it seals device and webhook secrets and signs download tokens)`,
      );
    }
    const registry = createDeviceRegistry(db, secrets);
    const upgradeTrace: UpgradeTraceLookup | undefined =
      tracing &&
      (async (deviceId) => {
        const carrier = await findUpgradeTraceContext(db, deviceId);
        return carrier && traceContextFrom(carrier);
      });
    // What `/readyz` asks, as each part this process depends on is started.
    const dependencies: DependencyCheck[] = [databaseCheck(db)];
    const readiness = createReadiness(dependencies);

    const packageStore = createPackageStore({
      endpoint: minioEndpoint,
      accessKey: config.MINIO_ACCESS_KEY,
      secretKey: minioSecretKey.value,
      bucket: config.MINIO_BUCKET,
    });
    await packageStore.ensureBucket();
    const packages = createPackageCatalog(db);
    const downloads = createPackageDownloads({
      packages,
      store: packageStore,
      revocations: createDownloadRevocations(db),
      tokenKey: downloadTokenKey(secretKey),
      publicBaseUrl: publicBaseUrl(config),
    });

    const { roles } = config;
    if (roles.has('api') || roles.has('lwm2m-gateway')) {
      // The roles that serve packages to devices.
      dependencies.push({ name: 'package-store', probe: () => packageStore.checkReachable() });
    }
    // What serves TLS: the API (HTTPS downloads) and the embedded broker; an external broker has its own.
    const servesTls = roles.has('api') || (roles.has('mqtt-gateway') && !config.MQTT_URL);
    const tls =
      config.OTAFLOW_TLS === 'on' && servesTls ? await loadPlatformCredentials(config, log) : undefined;
    if (tls) stops.push(async () => tls.credentials.stop());

    const serviceAccount = { username: config.MQTT_SERVICE_USERNAME, password: mqttServicePassword.value };
    const authenticateMqtt = createDeviceAuthenticator({ registry, serviceAccount });
    let mqttUrl = config.MQTT_URL;
    const sharedGroup =
      config.MQTT_URL && config.MQTT_SHARED_SUBSCRIPTION_GROUP !== 'off'
        ? config.MQTT_SHARED_SUBSCRIPTION_GROUP
        : undefined;
    let mqttTlsUrl: string | undefined;
    let presence: PresenceSource | undefined;
    let deviceConnections: DeviceConnections | undefined;
    if (!mqttUrl && roles.has('mqtt-gateway')) {
      // Only a process running every role gets here (config.ts): the broker is part of it.
      const plainOff = config.MQTT_PLAIN === 'off';
      const broker = await startEmbeddedBroker({
        // Switched off, the plain listener is only the in-process gateway's way in.
        host: plainOff ? '127.0.0.1' : config.MQTT_HOST,
        port: plainOff ? 0 : config.MQTT_PORT,
        tls: tls && { host: config.MQTT_HOST, port: config.MQTT_TLS_PORT, credentials: tls.credentials },
        authenticate: authenticateMqtt,
        log: log.child({ component: 'mqtt-broker' }),
      });
      stops.push(() => broker.stop());
      mqttUrl = broker.url;
      mqttTlsUrl = broker.tlsUrl;
      presence = broker;
      deviceConnections = broker;
    } else if (mqttUrl && roles.has('mqtt-gateway')) {
      const mosquittoPresence = await startMosquittoPresence({
        brokerUrl: mqttUrl,
        ...serviceAccount,
        clientId: `${serviceAccount.username}-${config.OTAFLOW_GATEWAY_ID}-presence`,
        sharedGroup,
        log: log.child({ component: 'mosquitto-presence' }),
      });
      stops.push(() => mosquittoPresence.stop());
      presence = mosquittoPresence;
    }

    const connection = await Connection.connect({
      ...config.temporal.connection,
      address: temporalAddress,
    }).catch((error: unknown) => {
      throw new Error(
        `cannot reach Temporal at ${describeTemporal(config, temporalAddress)}: ${(error as Error).message}`,
      );
    });
    stops.push(() => connection.close());
    dependencies.push({
      name: 'temporal',
      probe: async (deadline) => {
        await connection.withDeadline(deadline, () => connection.workflowService.getSystemInfo({}));
      },
    });
    const temporal = new Client({
      connection,
      namespace: config.temporal.namespace,
      // The workflows a request or a gateway starts or signals are in its trace.
      interceptors: tracing && { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
    });
    const addedSearchAttributes = await ensureSearchAttributes(connection, config.temporal.namespace);
    if (addedSearchAttributes.length > 0) {
      log.info(
        { searchAttributes: addedSearchAttributes },
        "added otaflow's search attributes to the Temporal namespace",
      );
    }

    let mqttGatewayActivities: MqttCommandActivities | undefined;
    if (mqttUrl && presence) {
      const versionAnswers = createVersionAnswers();
      const gateway: MqttGateway = await startMqttGateway({
        brokerUrl: mqttUrl,
        clientId: `${serviceAccount.username}-${config.OTAFLOW_GATEWAY_ID}`,
        username: serviceAccount.username,
        password: serviceAccount.password,
        registry,
        inbox: createDatabaseUplinkInbox(db, config.OTAFLOW_GATEWAY_ID),
        sink: signallingVersionAnswers(
          createTemporalDeviceEventSink(temporal, log.child({ component: 'device-events' })),
          versionAnswers,
        ),
        presence,
        sharedGroup,
        log: log.child({ component: 'mqtt-gateway' }),
        metrics,
        upgradeTrace,
      });
      stops.push(() => gateway.stop());
      const brokerUrl = mqttUrl;
      dependencies.push({
        name: 'mqtt-broker',
        probe: async () => {
          if (!gateway.connected()) throw new Error(`not connected to ${brokerUrl}`);
        },
      });
      // Mosquitto reports no connects that happened while no gateway watched: ask the devices that are
      // awaited, and the ones that are connected announce themselves by answering.
      for (const deviceId of await findMqttDevicesAwaitingOnline(db)) {
        await gateway.publishDownlink(deviceId, buildVersionQuery(deviceId));
      }
      mqttGatewayActivities = createMqttCommandActivities({
        gateway,
        registry,
        platform: { ...createRegistryActivities({ db, metrics }), ...createDownloadTokens({ downloads }) },
        versionAnswers,
        log: log.child({ component: 'device-commands' }),
      });
    }

    const temporalMetricsAddress =
      config.OTAFLOW_TEMPORAL_METRICS_PORT === undefined
        ? undefined
        : withPort(config.OTAFLOW_API_HOST, config.OTAFLOW_TEMPORAL_METRICS_PORT);
    installTemporalRuntime({ metricsAddress: temporalMetricsAddress });
    const lwm2m = roles.has('lwm2m-gateway')
      ? await startLwm2mRole({
          config,
          db,
          secrets,
          temporal,
          packageStore,
          packages,
          metrics,
          upgradeTrace,
          log,
          stops,
        })
      : undefined;

    if (roles.has('upgrade-worker') || roles.has('task-worker') || mqttGatewayActivities || lwm2m) {
      const workerConnection = await NativeConnection.connect({
        ...config.temporal.connection,
        address: temporalAddress,
      });
      stops.push(() => workerConnection.close());
      const workers = await createWorkers({
        connection: workerConnection,
        namespace: config.temporal.namespace,
        upgrades: roles.has('upgrade-worker')
          ? {
              workflowCacheSize: config.OTAFLOW_WORKFLOW_CACHE_SIZE,
              activities: {
                ...createActivities({ db, downloads, temporal, metrics }),
                ...createLwm2mPlatformActivities({
                  client: temporal,
                  gatewayOf: (deviceId) => findLwm2mGateway(db, deviceId),
                }),
              },
            }
          : undefined,
        tasks: roles.has('task-worker'),
        mqttGateway: mqttGatewayActivities && { activities: mqttGatewayActivities },
        lwm2mGateway: lwm2m && {
          gatewayId: lwm2m.gateway.gatewayId,
          activities: createLwm2mCommandActivities({
            gateway: lwm2m.gateway,
            steps: createRegistryActivities({ db, metrics }),
            log: log.child({ component: 'device-commands' }),
          }),
        },
        tracing,
      });
      const running = workers.map((worker) => worker.run());
      stops.push(() => shutDownWorkers(workers, running));
    }

    if (roles.has('webhooks')) {
      const dispatcher = startWebhookDispatcher({
        db,
        secrets,
        allowedNetworks: config.OTAFLOW_WEBHOOK_ALLOWED_NETWORKS,
        metrics,
        logger: log.child({ component: 'webhooks' }),
      });
      stops.push(() => dispatcher.stop());
    }

    const api = roles.has('api')
      ? await startApiRole({
          config,
          db,
          secrets,
          temporal,
          packageStore,
          downloads,
          tls,
          deviceConnections: withDtlsSessions(deviceConnections, lwm2m?.dtls, db, log),
          brokerAuth: { authenticate: authenticateMqtt, serviceUsername: serviceAccount.username },
          readiness,
          metrics,
          temporalUiUrl: config.TEMPORAL_UI_URL ?? devServer?.uiUrl,
          log,
          stops,
        })
      : undefined;
    if (api) {
      exportDatabaseGauges(metrics, db);
      exportCellPermitGauges(metrics, temporal, config.OTAFLOW_METRICS_CELLS);
    }

    let health: HealthServer | undefined;
    if (!api) {
      const server = await startHealthServer({
        host: config.OTAFLOW_API_HOST,
        port: config.OTAFLOW_HEALTH_PORT,
        roles,
        readiness,
      });
      stops.push(() => server.stop());
      health = server;
    }

    let metricsServer: MetricsServer | undefined;
    if (config.OTAFLOW_METRICS_PORT !== undefined) {
      const server = await startMetricsServer(
        config.OTAFLOW_API_HOST,
        config.OTAFLOW_METRICS_PORT,
        metrics.registry,
      );
      stops.push(() => server.stop());
      metricsServer = server;
    }

    return {
      addresses: {
        api: api?.url,
        health: health?.url,
        metrics: metricsServer && `${metricsServer.url}/metrics`,
        temporalMetrics: temporalMetricsAddress && `http://${temporalMetricsAddress}/metrics`,
        temporal: temporalAddress,
        temporalUi: devServer?.uiUrl,
        minio: minioEndpoint,
        minioConsole: minio?.consoleUrl,
        mqtt: mqttUrl,
        mqttTls: mqttTlsUrl,
        apiTls: api?.tlsUrl,
        tlsCaFile: tls?.caFile,
        lwm2m: lwm2m && `coap://${withPort(lwm2m.gateway.address, lwm2m.gateway.port)}`,
        lwm2mDtls: lwm2m?.dtls && `coaps://${withPort(lwm2m.dtls.address, lwm2m.dtls.port)}`,
      },
      db,
      temporal,
      apiKey: api?.key,
      apiKeyFile: api?.keyFile,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface RoleDeps {
  config: Config;
  db: Database;
  secrets: SecretBox;
  temporal: Client;
  packageStore: PackageStore;
  log: Logger;
  /** Where the role adds how to stop what it started. */
  stops: Array<() => Promise<void>>;
}

/** Role `lwm2m-gateway`: its CoAP socket (taking up the registrations it held), its DTLS terminator. */
async function startLwm2mRole({
  config,
  db,
  secrets,
  temporal,
  packageStore,
  packages,
  metrics,
  upgradeTrace,
  log,
  stops,
}: RoleDeps & {
  packages: PackageCatalog;
  metrics: OtaflowMetrics;
  upgradeTrace?: UpgradeTraceLookup;
}): Promise<{
  gateway: Lwm2mGateway;
  dtls?: DtlsTerminator;
}> {
  const dtlsSessions = config.LWM2M_DTLS === 'on' ? new DtlsSessionTable() : undefined;
  const plainCoap = config.LWM2M_PLAIN === 'on';
  let dtlsPublicHost = config.LWM2M_DTLS_PUBLIC_HOST ?? '';
  const gateway = await startLwm2mGateway({
    host: plainCoap ? config.LWM2M_HOST : '127.0.0.1',
    port: plainCoap ? config.LWM2M_PORT : 0,
    plainCoap,
    dtls: dtlsSessions && { sessions: dtlsSessions, publicHost: () => dtlsPublicHost },
    gatewayId: config.OTAFLOW_GATEWAY_ID,
    publicHost: config.LWM2M_PUBLIC_HOST,
    queueModeAwakeMs: config.LWM2M_QUEUE_MODE_AWAKE_S * 1000,
    registry: createLwm2mGatewayRegistry(db),
    sink: createTemporalLwm2mEventSink(temporal, log.child({ component: 'lwm2m-events' })),
    packages: {
      store: packageStore,
      cacheBytes: config.LWM2M_PACKAGE_CACHE_MB * 1024 * 1024,
      lookup: packages.find,
    },
    log: log.child({ component: 'lwm2m-gateway' }),
    metrics,
    upgradeTrace,
  });
  stops.push(() => gateway.stop());
  if (!dtlsSessions) return { gateway };
  const dtls = await startDtlsTerminator({
    binary: requireBinary('dtls-terminator', 'LwM2M over DTLS (LWM2M_DTLS=off turns it off)'),
    host: config.LWM2M_HOST,
    port: config.LWM2M_DTLS_PORT,
    gateway: { address: loopbackFor(gateway.address), port: gateway.port },
    sessions: dtlsSessions,
    lookupKey: async (identity) => {
      const sealed = await findPskKeyCiphertext(db, identity);
      return sealed === undefined ? undefined : Buffer.from(secrets.decrypt(sealed), 'hex');
    },
    log: log.child({ component: 'lwm2m-dtls' }),
  });
  // The terminator stops first: no session forwards into a gateway that is going away.
  stops.push(() => dtls.stop());
  dtlsPublicHost ||= withPort(
    config.LWM2M_PUBLIC_HOST ? hostOf(config.LWM2M_PUBLIC_HOST) : dtls.address,
    dtls.port,
  );
  return { gateway, dtls };
}

/** Role `api`: the REST API (and package downloads) over HTTP, and over HTTPS with TLS on. */
async function startApiRole({
  config,
  db,
  secrets,
  temporal,
  packageStore,
  downloads,
  tls,
  deviceConnections,
  brokerAuth,
  readiness,
  metrics,
  temporalUiUrl,
  log,
  stops,
}: RoleDeps & {
  readiness: () => Promise<Readiness>;
  metrics: OtaflowMetrics;
  downloads: PackageDownloads;
  /** The Temporal UI's address, for links to a device's runs. */
  temporalUiUrl: string | undefined;
  tls: PlatformCredentials | undefined;
  deviceConnections: DeviceConnections | undefined;
  brokerAuth: { authenticate: DeviceAuthenticator; serviceUsername: string };
}): Promise<{ url: string; tlsUrl?: string; key: string; keyFile?: string }> {
  const apiKey = await loadBootstrapApiKey({
    configuredKey: config.OTAFLOW_API_KEY,
    dataDir: config.dataDir,
  });
  if (apiKey.file) {
    log.info(
      { file: apiKey.file },
      apiKey.generated
        ? 'generated the bootstrap API key into its file'
        : 'bootstrap API key read from its file',
    );
  }
  const apiLimits = {
    ...defaultApiLimits,
    requestsPerKeyPerMinute: config.OTAFLOW_API_REQUESTS_PER_MINUTE,
  };
  const trustedKeys = config.OTAFLOW_PACKAGE_SIGNING_KEYS_DIR
    ? await loadTrustedSigningKeys(config.OTAFLOW_PACKAGE_SIGNING_KEYS_DIR)
    : [];
  const app = createApi({
    limits: apiLimits,
    deviceConnections,
    packageSigning: {
      trustedKeys,
      unsignedAllowed:
        (config.OTAFLOW_UNSIGNED_PACKAGES ?? (trustedKeys.length > 0 ? 'refused' : 'allowed')) === 'allowed',
    },
    db,
    packageStore,
    downloads,
    temporal,
    deviceStories: deviceStories(temporal),
    temporalRunUrl: temporalUiUrl ? temporalUiRunUrl(temporalUiUrl, config.temporal.namespace) : undefined,
    secrets,
    config,
    logger: log.child({ component: 'api' }),
    readiness,
    metrics,
    apiKey: apiKey.key,
    brokerAuth: config.MQTT_AUTH_HTTP_TOKEN
      ? { token: config.MQTT_AUTH_HTTP_TOKEN, ...brokerAuth }
      : undefined,
  });
  const server = await listenApi(
    app,
    config.OTAFLOW_API_HOST,
    config.OTAFLOW_API_PORT,
    apiLimits.maxPackageBytes,
  );
  stops.push(() => closeServer(server));
  const url = `http://${config.OTAFLOW_API_HOST}:${(server.address() as { port: number }).port}`;
  if (!tls) return { url, key: apiKey.key, keyFile: apiKey.file };
  const tlsServer = await listenApi(
    app,
    config.OTAFLOW_API_HOST,
    config.OTAFLOW_API_TLS_PORT,
    apiLimits.maxPackageBytes,
    tls.credentials,
  );
  stops.push(() => closeServer(tlsServer));
  return {
    url,
    tlsUrl: `https://${config.OTAFLOW_API_HOST}:${(tlsServer.address() as { port: number }).port}`,
    key: apiKey.key,
    keyFile: apiKey.file,
  };
}

async function shutDownWorkers(workers: Worker[], running: Promise<void>[]): Promise<void> {
  for (const worker of workers) {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  }
  await Promise.allSettled(running);
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Where otaflow looked for Temporal, and how, for an operator reading why it did not get there. */
function describeTemporal(config: Config, address: string): string {
  const { tls, apiKey } = config.temporal.connection;
  const settings = typeof tls === 'object' && tls !== null ? tls : {};
  const how = [
    tls ? 'TLS' : 'no TLS',
    settings.clientCertPair ? 'a client certificate' : undefined,
    settings.serverNameOverride ? `server name ${settings.serverNameOverride}` : undefined,
    apiKey ? 'an API key' : undefined,
  ].filter(Boolean);
  return `${address} (namespace ${config.temporal.namespace}; ${how.join(', ')})`;
}

/** Where this host reaches a socket bound to a wildcard address. */
function loopbackFor(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '::1';
  return address;
}

/**
 * A device disabled, or whose credentials changed, loses its DTLS session too (it must handshake
 * again, and a disabled device's key is refused), beside its MQTT connections.
 */
function withDtlsSessions(
  mqtt: DeviceConnections | undefined,
  dtls: DtlsTerminator | undefined,
  db: Database,
  log: Logger,
): DeviceConnections | undefined {
  if (!dtls) return mqtt;
  return {
    async disconnect(deviceId) {
      await mqtt?.disconnect(deviceId);
      try {
        const device = await findDevice(db, deviceId);
        if (device?.pskIdentity) dtls.closeIdentity(device.pskIdentity);
      } catch (error) {
        log.error({ err: error, deviceId }, 'could not end the DTLS session of a device');
      }
    },
  };
}
