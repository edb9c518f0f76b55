/**
 * Runs and supervises the DTLS terminator (components/dtls-terminator/, built on pion/dtls by
 * scripts/provision.sh): it ends LwM2M's DTLS 1.2 sessions on the DTLS port and forwards each
 * session's CoAP to the gateway's socket from a loopback port of its own. This side answers its key
 * lookups, keeps the table of sessions the gateway trusts, and restarts it if it dies (its sessions
 * are lost then: devices handshake again, as after any server restart).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { withPort } from '../../host-and-port';
import type { Logger } from '../../logger';
import type { DtlsSessionTable } from './dtls-session-table';

export interface DtlsTerminatorOptions {
  binary: string;
  host: string;
  port: number;
  /** The gateway's CoAP socket, where sessions' plaintext goes. */
  gateway: { address: string; port: number };
  sessions: DtlsSessionTable;
  /** The pre-shared key of an enabled device with this PSK identity. */
  lookupKey(identity: string): Promise<Buffer | undefined>;
  log: Logger;
  /** Connection ID length asked of devices (RFC 9146); 0 turns it off. Default 8. */
  connectionIdBytes?: number;
}

export interface DtlsTerminator {
  address: string;
  port: number;
  /** Ends the device's session (its key changed, or it was disabled): it must handshake again. */
  closeIdentity(identity: string): void;
  stop(): Promise<void>;
}

type TerminatorEvent =
  | { event: 'listening'; address: string }
  | { event: 'psk-request'; requestId: number; identity: string }
  | { event: 'session'; port: number; identity: string; peer: string }
  | { event: 'session-closed'; port: number; identity: string; reason: string }
  | { event: 'handshake-failed'; peer: string; reason: string };

const RESTART_DELAYS_MS = [500, 1_000, 5_000, 30_000];
const STOP_GRACE_MS = 5_000;

export async function startDtlsTerminator(options: DtlsTerminatorOptions): Promise<DtlsTerminator> {
  const { sessions, log } = options;
  let child: ChildProcessWithoutNullStreams | undefined;
  let stopping = false;
  let restarts = 0;
  let bound: { address: string; port: number } | undefined;

  function send(command: object): void {
    if (child && !child.stdin.destroyed) child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  async function answerKeyRequest(requestId: number, identity: string): Promise<void> {
    let key: Buffer | undefined;
    try {
      key = await options.lookupKey(identity);
    } catch (error) {
      log.error({ err: error, pskIdentity: identity }, 'DTLS key lookup failed: handshake refused');
    }
    if (!key)
      log.warn({ pskIdentity: identity }, 'DTLS handshake refused: no enabled device has this PSK identity');
    send({ command: 'psk', requestId, key: key?.toString('hex') });
  }

  function handle(event: TerminatorEvent, listening: (address: string) => void): void {
    switch (event.event) {
      case 'listening':
        listening(event.address);
        return;
      case 'psk-request':
        void answerKeyRequest(event.requestId, event.identity);
        return;
      case 'session':
        sessions.open(event.port, event.identity);
        send({ command: 'session-ready', port: event.port });
        log.info({ pskIdentity: event.identity, peer: event.peer, port: event.port }, 'DTLS session opened');
        return;
      case 'session-closed':
        sessions.close(event.port);
        log.info({ pskIdentity: event.identity, reason: event.reason }, 'DTLS session closed');
        return;
      case 'handshake-failed':
        log.warn({ peer: event.peer, reason: event.reason }, 'DTLS handshake failed');
        return;
    }
  }

  function launch(): Promise<{ address: string; port: number }> {
    const port = bound?.port ?? options.port;
    const args = [
      '--listen',
      withPort(options.host, port),
      '--upstream',
      withPort(options.gateway.address, options.gateway.port),
      '--cid-bytes',
      String(options.connectionIdBytes ?? 8),
    ];
    const started = spawn(options.binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child = started;
    const stderr: string[] = [];
    createInterface({ input: started.stderr }).on('line', (line) => {
      stderr.push(line);
      if (stderr.length > 20) stderr.shift();
      log.warn({ component: 'dtls-terminator' }, line);
    });
    return new Promise((resolve, reject) => {
      let ready = false;
      createInterface({ input: started.stdout }).on('line', (line) => {
        let event: TerminatorEvent;
        try {
          event = JSON.parse(line) as TerminatorEvent;
        } catch {
          log.warn({ line }, 'DTLS terminator wrote a line that is not JSON');
          return;
        }
        handle(event, (address) => {
          ready = true;
          // Its host as configured: Go reports a wildcard IPv4 listener as `[::]`.
          resolve({ address: options.host, port: Number(address.slice(address.lastIndexOf(':') + 1)) });
        });
      });
      started.on('error', (error) => {
        if (!ready)
          reject(new Error(`the DTLS terminator (${options.binary}) could not start: ${error.message}`));
      });
      started.on('exit', (code, signal) => {
        sessions.clear();
        if (!ready) {
          reject(
            new Error(
              `the DTLS terminator exited before listening (${signal ?? `exit code ${code}`}): ${stderr.join(' | ') || 'no output'}`,
            ),
          );
          return;
        }
        if (stopping) return;
        const delay = RESTART_DELAYS_MS[Math.min(restarts, RESTART_DELAYS_MS.length - 1)] as number;
        restarts += 1;
        log.error(
          { code, signal, restartInMs: delay },
          'DTLS terminator exited: its sessions are lost (devices handshake again); restarting',
        );
        setTimeout(() => {
          if (stopping) return;
          launch().then(
            () => log.info('DTLS terminator restarted'),
            (error: unknown) => log.error({ err: error }, 'DTLS terminator restart failed'),
          );
        }, delay).unref();
      });
    });
  }

  bound = await launch();
  log.info({ address: `${bound.address}:${bound.port}` }, 'LwM2M over DTLS listening');
  return {
    address: bound.address,
    port: bound.port,
    closeIdentity(identity) {
      send({ command: 'close-identity', identity });
    },
    async stop() {
      stopping = true;
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.stdin.end();
      const timer = setTimeout(() => running.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}
