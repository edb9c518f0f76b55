import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A throwaway MinIO server for tests, on a free 127.0.0.1 port with a temp data dir. */
export interface TestMinio {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  stop(): Promise<void>;
}

const candidates = ['/root/.cache/otaflow/bin/minio', '/root/.cache/otaflow/minio-bin/minio'];

export function findMinioBinary(): string {
  const found = [process.env.OTAFLOW_MINIO_BIN, ...candidates].find((file) => file && existsSync(file));
  if (!found)
    throw new Error(`MinIO binary not found (looked in ${candidates.join(', ')}); run npm run provision`);
  return found;
}

export async function startTestMinio(): Promise<TestMinio> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'otaflow-minio-'));
  const [port, consolePort] = [await freePort(), await freePort()];
  const accessKey = 'otaflow-test';
  const secretKey = 'otaflow-test-secret';
  const child = spawn(
    findMinioBinary(),
    [
      'server',
      dataDir,
      '--address',
      `127.0.0.1:${port}`,
      '--console-address',
      `127.0.0.1:${consolePort}`,
      '--quiet',
    ],
    { env: { ...process.env, MINIO_ROOT_USER: accessKey, MINIO_ROOT_PASSWORD: secretKey }, stdio: 'ignore' },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await terminate(child);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitUntilLive(endpoint, child, 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, accessKey, secretKey, stop };
}

async function waitUntilLive(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`MinIO exited with code ${child.exitCode}`);
    try {
      if ((await fetch(`${endpoint}/minio/health/live`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`MinIO did not become live at ${endpoint} within ${timeoutMs} ms`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(killTimer);
}
