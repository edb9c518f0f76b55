import os from 'node:os';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { Lwm2mPath, type RadioResources } from '../workflows/lwm2m/definitions';
import {
  type CoverageRanges,
  checkCoverageRanges,
  defaultCoverageRanges,
} from '../workflows/lwm2m/radio-coverage';
import {
  loadTemporalConnectionSettings,
  type TemporalConnectionSettings,
} from './temporal/connection-settings';
import { loadTracingSettings, type TracingSettings } from './tracing/tracing-settings';

/**
 * otaflow's configuration, read from the environment once at startup. A bad value stops the process
 * with a message naming the variable; nothing starts half-configured.
 *
 * An address left empty means "otaflow starts the embedded component itself" (Temporal dev server,
 * MinIO, the aedes MQTT broker, PGlite); set it to use an existing one.
 */
const port = z.coerce.number().int().min(0).max(65535);
/** Unset and empty both mean "not configured". */
const blankAsUnset = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;
const optionalUrl = z.preprocess(blankAsUnset, z.string().trim().url().optional());
const optionalAddress = z.preprocess(blankAsUnset, z.string().trim().min(1).optional());

const resourcePath = z.string().regex(/^\/\d+\/\d+\/\d+$/, 'an LwM2M resource path such as /4/0/2');
/** An integer setting within [min, max]; blank means its default; `range` names what is wanted. */
const integerSetting = (range: string, min: number, max: number, defaultValue: number) =>
  z.preprocess(
    blankAsUnset,
    z.coerce.number({ error: range }).int(range).min(min, range).max(max, range).default(defaultValue),
  );
/** A comma-separated list's entries, trimmed, blank ones dropped; anything but a string as it is. */
const splitCommas = (value: unknown) =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
    : value;
/** A comma-separated list of entries, each checked by `entry`; unset: none. */
const commaSeparated = (entry: z.ZodType<string>) => z.preprocess(splitCommas, z.array(entry).default([]));
const numberList = z
  .string()
  .regex(/^\s*-?\d+(\.\d+)?(\s*,\s*-?\d+(\.\d+)?)*\s*$/, 'comma-separated numbers')
  .transform((list) => list.split(',').map(Number));

/**
 * Upgrades wait hours between their steps: cached, each holds memory whether or not it runs again
 * soon; evicted, it replays its short history when its device answers. 500 runs as fast as the SDK's
 * larger default for far less memory (BENCHMARKS.md).
 */
const WORKFLOW_CACHE_SIZE_DEFAULT = 500;
const cacheSizeRange = 'an integer from 2 to 100000';

/**
 * V8's own choice lets each heap grow to 3–4× what its last full collection kept, most of it garbage
 * with thousands of upgrades in flight; 50 % bounds the peak at no cost in speed (BENCHMARKS.md,
 * "Where the in-flight peak came from").
 */
const HEAP_GROWTH_PERCENT_DEFAULT = 50;
const heapGrowthRange = 'an integer percent from 0 to 300';

/** Package bytes the LwM2M gateway keeps for block-wise delivery: a few packages' worth. */
const PACKAGE_CACHE_MB_DEFAULT = 32;
const packageCacheRange = 'an integer number of MiB from 1 to 4096';

/** LwM2M's recommendation: a queue-mode client stays reachable for CoAP's MAX_TRANSMIT_WAIT, 93 s. */
const QUEUE_MODE_AWAKE_S_DEFAULT = 93;
const queueModeAwakeRange = 'an integer number of seconds from 1 to 86400';

/** What one otaflow process can run (docs/deployment.md); `all`, the default, is every one of them. */
export const roles = [
  'api',
  'upgrade-worker',
  'task-worker',
  'mqtt-gateway',
  'lwm2m-gateway',
  'webhooks',
] as const;
export type Role = (typeof roles)[number];
const roleList = `all, or a comma-separated list of ${roles.join(', ')}`;

