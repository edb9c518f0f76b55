/**
 * The client side of block-wise package delivery, as a constrained device does it: one CoAP GET
 * per Block2 block, confirmable with RFC 7252 retransmission, resuming from the first missing block
 * when the connection is lost. Used by the LwM2M device simulator; kept here beside the server side
 * so both read the same wire format.
 */
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { setTimeout as delay } from 'node:timers/promises';
import { generate, type ParsedPacket, parse } from 'coap-packet';
import { blockSize, encodeBlockOption, parseBlockOption } from './package-blocks';

export interface BlockDownloadRequest {
  uri: string;
  /** Block size exponent: 2^(szx+4) bytes, 0–6. */
  szx: number;
  delayPerBlockMs?: number;
  /** Injected fault: the connection drops once when this block is due; the download resumes from it. */
  dropAtBlock?: number;
  /** Connection losses tolerated before giving up. */
  maxResumes?: number;
  /** Stops before this block and never finishes (a device that goes silent mid-download). */
  stallAtBlock?: number;
  /** Injected fault: flips a byte as it is stored, so an integrity check fails for real. */
  corrupt?: boolean;
  signal?: AbortSignal;
  onBlock?: (received: number, total: number | undefined) => void;
  onResume?: (offset: number) => void;
}

export type BlockDownloadResult =
  | { ok: true; bytes: Buffer; sha256: string; resumes: number }
  | { ok: false; reason: 'refused'; code: string }
  | { ok: false; reason: 'connection-lost'; detail: string };

class ConnectionLost extends Error {}

const ACK_TIMEOUT_MS = 2_000;
const MAX_RETRANSMIT = 4;
const SEPARATE_RESPONSE_TIMEOUT_MS = 30_000;

export async function downloadBlockwise(request: BlockDownloadRequest): Promise<BlockDownloadResult> {
  const url = new URL(request.uri);
  if (url.protocol !== 'coap:')
    throw new Error(`only coap:// package URIs are supported, got ${request.uri}`);
  const segments = url.pathname.split('/').filter((segment) => segment !== '');
  const target = { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 5683) };
  const chunks: Buffer[] = [];
  let received = 0;
  let etag: string | undefined;
  let resumes = 0;
  let dropPending = request.dropAtBlock !== undefined;
  let num = 0;
  for (;;) {
    const connection = openConnection(target);
    try {
      for (;;) {
        if (request.signal?.aborted) throw new ConnectionLost('download aborted');
        if (request.stallAtBlock !== undefined && num >= request.stallAtBlock) {
          await new Promise((resolve) => request.signal?.addEventListener('abort', resolve, { once: true }));
          throw new ConnectionLost('download aborted');
        }
        if (dropPending && num === request.dropAtBlock) {
          dropPending = false;
          throw new ConnectionLost(`connection dropped before block ${num}`);
        }
        const response = await connection.get(
          segments,
          encodeBlockOption({ num, more: false, szx: request.szx }),
        );
        if (response.code !== '2.05') return { ok: false, reason: 'refused', code: response.code };
        const responseEtag = optionOf(response, 'ETag')?.toString('hex');
        if (etag !== undefined && responseEtag !== etag) {
          // The resource changed under the transfer: what was received belongs to another version.
          chunks.length = 0;
          received = 0;
          num = 0;
          etag = undefined;
          continue;
        }
        etag = responseEtag;
        let payload = response.payload;
        if (request.corrupt && num === 0 && payload.length > 0) {
          payload = Buffer.from(payload);
          payload[0] = (payload[0] ?? 0) ^ 0xff;
        }
        chunks.push(payload);
        received += payload.length;
        const size2 = optionOf(response, 'Size2');
        request.onBlock?.(received, size2 ? size2.readUIntBE(0, size2.length) : undefined);
        const block = parseBlockOption(optionOf(response, 'Block2') ?? Buffer.alloc(0));
        if (!block.more) {
          const bytes = Buffer.concat(chunks);
          return { ok: true, bytes, sha256: createHash('sha256').update(bytes).digest('hex'), resumes };
        }
        // The server may answer with smaller blocks than asked for (RFC 7959 §2.4); follow its size.
        num = (received / blockSize(block.szx)) | 0;
        request.szx = block.szx;
        if (request.delayPerBlockMs) await delay(request.delayPerBlockMs);
      }
    } catch (error) {
      if (!(error instanceof ConnectionLost)) throw error;
      resumes += 1;
      if (request.signal?.aborted || resumes > (request.maxResumes ?? 3)) {
        return { ok: false, reason: 'connection-lost', detail: error.message };
      }
      await delay(50 * resumes);
      request.onResume?.(received);
    } finally {
      connection.close();
    }
  }
}

function optionOf(packet: ParsedPacket, name: string): Buffer | undefined {
  return packet.options.find((option) => option.name === name)?.value;
}

/** A fresh UDP socket: after a drop the device comes back from a new source port, as after a NAT rebinding. */
function openConnection(target: { host: string; port: number }) {
  const socket = dgram.createSocket(target.host.includes(':') ? 'udp6' : 'udp4');
  let messageId = Math.floor(Math.random() * 0xffff);
  const byToken = new Map<string, (packet: ParsedPacket) => void>();
  const acknowledged = new Map<number, () => void>();
  const pending = new Set<() => void>();
  socket.on('message', (message) => {
    let packet: ParsedPacket;
    try {
      packet = parse(message);
    } catch {
      return;
    }
    if (packet.code === '0.00') {
      if (packet.ack) acknowledged.get(packet.messageId)?.();
      return;
    }
    byToken.get(packet.token.toString('hex'))?.(packet);
  });
  socket.on('error', () => undefined);

  function send(packet: Buffer): void {
    socket.send(packet, target.port, target.host);
  }

  return {
    get(segments: string[], block2: Buffer): Promise<ParsedPacket> {
      messageId = (messageId + 1) & 0xffff;
      const id = messageId;
      const token = Buffer.from(id.toString(16).padStart(4, '0'), 'hex');
      const request = generate({
        code: 'GET',
        confirmable: true,
        messageId: id,
        token,
        options: [
          ...segments.map((segment) => ({
            name: 'Uri-Path',
            value: Buffer.from(decodeURIComponent(segment)),
          })),
          { name: 'Block2', value: block2 },
        ],
      });
      return new Promise((resolve, reject) => {
        let attempt = 0;
        let timer: NodeJS.Timeout | undefined;
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          byToken.delete(token.toString('hex'));
          acknowledged.delete(id);
          pending.delete(abort);
          settle();
        };
        const abort = () => finish(() => reject(new ConnectionLost('connection closed')));
        pending.add(abort);
        byToken.set(token.toString('hex'), (response) => {
          // A separate response is confirmable and wants its own ACK.
          if (response.confirmable)
            send(generate({ code: '0.00', ack: true, messageId: response.messageId }));
          finish(() => resolve(response));
        });
        acknowledged.set(id, () => {
          clearTimeout(timer);
          timer = setTimeout(
            () => finish(() => reject(new ConnectionLost('the separate response never came'))),
            SEPARATE_RESPONSE_TIMEOUT_MS,
          );
        });
        const transmit = () => {
          send(request);
          timer = setTimeout(
            () => {
              attempt += 1;
              if (attempt > MAX_RETRANSMIT) {
                finish(() => reject(new ConnectionLost(`no answer after ${MAX_RETRANSMIT} retransmissions`)));
              } else {
                transmit();
              }
            },
            ACK_TIMEOUT_MS * 2 ** attempt,
          );
        };
        transmit();
      });
    },
    close() {
      for (const abort of [...pending]) abort();
      socket.close();
    },
  };
}
