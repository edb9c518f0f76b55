import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const child = path.join(__dirname, '../support/heap-growth-child.ts');

async function peakHeapMib(percent: number): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child, String(percent)]);
  return Number(stdout.trim());
}

describe('limitHeapGrowth', () => {
  it('bounds the heap of a worker thread started after it, as the workflow threads are', async () => {
    const atDefault = await peakHeapMib(50);
    const atV8Maximum = await peakHeapMib(300);
    // The same live objects and the same garbage: only how far the heap may grow differs.
    expect(atDefault).toBeGreaterThan(0);
    expect(atDefault).toBeLessThan(atV8Maximum * 0.7);
  }, 60_000);
});
