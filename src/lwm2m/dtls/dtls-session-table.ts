import type { DtlsSessions } from './dtls-sessions';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * The sessions the terminator has announced, by the loopback port each forwards from. Only the
 * terminator can send from those ports (it holds them bound), so a datagram from one is the session's.
 */
export class DtlsSessionTable implements DtlsSessions {
  private readonly identityByPort = new Map<number, string>();

  open(port: number, identity: string): void {
    this.identityByPort.set(port, identity);
  }

  close(port: number): void {
    this.identityByPort.delete(port);
  }

  clear(): void {
    this.identityByPort.clear();
  }

  identityAt(peer: { address: string; port: number }): string | undefined {
    return LOOPBACK.has(peer.address) ? this.identityByPort.get(peer.port) : undefined;
  }
}