const ConfigSchema = z.object({
  /** The parts of otaflow this process runs; the others run in other processes sharing its stack. */
  OTAFLOW_ROLES: z.preprocess(
    (value) => splitCommas(blankAsUnset(value)),
    z
      .array(
        z.enum(['all', ...roles], {
          error: (issue) => `"${String(issue.input)}" is not a role: ${roleList}`,
        }),
      )
      .min(1, roleList)
      .default(['all']),
  ),
  OTAFLOW_DATA_DIR: z.string().min(1).default('.otaflow/data'),
  OTAFLOW_API_HOST: z.string().min(1).default('127.0.0.1'),
  OTAFLOW_API_PORT: port.default(8080),
  /** Where a process without role `api` answers `/healthz` and `/readyz` (on OTAFLOW_API_HOST). */
  OTAFLOW_HEALTH_PORT: port.default(8081),
  /**
   * Where the process serves Prometheus' `/metrics` (on OTAFLOW_API_HOST); unset: nowhere. Never the
   * API's port, which devices reach (docs/observability.md).
   */
  OTAFLOW_METRICS_PORT: z.preprocess(blankAsUnset, port.optional()),
  /**
   * NB-IoT cells whose permits held and queued `/metrics` shows (`otaflow_cell_permits`), comma-separated;
   * none by default: each cell is series of its own.
   */
  OTAFLOW_METRICS_CELLS: z.preprocess(
    (value) => splitCommas(blankAsUnset(value)),
    z
      .array(z.string().max(128, 'a cell ID of at most 128 characters'))
      .max(100, 'at most 100 cells')
      .default([]),
  ),
  /** Where the Temporal SDK serves its worker metrics to Prometheus (on OTAFLOW_API_HOST); unset: nowhere. */
  OTAFLOW_TEMPORAL_METRICS_PORT: z.preprocess(blankAsUnset, port.optional()),
  /** Base URL devices use to reach the API's package download endpoint. */
  OTAFLOW_PUBLIC_URL: optionalUrl,
  /** 32 bytes, hex or base64: encrypts device secrets at rest. Generated into the data dir if unset. */
  OTAFLOW_SECRET_KEY: optionalAddress,
  /**
   * The bootstrap API key (every scope). Unset: generated on first start into `<data dir>/api-key`.
   * Printable ASCII without spaces, so it fits an `Authorization: Bearer` header as is.
   */
  OTAFLOW_API_KEY: z.preprocess(
    blankAsUnset,
    z
      .string()
      .regex(/^[\x21-\x7e]{32,256}$/, '32 to 256 printable characters, no spaces')
      .optional(),
  ),
  /**
   * Unique per otaflow process, stable across its restarts: names its LwM2M gateway's task queue
   * (only that gateway can reach its devices) and its MQTT gateway's broker session. The host name by
   * default, so that replicas on different hosts (containers, pods) never share one.
   */
  OTAFLOW_GATEWAY_ID: z.preprocess(
    blankAsUnset,
    z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only, 1 to 64 characters')
      .default(gatewayIdOfHost(os.hostname())),
  ),

  /**
   * Webhook receivers otaflow may deliver to although their address is loopback, private or
   * link-local: comma-separated addresses or CIDR ranges (e.g. `10.20.0.0/16`). Empty: public only.
   */
  OTAFLOW_WEBHOOK_ALLOWED_NETWORKS: commaSeparated(
    z.string().refine((entry) => ipaddr.isValid(entry) || ipaddr.isValidCIDR(entry), {
      error: (issue) => `"${issue.input}" is neither an IP address nor a CIDR range`,
    }),
  ),

  /**
   * `on` (the default): MQTT over TLS, HTTPS downloads, on the certificate below or, without one, on
   * a local certificate authority otaflow creates in `<data dir>/tls` (docs/security.md, "Transports").
   */
  OTAFLOW_TLS: z.preprocess(blankAsUnset, z.enum(['on', 'off']).default('on')),
  /** The server certificate (PEM, chain after it) and its key; both or neither. Reloaded on change. */
  OTAFLOW_TLS_CERT_FILE: optionalAddress,
  OTAFLOW_TLS_KEY_FILE: optionalAddress,
  /**
   * Names and addresses the local certificate is issued for besides localhost, this host's name and
   * the public addresses configured below: comma-separated (e.g. `ota.example.com,10.0.0.5`).
   */
  OTAFLOW_TLS_HOSTNAMES: commaSeparated(
    z.string().regex(/^(\*\.)?[A-Za-z0-9.:-]{1,253}$/, 'host names or IP addresses, comma-separated'),
  ),
  /** The API's HTTPS listener, which serves package downloads to devices when TLS is on. */
  OTAFLOW_API_TLS_PORT: port.default(8443),

  /** Requests one API key may make per minute (per otaflow process); over it, 429. */
  OTAFLOW_API_REQUESTS_PER_MINUTE: integerSetting('an integer from 1 to 10000000', 1, 10_000_000, 6_000),

  /**
   * A directory of PEM public keys (Ed25519 or ECDSA P-256, one per file, named for its signer) whose
   * signatures make a package upload trusted. Unset: no signature can be checked.
   */
  OTAFLOW_PACKAGE_SIGNING_KEYS_DIR: optionalAddress,
  /** `refused` (the default once signing keys are set) or `allowed` (the default without them). */
  OTAFLOW_UNSIGNED_PACKAGES: z.preprocess(blankAsUnset, z.enum(['allowed', 'refused']).optional()),

  /**
   * Workflows the platform worker keeps in memory between their workflow tasks (the SDK's
   * `maxCachedWorkflows`). One that is not cached replays its history at its next task; upgrades wait
   * hours for their device, so keeping the waiting ones costs memory and saves little. 2 is the SDK's
   * least non-zero size.
   */
  OTAFLOW_WORKFLOW_CACHE_SIZE: integerSetting(cacheSizeRange, 2, 100_000, WORKFLOW_CACHE_SIZE_DEFAULT),
  /**
   * How far each V8 heap of the process (the main thread's, each workflow thread's) may grow past
   * what its last full garbage collection kept before it collects again (V8's `--heap-growing-percent`).
   * 0 leaves it to V8, which goes up to 300 % when collecting is cheap.
   */
  OTAFLOW_HEAP_GROWTH_PERCENT: integerSetting(heapGrowthRange, 0, 300, HEAP_GROWTH_PERCENT_DEFAULT),
  TEMPORAL_DEV_SERVER_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  /** The Temporal UI of the cluster otaflow uses, for links to a device's runs; the dev server's by default. */
  TEMPORAL_UI_URL: optionalUrl,

  DATABASE_URL: optionalUrl,

  MINIO_ENDPOINT: optionalUrl,
  MINIO_ACCESS_KEY: z.string().min(3).default('otaflow'),
  /** Required with MINIO_ENDPOINT; for the embedded MinIO, generated into `<data dir>/minio-secret-key`. */
  MINIO_SECRET_KEY: z.preprocess(blankAsUnset, z.string().min(8).optional()),
  MINIO_BUCKET: z.string().min(3).default('otaflow-packages'),
  MINIO_PORT: port.default(9000),
  MINIO_CONSOLE_PORT: port.default(9001),

  /** External MQTT broker (e.g. mqtt://mosquitto:1883). Empty: the embedded aedes broker. */
  MQTT_URL: optionalUrl,
  MQTT_PORT: port.default(1883),
  MQTT_HOST: z.string().min(1).default('0.0.0.0'),
  /** The embedded broker's MQTT-over-TLS listener (on MQTT_HOST), when OTAFLOW_TLS is on. */
  MQTT_TLS_PORT: port.default(8883),
  /**
   * `off`: the embedded broker's plain listener serves only otaflow's own gateway, on a loopback
   * port of its choosing; devices connect over TLS. Needs OTAFLOW_TLS on.
   */
  MQTT_PLAIN: z.preprocess(blankAsUnset, z.enum(['on', 'off']).default('on')),
  /**
   * The gateway's own broker account (service user); devices never get it. Unset password: generated
   * into `<data dir>/mqtt-service-password`.
   */
  MQTT_SERVICE_USERNAME: z.string().min(1).default('otaflow-gateway'),
  /**
   * With an external broker (MQTT_URL), MQTT gateways take uplinks and presence through shared
   * subscriptions of this group (`$share/{group}/…`): each reaches one gateway however many run. On
   * Mosquitto, otaflow's plugin moves them to topics shared subscriptions carry (docs/deployment.md).
   * `off`: every gateway takes every uplink (a broker without shared subscriptions; one gateway only).
   */
  MQTT_SHARED_SUBSCRIPTION_GROUP: z.preprocess(
    blankAsUnset,
    z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'off, or letters, digits, _ . - only, 1 to 64 characters')
      .default('otaflow-gateways'),
  ),
  MQTT_SERVICE_PASSWORD: z.preprocess(blankAsUnset, z.string().min(8).optional()),
  /**
   * Shared secret of Mosquitto's auth plugin (mosquitto-go-auth, HTTP backend): set, the API serves
   * device login and topic checks under /internal/mqtt-auth/{token}/ (a path segment, hence the
   * characters); unset, it does not.
   */
  MQTT_AUTH_HTTP_TOKEN: z.preprocess(
    blankAsUnset,
    z
      .string()
      .regex(/^[A-Za-z0-9._~-]{16,}$/, 'at least 16 characters, letters, digits and . _ ~ - only')
      .optional(),
  ),

  /** The LwM2M gateway's CoAP/UDP listener. */
  LWM2M_HOST: z.string().min(1).default('0.0.0.0'),
  LWM2M_PORT: port.default(5683),
  /** host[:port] devices reach the gateway at (package URIs carry it); default: the listener's address. */
  LWM2M_PUBLIC_HOST: optionalAddress,
  /**
   * LwM2M over DTLS 1.2 with pre-shared keys (components/dtls-terminator/) on LWM2M_HOST. On by
   * default; LwM2M devices created without `lwm2mSecurity` then get a key.
   */
  LWM2M_DTLS: z.preprocess(blankAsUnset, z.enum(['on', 'off']).default('on')),
  LWM2M_DTLS_PORT: port.default(5684),
  /** host[:port] devices reach the DTLS listener at (coaps:// package URIs); default: LWM2M_PUBLIC_HOST's host. */
  LWM2M_DTLS_PUBLIC_HOST: optionalAddress,
  /**
   * `off`: nothing but DTLS sessions is served; the CoAP socket moves to a loopback port of the
   * gateway's choosing, where only the DTLS terminator reaches it. Needs LWM2M_DTLS on.
   */
  LWM2M_PLAIN: z.preprocess(blankAsUnset, z.enum(['on', 'off']).default('on')),
  /** Where devices report radio coverage (LwM2M object 4 by default). */
  LWM2M_CELL_ID_PATH: resourcePath.default(Lwm2mPath.cellId),
  LWM2M_RSRP_PATH: resourcePath.default(Lwm2mPath.radioSignalStrength),
  LWM2M_SINR_PATH: resourcePath.default(Lwm2mPath.signalSnr),
  /** Package bytes the gateway keeps in memory for block-wise delivery (src/lwm2m/package-chunks.ts). */
  LWM2M_PACKAGE_CACHE_MB: integerSetting(packageCacheRange, 1, 4096, PACKAGE_CACHE_MB_DEFAULT),
  /** How long a queue-mode device listens after each of its uplinks; commands wait for the next one after it. */
  LWM2M_QUEUE_MODE_AWAKE_S: integerSetting(queueModeAwakeRange, 1, 86_400, QUEUE_MODE_AWAKE_S_DEFAULT),
  /**
   * The seed's RSRP and SINR ranges as lower bounds, best range first (dBm: range 0, 1; dB: range
   * 0, 1, 2). Defaults follow NB-IoT coverage levels CE0/CE1/CE2: see docs/cell-limiter.md.
   */
  NBIOT_RSRP_RANGES_DBM: numberList.default([...defaultCoverageRanges.rsrpDbm]),
  NBIOT_SINR_RANGES_DB: numberList.default([...defaultCoverageRanges.sinrDb]),
});

