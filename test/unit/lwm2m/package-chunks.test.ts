import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES, createPackageChunkReader } from '../../../src/lwm2m/package-chunks';

/** A package store holding one object, counting the ranges read from it. */
function storeOf(content: Buffer) {
  const reads: Array<{ offset: number; length?: number }> = [];
  return {
    reads,
    store: {
      openRange: async (_objectKey: string, offset: number, length?: number) => {
        reads.push({ offset, length });
        await new Promise((resolve) => setTimeout(resolve, 5));
        return Readable.from([content.subarray(offset, length === undefined ? undefined : offset + length)]);
      },
    },
  };
}

const content = randomBytes(2 * CHUNK_BYTES + 1000);
const pkg = { objectKey: 'packages/fw.bin', sha256: 'a'.repeat(64), size: content.length };

describe('package chunks', () => {
  it('answers any range with the package bytes, across chunk boundaries', async () => {
    const { store } = storeOf(content);
    const reader = createPackageChunkReader(store, 1024 * 1024);
    for (const [offset, length] of [
      [0, 512],
      [CHUNK_BYTES - 100, 300],
      [CHUNK_BYTES * 2 + 512, 488],
      [10, 2 * CHUNK_BYTES],
      [content.length - 1, 1024],
    ] as const) {
      expect(await reader.read(pkg, offset, length)).toEqual(
        content.subarray(offset, Math.min(offset + length, content.length)),
      );
    }
  });

  it('reads each chunk from the store once for many devices asking at the same time', async () => {
    const { store, reads } = storeOf(content);
    const reader = createPackageChunkReader(store, 1024 * 1024);
    const blocks = Array.from({ length: Math.ceil(content.length / 512) }, (_, n) => n * 512);
    const devices = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const parts = [];
        for (const offset of blocks) parts.push(await reader.read(pkg, offset, 512));
        return Buffer.concat(parts);
      }),
    );
    // Buffer.equals: a deep comparison of 20 × 132 KB takes seconds.
    expect(devices.every((downloaded) => downloaded.equals(content))).toBe(true);
    expect(reads).toEqual([
      { offset: 0, length: CHUNK_BYTES },
      { offset: CHUNK_BYTES, length: CHUNK_BYTES },
      { offset: 2 * CHUNK_BYTES, length: 1000 },
    ]);
  });

  it('keeps no more than its size in memory: an evicted chunk is read again', async () => {
    const { store, reads } = storeOf(content);
    const reader = createPackageChunkReader(store, CHUNK_BYTES);
    await reader.read(pkg, 0, 512);
    await reader.read(pkg, CHUNK_BYTES, 512);
    await reader.read(pkg, 512, 512);
    expect(reads.map((read) => read.offset)).toEqual([0, CHUNK_BYTES, 0]);
  });

  it('passes a store failure on, and reads again on the next request', async () => {
    let fail = true;
    const reader = createPackageChunkReader(
      {
        openRange: async (_key, offset, length) => {
          if (fail) throw new Error('the package store failed (InternalError)');
          return Readable.from([content.subarray(offset, offset + (length ?? 0))]);
        },
      },
      1024 * 1024,
    );
    await expect(reader.read(pkg, 0, 512)).rejects.toThrow('InternalError');
    fail = false;
    expect(await reader.read(pkg, 0, 512)).toEqual(content.subarray(0, 512));
  });
});
