import path from 'node:path';
import { locateBinary } from './binaries';
import { httpProbe, startChildServer } from './child-process';

export interface MinioServerOptions {
  /** Objects live in <dataDir>/minio and survive restarts. */
  dataDir: string;
  port: number;
  consolePort: number;
  accessKey: string;
  secretKey: string;
  startTimeoutMs?: number;
}

export interface MinioServer {
  /** S3 endpoint, e.g. http://127.0.0.1:9000. */
  endpoint: string;
  consoleUrl: string;
  stop(): Promise<void>;
}

/** Starts the provisioned MinIO server on loopback. */
export async function startMinioServer(options: MinioServerOptions): Promise<MinioServer> {
  const binary = locateBinary('minio');
  if (!binary) {
    throw new Error(
      'MinIO is not provisioned: run `npm run provision`, set OTAFLOW_MINIO_BIN to a minio binary, ' +
        'or set MINIO_ENDPOINT to an existing MinIO/S3 endpoint',
    );
  }
  const endpoint = `http://127.0.0.1:${options.port}`;
  const server = await startChildServer({
    name: 'MinIO',
    command: binary,
    args: [
      'server',
      path.join(options.dataDir, 'minio'),
      '--address',
      `127.0.0.1:${options.port}`,
      '--console-address',
      `127.0.0.1:${options.consolePort}`,
    ],
    env: {
      MINIO_ROOT_USER: options.accessKey,
      MINIO_ROOT_PASSWORD: options.secretKey,
      // No internet: skip the update check.
      MINIO_UPDATE: 'off',
    },
    logFile: path.join(options.dataDir, 'logs', 'minio.log'),
    isReady: httpProbe(`${endpoint}/minio/health/live`),
    startTimeoutMs: options.startTimeoutMs ?? 60_000,
  });
  return { endpoint, consoleUrl: `http://127.0.0.1:${options.consolePort}`, stop: server.stop };
}