export type RawConfig = z.infer<typeof ConfigSchema>;

export interface Config extends RawConfig {
  /** TEMPORAL_* as the Temporal SDKs read them (src/temporal/connection-settings.ts). */
  temporal: TemporalConnectionSettings;
  /** OTAFLOW_ROLES, `all` spelled out. */
  roles: ReadonlySet<Role>;
  dataDir: string;
  coverageRanges: CoverageRanges;
  radioResources: RadioResources;
  /** OTEL_*: undefined when tracing is off (src/tracing/tracing-settings.ts). */
  tracing?: TracingSettings;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const raw = parsed.data;
  const [rsrp0, rsrp1, ...extraRsrp] = raw.NBIOT_RSRP_RANGES_DBM;
  const [sinr0, sinr1, sinr2, ...extraSinr] = raw.NBIOT_SINR_RANGES_DB;
  if (rsrp1 === undefined || rsrp0 === undefined || extraRsrp.length > 0) {
    throw new ConfigError(
      'invalid configuration:\n  NBIOT_RSRP_RANGES_DBM: needs exactly 2 bounds (range 0, range 1)',
    );
  }
  if (sinr0 === undefined || sinr1 === undefined || sinr2 === undefined || extraSinr.length > 0) {
    throw new ConfigError(
      'invalid configuration:\n  NBIOT_SINR_RANGES_DB: needs exactly 3 bounds (range 0, 1, 2)',
    );
  }
  const coverageRanges: CoverageRanges = { rsrpDbm: [rsrp0, rsrp1], sinrDb: [sinr0, sinr1, sinr2] };
  try {
    checkCoverageRanges(coverageRanges);
  } catch (error) {
    throw new ConfigError(`invalid configuration:\n  NBIOT_*_RANGES: ${(error as Error).message}`);
  }
  if (raw.OTAFLOW_UNSIGNED_PACKAGES === 'refused' && !raw.OTAFLOW_PACKAGE_SIGNING_KEYS_DIR) {
    throw new ConfigError(
      'invalid configuration:\n  OTAFLOW_UNSIGNED_PACKAGES: refused, but no OTAFLOW_PACKAGE_SIGNING_KEYS_DIR: no package could be uploaded',
    );
  }
  if (Boolean(raw.OTAFLOW_TLS_CERT_FILE) !== Boolean(raw.OTAFLOW_TLS_KEY_FILE)) {
    throw new ConfigError(
      `invalid configuration:\n  ${raw.OTAFLOW_TLS_CERT_FILE ? 'OTAFLOW_TLS_KEY_FILE' : 'OTAFLOW_TLS_CERT_FILE'}: required with ${raw.OTAFLOW_TLS_CERT_FILE ? 'OTAFLOW_TLS_CERT_FILE' : 'OTAFLOW_TLS_KEY_FILE'} (a certificate and its key)`,
    );
  }
  if (raw.MQTT_PLAIN === 'off' && raw.OTAFLOW_TLS === 'off') {
    throw new ConfigError(
      'invalid configuration:\n  MQTT_PLAIN: off, but OTAFLOW_TLS is off too: devices would have no MQTT listener',
    );
  }
  if (raw.LWM2M_PLAIN === 'off' && raw.LWM2M_DTLS === 'off') {
    throw new ConfigError(
      'invalid configuration:\n  LWM2M_PLAIN: off, but LWM2M_DTLS is off too: devices would have no LwM2M listener',
    );
  }
  if (raw.MINIO_ENDPOINT && !raw.MINIO_SECRET_KEY) {
    throw new ConfigError(
      'invalid configuration:\n  MINIO_SECRET_KEY: required with MINIO_ENDPOINT (the MinIO user otaflow logs in as)',
    );
  }
  refuseWellKnownSecretsOnOpenListeners(raw);
  let temporal: TemporalConnectionSettings;
  try {
    temporal = loadTemporalConnectionSettings(env);
  } catch (error) {
    throw new ConfigError(
      `invalid configuration:\n  Temporal connection (TEMPORAL_*): ${(error as Error).message}`,
    );
  }
  let tracing: TracingSettings | undefined;
  try {
    tracing = loadTracingSettings(env);
  } catch (error) {
    throw new ConfigError(`invalid configuration:\n  ${(error as Error).message}`);
  }
  const processRoles = new Set<Role>(
    raw.OTAFLOW_ROLES.includes('all') ? roles : (raw.OTAFLOW_ROLES as Role[]),
  );
  requireSharedStackForPartialRoles(raw, temporal, processRoles);
  return {
    ...raw,
    temporal,
    roles: processRoles,
    dataDir: path.resolve(raw.OTAFLOW_DATA_DIR),
    coverageRanges,
    radioResources: { cellId: raw.LWM2M_CELL_ID_PATH, rsrp: raw.LWM2M_RSRP_PATH, sinr: raw.LWM2M_SINR_PATH },
    tracing,
  };
}

