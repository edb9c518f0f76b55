/**
 * Package bytes for block-wise delivery. A fleet downloading one firmware asks for each of its
 * 512-byte blocks once per device; reading every block from the package store would cost one S3
 * request per block. Instead the bytes are read a chunk (64 KiB) at a time and kept in a cache
 * bounded in bytes (least recently used chunks leave first), so 1,000 devices cost one read per
 * chunk while the chunk stays cached. Chunks are keyed by the package's SHA-256: a package's content
 * never changes, so a cached chunk is never stale. Concurrent requests for a missing chunk share one read.
 */
import { LRUCache } from 'lru-cache';
import type { PackageStore } from '../packages/package-store';
import type { DeliverablePackage } from './package-source';

export const CHUNK_BYTES = 64 * 1024;

export interface PackageChunkReader {
  /** `length` bytes of the package from `offset`, which must lie within it. */
  read(pkg: DeliverablePackage, offset: number, length: number): Promise<Buffer>;
}

/** What a chunk's read needs besides its key. */
interface ChunkSource {
  pkg: DeliverablePackage;
  index: number;
}

export function createPackageChunkReader(
  store: Pick<PackageStore, 'openRange'>,
  cacheBytes: number,
): PackageChunkReader {
  const chunks = new LRUCache<string, Buffer, ChunkSource>({
    maxSize: Math.max(cacheBytes, CHUNK_BYTES),
    sizeCalculation: (chunk) => chunk.length,
    fetchMethod: async (_key, _stale, { context: { pkg, index } }) => {
      const offset = index * CHUNK_BYTES;
      return readAll(await store.openRange(pkg.objectKey, offset, Math.min(CHUNK_BYTES, pkg.size - offset)));
    },
  });

  async function chunk(pkg: DeliverablePackage, index: number): Promise<Buffer> {
    const bytes = await chunks.fetch(`${pkg.sha256}:${index}`, { context: { pkg, index } });
    if (!bytes) throw new Error(`chunk ${index} of package ${pkg.objectKey} could not be read`);
    return bytes;
  }

  return {
    async read(pkg, offset, length) {
      const end = Math.min(offset + length, pkg.size);
      const parts: Buffer[] = [];
      for (let index = Math.floor(offset / CHUNK_BYTES); index * CHUNK_BYTES < end; index++) {
        const start = index * CHUNK_BYTES;
        const bytes = await chunk(pkg, index);
        parts.push(bytes.subarray(Math.max(0, offset - start), Math.min(bytes.length, end - start)));
      }
      return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    },
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}
