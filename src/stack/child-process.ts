import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves true once the server answers; false (never throws) while it does not yet. */
export type ReadinessProbe = () => Promise<boolean>;

export interface ChildServerOptions {
  /** Shown in messages, e.g. "MinIO". */
  name: string;
  command: string;
  args: readonly string[];
  /** Added to the parent's environment. */
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr go here (appended, so a restart keeps the earlier run's output). */
  logFile: string;
  isReady: ReadinessProbe;
  startTimeoutMs?: number;
  /** Signal that asks the server to shut down cleanly. */
  stopSignal?: NodeJS.Signals;
  /** How long a clean shutdown may take before SIGKILL. */
  stopGraceMs?: number;
  /** Run as another account (servers that refuse to run as root). */
  runAs?: { uid: number; gid: number };
}

export interface ChildServer {
  readonly name: string;
  readonly logFile: string;
  /** Stops the server (clean signal, then SIGKILL after the grace period). Safe to call twice. */
  stop(): Promise<void>;
  /** Sends the running server a signal (e.g. SIGHUP: reload the configuration). */
  signal(signal: NodeJS.Signals): void;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const POLL_INTERVAL_MS = 100;

/** Starts a server as a child process and resolves once its readiness probe succeeds. */
export async function startChildServer(options: ChildServerOptions): Promise<ChildServer> {
  const { name, logFile, startTimeoutMs = 60_000, stopSignal = 'SIGTERM', stopGraceMs = 10_000 } = options;
  mkdirSync(path.dirname(logFile), { recursive: true });
  const log = openSync(logFile, 'a');
  const runStartsAt = fstatSync(log).size;
  writeSync(log, `--- ${new Date().toISOString()} ${options.command} ${options.args.join(' ')}\n`);
  let child: ChildProcess;
  try {
    child = spawn(options.command, options.args, {
      stdio: ['ignore', log, log],
      env: { ...process.env, ...options.env },
      uid: options.runAs?.uid,
      gid: options.runAs?.gid,
    });
  } finally {
    closeSync(log);
  }
  let spawnFailure: Error | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => {
      spawnFailure = error;
      resolve({ code: null, signal: null });
    });
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    liveChildren.delete(child);
  });
  liveChildren.add(child);
  installExitHooks();

  const stop = async (): Promise<void> => {
    if (hasExited) return;
    child.kill(stopSignal);
    const stoppedInTime = await Promise.race([
      exited.then(() => true),
      sleep(stopGraceMs, false, { ref: false }),
    ]);
    if (!stoppedInTime) {
      child.kill('SIGKILL');
      await exited;
    }
  };

  const deadline = Date.now() + startTimeoutMs;
  while (!(await options.isReady())) {
    if (hasExited) {
      const exit = await exited;
      const how =
        spawnFailure?.message ?? `exit code ${exit.code ?? 'none'}, signal ${exit.signal ?? 'none'}`;
      throw new Error(`${name} exited before it was ready (${how}).${describeLog(logFile, runStartsAt)}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `${name} was not ready within ${startTimeoutMs / 1000} s; stopped it.${describeLog(logFile, runStartsAt)}`,
      );
    }
    await sleep(POLL_INTERVAL_MS);
  }
  return {
    name,
    logFile,
    stop,
    signal(signal) {
      if (!hasExited) child.kill(signal);
    },
  };
}

/** A probe that succeeds once something accepts TCP connections at host:port. */
export function tcpProbe(host: string, port: number): ReadinessProbe {
  return () =>
    new Promise((resolve) => {
      const socket = net.connect({ host, port });
      const done = (ready: boolean) => {
        socket.destroy();
        resolve(ready);
      };
      socket.setTimeout(1_000, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
}

/** A probe that succeeds once `url` answers with a 2xx status. */
export function httpProbe(url: string): ReadinessProbe {
  return async () => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      return response.ok;
    } catch {
      return false;
    }
  };
}

/** The last lines a server wrote to its log since byte `from`, where its run began. */
function logTail(logFile: string, from: number, lines = 20): string {
  try {
    const thisRun = readFileSync(logFile).subarray(from).toString('utf8');
    return thisRun.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function describeLog(logFile: string, from: number): string {
  return ` Log ${logFile} ends with:\n${logTail(logFile, from)}`;
}

// Children must not outlive this process. A normal exit kills them outright; a termination signal
// asks them to stop and, when nothing else in the process handles that signal, lets it terminate the
// process as it would have without this hook.
const liveChildren = new Set<ChildProcess>();
const terminationSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
  });
  for (const signal of terminationSignals) {
    const onSignal = () => {
      for (const child of liveChildren) child.kill('SIGTERM');
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
}