/** A host name as a gateway ID: its first label, characters an ID may not hold dropped. */
export function gatewayIdOfHost(hostname: string): string {
  const id = (hostname.split('.')[0] ?? '').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 64);
  return id || 'local';
}

/**
 * A process running only some roles works beside others running the rest: they can share nothing
 * embedded (a PGlite file, an in-process broker, a dev server), nor secrets each would generate for
 * itself into its own data dir.
 */
function requireSharedStackForPartialRoles(
  raw: RawConfig,
  temporal: TemporalConnectionSettings,
  processRoles: ReadonlySet<Role>,
): void {
  if (processRoles.size === roles.length) return;
  const needed: (keyof RawConfig)[] = ['DATABASE_URL', 'MINIO_ENDPOINT', 'OTAFLOW_SECRET_KEY'];
  if (processRoles.has('mqtt-gateway')) needed.push('MQTT_URL', 'MQTT_SERVICE_PASSWORD');
  if (processRoles.has('api')) needed.push('OTAFLOW_API_KEY');
  const missing: string[] = needed.filter((variable) => raw[variable] === undefined || raw[variable] === '');
  if (!temporal.address) missing.unshift('TEMPORAL_ADDRESS');
  if (missing.length > 0) {
    throw new ConfigError(
      `invalid configuration:\n  OTAFLOW_ROLES: ${[...processRoles].join(',')} runs part of otaflow, beside processes running the rest, which must share its Temporal, database, MinIO, broker and keys: set ${missing.join(', ')}`,
    );
  }
}

