/**
 * Package delivery over CoAP (seed 000: "Software packages can be downloaded in segments, and
 * resumable download is supported. The versionCheckCode field carried in a software package
 * segment determines the software package to which the segment belongs."). The resource
 * `/fw/<packageId>/<versionCheckCode>` is served block-wise (Block2, RFC 7959): each request reads
 * only its block (from the chunk of the package store that holds it, package-chunks.ts), so any
 * block can be asked for at any time, in any order.
 * A code that is not the package's gets 4.04: a block of another version is never handed out.
 */
import { OutgoingMessage as CoapOutgoingMessage, type IncomingMessage, type OutgoingMessage } from 'coap';
import type { Logger } from '../logger';
import type { OtaflowMetrics } from '../metrics/metrics';
import { ContentFormat } from './content-formats';
import { createPackageChunkReader } from './package-chunks';
import type { PackageSource } from './package-source';

export const PACKAGE_PATH_PREFIX = 'fw';
/** The largest block CoAP over UDP allows (SZX 6); BERT (SZX 7) is for TCP only. */
const MAX_SZX = 6;

export function versionCheckCode(sha256: string): string {
  return sha256.slice(0, 16).toLowerCase();
}

export function packagePath(packageId: string, sha256: string): string {
  return `/${PACKAGE_PATH_PREFIX}/${encodeURIComponent(packageId)}/${versionCheckCode(sha256)}`;
}

export interface BlockOption {
  num: number;
  more: boolean;
  szx: number;
}

export function parseBlockOption(value: Buffer): BlockOption {
  if (value.length > 3) throw new Error(`a block option is at most 3 bytes, got ${value.length}`);
  const raw = value.length === 0 ? 0 : value.readUIntBE(0, value.length);
  return { num: raw >> 4, more: (raw & 0x08) !== 0, szx: raw & 0x07 };
}

export function encodeBlockOption({ num, more, szx }: BlockOption): Buffer {
  const raw = (num << 4) | (more ? 0x08 : 0) | szx;
  const length = raw === 0 ? 0 : raw <= 0xff ? 1 : raw <= 0xffff ? 2 : 3;
  const buffer = Buffer.alloc(length);
  if (length > 0) buffer.writeUIntBE(raw, 0, length);
  return buffer;
}

export function blockSize(szx: number): number {
  return 2 ** (szx + 4);
}

/** Handles a request whose path starts with /fw; answers 4.04 for anything that is not a current package. */
export function createPackageBlockHandler(
  source: PackageSource,
  log: Logger,
  metrics?: Pick<OtaflowMetrics, 'packageBytesServed' | 'coapBlocksServed'>,
) {
  const bytesOf = createPackageChunkReader(source.store, source.cacheBytes);

  return async function servePackageBlock(
    segments: string[],
    request: IncomingMessage,
    response: OutgoingMessage,
  ) {
    const [, encodedId, code] = segments;
    if (segments.length !== 3 || encodedId === undefined || code === undefined) {
      return answer(response, '4.04', 'expected /fw/<packageId>/<versionCheckCode>');
    }
    if (request.method !== 'GET') return answer(response, '4.05', 'packages are read with GET');
    const packageId = decodeURIComponent(encodedId);
    const pkg = await source.lookup(packageId);
    if (!pkg || versionCheckCode(pkg.sha256) !== code.toLowerCase()) {
      log.info({ packageId, versionCheckCode: code }, 'package block refused: no such package version');
      return answer(response, '4.04', 'no package with this id and versionCheckCode');
    }
    const requested = request._packet.options?.find((option) => option.name === 'Block2')?.value;
    let block: BlockOption = { num: 0, more: false, szx: MAX_SZX };
    if (Buffer.isBuffer(requested)) {
      try {
        block = parseBlockOption(requested);
      } catch (error) {
        return answer(response, '4.02', (error as Error).message);
      }
    }
    const szx = Math.min(block.szx, MAX_SZX);
    const size = blockSize(szx);
    const offset = block.num * size;
    if (offset >= pkg.size) {
      return answer(
        response,
        '4.02',
        `block ${block.num} of ${size} bytes starts beyond the package's ${pkg.size} bytes`,
      );
    }
    const length = Math.min(size, pkg.size - offset);
    const bytes = await bytesOf.read(pkg, offset, length);
    response.code = '2.05';
    response.setOption('Content-Format', ContentFormat.opaque);
    response.setOption('ETag', versionCheckCode(pkg.sha256).slice(0, 8));
    response.setOption('Size2', pkg.size);
    response.setOption(
      'Block2',
      encodeBlockOption({ num: block.num, more: offset + length < pkg.size, szx }),
    );
    sendAsIs(response, bytes);
    metrics?.coapBlocksServed.inc();
    metrics?.packageBytesServed.inc({ transport: 'coap' }, length);
  };
}

/**
 * node-coap's server response treats its payload as the whole resource and slices the requested
 * block out of it; this payload is already the block, so it is sent without that step.
 */
function sendAsIs(response: OutgoingMessage, payload?: Buffer): void {
  CoapOutgoingMessage.prototype.end.call(response, payload);
}

function answer(response: OutgoingMessage, code: string, diagnostic: string): void {
  response.code = code;
  sendAsIs(response, Buffer.from(diagnostic));
}
