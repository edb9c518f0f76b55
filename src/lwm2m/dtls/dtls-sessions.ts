/**
 * What the LwM2M gateway knows of the DTLS sessions the terminator (components/dtls-terminator/)
 * ended: each session's plaintext reaches the gateway from a loopback port of its own, announced with
 * its PSK identity before its first datagram.
 */
export interface DtlsSessions {
  /** The PSK identity of the session forwarding from this address; undefined for any other sender. */
  identityAt(peer: { address: string; port: number }): string | undefined;
}
