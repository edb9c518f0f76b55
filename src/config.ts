import path from 'node:path';
import { z } from 'zod';

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

const ConfigSchema = z.object({
  OTAFLOW_DATA_DIR: z.string().min(1).default('.otaflow/data'),
  OTAFLOW_API_HOST: z.string().min(1).default('127.0.0.1'),
  OTAFLOW_API_PORT: port.default(8080),
  /** Base URL devices use to reach the API's package download endpoint. */
  OTAFLOW_PUBLIC_URL: optionalUrl,
  /** 32 bytes, hex or base64: encrypts device secrets at rest. Generated into the data dir if unset. */
  OTAFLOW_SECRET_KEY: optionalAddress,

  TEMPORAL_ADDRESS: optionalAddress,
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_DEV_SERVER_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),

  DATABASE_URL: optionalUrl,

  MINIO_ENDPOINT: optionalUrl,
  MINIO_ACCESS_KEY: z.string().min(3).default('otaflow'),
  MINIO_SECRET_KEY: z.string().min(8).default('otaflow-dev-secret'),
  MINIO_BUCKET: z.string().min(3).default('otaflow-packages'),
  MINIO_PORT: port.default(9000),
  MINIO_CONSOLE_PORT: port.default(9001),

  /** External MQTT broker (e.g. mqtt://mosquitto:1883). Empty: the embedded aedes broker. */
  MQTT_URL: optionalUrl,
  MQTT_PORT: port.default(1883),
  MQTT_HOST: z.string().min(1).default('0.0.0.0'),
  /** The gateway's own broker account (service user); devices never get it. */
  MQTT_SERVICE_USERNAME: z.string().min(1).default('otaflow-gateway'),
  MQTT_SERVICE_PASSWORD: z.string().min(8).default('otaflow-gateway-dev-password'),

  /** The LwM2M gateway's CoAP/UDP listener. */
  LWM2M_HOST: z.string().min(1).default('0.0.0.0'),
  LWM2M_PORT: port.default(5683),
  /** Names this gateway's task queue: each gateway gets its own, since only it can reach its devices. */
  LWM2M_GATEWAY_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only, 1 to 64 characters')
    .default('local'),
  /** host[:port] devices reach the gateway at (package URIs carry it); default: the listener's address. */
  LWM2M_PUBLIC_HOST: optionalAddress,
});

export type RawConfig = z.infer<typeof ConfigSchema>;

export interface Config extends RawConfig {
  dataDir: string;
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
  return { ...parsed.data, dataDir: path.resolve(parsed.data.OTAFLOW_DATA_DIR) };
}
