/**
 * Bounds the MQTT packets a connection may send. aedes (through mqtt-packet) buffers a whole packet
 * before anything looks at it, so a client could make the broker hold up to 256 MiB per connection —
 * before it has even logged in. This watches the bytes on their way to aedes, reads each packet's
 * declared length from its fixed header, and closes the connection at the first packet declared
 * larger than allowed, having passed on at most the chunk that announced it.
 */
import type { Socket } from 'node:net';

export interface PacketSizeLimits {
  /** Any packet while the connection has not logged in (its CONNECT, and anything sent behind it). */
  beforeLogin: number;
  /** Any packet once it has. */
  afterLogin: number;
}

/** A CONNECT of the seed protocol is a few hundred bytes; 64 KiB leaves MQTT 5 properties room. */
export const defaultPacketSizeLimits: PacketSizeLimits = { beforeLogin: 64 * 1024, afterLogin: 1024 * 1024 };

/** The remaining-length field of MQTT's fixed header is 1 to 4 bytes. */
const MAX_LENGTH_BYTES = 4;

/**
 * Watches `socket`, whose bytes aedes reads (each chunk is emitted as `data` when aedes reads it, before
 * aedes parses it). `loggedIn` says which limit applies; `refused` hears of each connection closed.
 */
export function limitPacketSizes(
  socket: Socket,
  limits: PacketSizeLimits,
  loggedIn: () => boolean,
  refused: (declaredBytes: number | 'malformed') => void,
): void {
  // Where in the current packet the bytes are: its type byte, its length field, or its body.
  let expectingTypeByte = true;
  let lengthBytes = 0;
  let declared = 0;
  let bodyLeft = 0;

  socket.on('data', (chunk: Buffer) => {
    let offset = 0;
    while (offset < chunk.length) {
      if (bodyLeft > 0) {
        const skipped = Math.min(bodyLeft, chunk.length - offset);
        bodyLeft -= skipped;
        offset += skipped;
        continue;
      }
      const byte = chunk[offset++] as number;
      if (expectingTypeByte) {
        expectingTypeByte = false;
        lengthBytes = 0;
        declared = 0;
        continue;
      }
      declared += (byte & 0x7f) * 128 ** lengthBytes;
      lengthBytes++;
      if (byte & 0x80) {
        if (lengthBytes === MAX_LENGTH_BYTES) {
          refuse('malformed');
          return;
        }
        continue;
      }
      if (declared > (loggedIn() ? limits.afterLogin : limits.beforeLogin)) {
        refuse(declared);
        return;
      }
      bodyLeft = declared;
      expectingTypeByte = true;
    }
  });

  function refuse(reason: number | 'malformed'): void {
    refused(reason);
    socket.destroy();
  }
}
