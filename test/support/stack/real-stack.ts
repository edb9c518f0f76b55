import { randomBytes } from 'node:crypto';
import type { MqttAccount } from '../../../src/stack/mosquitto';
import type { PostgresServer } from '../../../src/stack/postgres';
import {
  startTestMinio,
  startTestMosquitto,
  startTestPostgres,
  startTestTemporal,
  type TestMinio,
  type TestMosquitto,
  type TestTemporal,
} from './components';

export interface RealStack {
  temporal: TestTemporal;
  minio: TestMinio;
  mqtt: TestMosquitto;
  postgres: PostgresServer;
  /**
   * The key that seals the database's secrets: every otaflow process on this stack must hold it, as
   * in a real deployment (src/db/secret-key-check.ts).
   */
  secretKey: string;
  /** Stops every component and deletes its data. */
  stop(): Promise<void>;
}

/**
 * The production set of servers (Temporal dev server, MinIO, Mosquitto, PostgreSQL), each on free
 * loopback ports with temp data, started side by side. If one fails to start, the others are
 * stopped before the error is thrown.
 */
export async function startRealStack(options: { deviceAccounts?: MqttAccount[] } = {}): Promise<RealStack> {
  const started = await Promise.allSettled([
    startTestTemporal(),
    startTestMinio(),
    startTestMosquitto(options.deviceAccounts),
    startTestPostgres(),
  ] as const);
  const stopAll = async () => {
    await Promise.all(
      started.map((result) => (result.status === 'fulfilled' ? result.value.stop() : undefined)),
    );
  };
  const [temporal, minio, mqtt, postgres] = started;
  if (
    temporal.status === 'rejected' ||
    minio.status === 'rejected' ||
    mqtt.status === 'rejected' ||
    postgres.status === 'rejected'
  ) {
    await stopAll();
    const reasons = started.flatMap((result) =>
      result.status === 'rejected' ? [String(result.reason)] : [],
    );
    throw new Error(`the real stack did not start:\n${reasons.join('\n')}`);
  }
  return {
    temporal: temporal.value,
    minio: minio.value,
    mqtt: mqtt.value,
    postgres: postgres.value,
    secretKey: randomBytes(32).toString('hex'),
    stop: stopAll,
  };
}

/**
 * What every otaflow process on the stack is configured with: its servers, the gateways' broker
 * account and the secret key, and the API's port (which download URLs name, and which names the
 * platform's own bucket). Processes add their roles, listeners and data dirs.
 */
export function stackEnvironment(stack: RealStack, apiPort: number): Record<string, string> {
  return {
    OTAFLOW_API_PORT: String(apiPort),
    OTAFLOW_SECRET_KEY: stack.secretKey,
    TEMPORAL_ADDRESS: stack.temporal.address,
    DATABASE_URL: stack.postgres.url,
    MINIO_ENDPOINT: stack.minio.endpoint,
    MINIO_ACCESS_KEY: stack.minio.accessKey,
    MINIO_SECRET_KEY: stack.minio.secretKey,
    MINIO_BUCKET: `otaflow-test-${apiPort}`,
    MQTT_URL: stack.mqtt.url,
    MQTT_SERVICE_USERNAME: stack.mqtt.serviceAccount.username,
    MQTT_SERVICE_PASSWORD: stack.mqtt.serviceAccount.password,
  };
}
