/**
 * DTLS for the simulated NB-IoT devices (demo, benchmark): the simulator speaks plain CoAP, and
 * components/dtls-tunnels (pion/dtls as a client) carries each device's CoAP over a DTLS session of
 * its own, with its pre-shared key. A device sends to its tunnel's loopback port; package downloads
 * from a coaps:// URI go through the same session.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type Logger, logger } from '../logger';
import { requireBinary } from '../stack/binaries';

export interface DtlsTunnel {
  /** The loopback port the device sends its CoAP to. */
  port: number;
  /** How long the DTLS handshake took. */
  handshakeMs: number;
}

export interface DtlsTunnels {
  open(device: { id: string; identity: string; key: string }): Promise<DtlsTunnel>;
  /** Closes every tunnel. */
  stop(): Promise<void>;
}

type TunnelEvent =
  | { event: 'open'; id: string; port: number; handshakeMs: number }
  | { event: 'failed'; id: string; reason: string };

/** One process carries every device's tunnel to the DTLS server at `host:port`. */
export function startDtlsTunnels(server: string, log: Logger = logger): DtlsTunnels {
  const child: ChildProcessWithoutNullStreams = spawn(requireBinary('dtls-tunnels', 'devices over DTLS'), [
    '--server',
    server,
  ]);
  const waiting = new Map<string, { resolve(tunnel: DtlsTunnel): void; reject(error: Error): void }>();
  createInterface({ input: child.stderr }).on('line', (line) =>
    log.warn({ component: 'dtls-tunnels' }, line),
  );
  createInterface({ input: child.stdout }).on('line', (line) => {
    const event = JSON.parse(line) as TunnelEvent;
    const pending = waiting.get(event.id);
    waiting.delete(event.id);
    if (event.event === 'open') pending?.resolve({ port: event.port, handshakeMs: event.handshakeMs });
    else pending?.reject(new Error(`DTLS tunnel of ${event.id}: ${event.reason}`));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => {
    for (const [id, pending] of waiting) {
      pending.reject(new Error(`DTLS tunnel of ${id}: dtls-tunnels exited (${signal ?? code})`));
    }
    waiting.clear();
  });
  const send = (command: object) => child.stdin.write(`${JSON.stringify(command)}\n`);
  return {
    open({ id, identity, key }) {
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        send({ command: 'open', id, identity, key });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      await exited;
    },
  };
}
