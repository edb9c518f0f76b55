import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ApiClient, createApiClient } from '../../src/cli/api-client';
import type { PlatformAddresses } from '../../src/platform';
import { freePort } from '../../src/stack/free-port';

export const STARTUP_TIMEOUT_MS = 60_000;

export interface PlatformChild {
  process: ChildProcess;
  addresses: PlatformAddresses;
  /** A client of its API (with the environment's OTAFLOW_API_KEY); only with role `api`. */
  api?: ApiClient;
}

/**
 * otaflow in a forked process (test/support/platform-child.ts), started as `npm start` starts it and
 * configured by `env` alone, so a test can run several side by side and crash them for real.
 */
export function startPlatformChild(env: NodeJS.ProcessEnv): Promise<PlatformChild> {
  const child = fork(path.join(__dirname, 'platform-child.ts'), [], {
    env: { ...process.env, ...env },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  // Passed on as it comes, and the end of it kept for the error when the process does not start.
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error('otaflow did not start in time')), STARTUP_TIMEOUT_MS);
    const onMessage = (message: unknown) => {
      const ready = message as { type?: string; addresses?: PlatformAddresses };
      if (ready.type === 'ready' && ready.addresses) finish(undefined, ready.addresses);
    };
    const onExit = (code: number | null) =>
      finish(new Error(`otaflow exited with code ${code} on start: ${stderrTail.trim()}`));
    function finish(error?: Error, addresses?: PlatformAddresses) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error || !addresses) {
        child.kill('SIGKILL');
        reject(error);
        return;
      }
      const api = addresses.api ? createApiClient(addresses.api, env.OTAFLOW_API_KEY) : undefined;
      resolve({ process: child, addresses, api });
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

export function crash(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  return exited;
}

export async function stopGracefully(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  if (child.connected) child.send('stop');
  else child.kill('SIGKILL');
  await exited;
  clearTimeout(killer);
}

export interface RoleProcesses {
  /** Starts a process running `roles`, with `env` over the shared environment. */
  start(roles: string, env?: NodeJS.ProcessEnv): Promise<PlatformChild>;
  /** Stops every process started, newest first, and deletes their data dirs. */
  stopAll(): Promise<void>;
}

/**
 * otaflow split by OTAFLOW_ROLES over processes sharing one environment (docs/deployment.md), each
 * with a data dir of its own and a free health port.
 */
export function roleProcesses(shared: NodeJS.ProcessEnv): RoleProcesses {
  const started: PlatformChild[] = [];
  const dataDirs: string[] = [];
  return {
    async start(roles, env = {}) {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-roles-'));
      dataDirs.push(dataDir);
      const child = await startPlatformChild({
        ...shared,
        ...env,
        OTAFLOW_ROLES: roles,
        OTAFLOW_DATA_DIR: dataDir,
        OTAFLOW_HEALTH_PORT: String(await freePort()),
      });
      started.push(child);
      return child;
    },
    async stopAll() {
      for (const child of started.splice(0).reverse()) await stopGracefully(child.process);
      for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
