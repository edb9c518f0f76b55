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