/**
 * Secrets published with otaflow (its compose file's former defaults, its own former defaults) or
 * with its components (MinIO's): anyone can look them up, so they guard nothing that others reach.
 */
const wellKnownSecrets = new Set([
  'otaflow-gateway-dev-password',
  'otaflow-dev-secret',
  'otaflow-minio-dev-secret',
  'otaflow-mqtt-auth-dev-token',
  'otaflow-postgres-dev-password',
  'otaflow-db-dev-password',
  'minioadmin',
]);

/** A well-known secret guarding a listener beyond this machine stops the process, naming both. */
function refuseWellKnownSecretsOnOpenListeners(raw: RawConfig): void {
  const mqttListener = raw.MQTT_URL ? new URL(raw.MQTT_URL).hostname : raw.MQTT_HOST;
  const guards: [variable: keyof RawConfig, secret: string | undefined, listener: string, what: string][] = [
    ['MQTT_SERVICE_PASSWORD', raw.MQTT_SERVICE_PASSWORD, mqttListener, 'the MQTT broker'],
    ['MQTT_AUTH_HTTP_TOKEN', raw.MQTT_AUTH_HTTP_TOKEN, raw.OTAFLOW_API_HOST, 'the API'],
    ['OTAFLOW_API_KEY', raw.OTAFLOW_API_KEY, raw.OTAFLOW_API_HOST, 'the API'],
    [
      'MINIO_SECRET_KEY',
      raw.MINIO_SECRET_KEY,
      raw.MINIO_ENDPOINT ? new URL(raw.MINIO_ENDPOINT).hostname : '127.0.0.1',
      'MinIO',
    ],
  ];
  const problems = guards
    .filter(([, secret, listener]) => secret && wellKnownSecrets.has(secret) && !isLoopback(listener))
    .map(
      ([variable, , listener, what]) =>
        `${variable}: a published development default, refused while ${what} listens on ${listener} (not loopback); set a secret of your own or leave it unset to have one generated`,
    );
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
}

function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}
