import { setFlagsFromString } from 'node:v8';

/**
 * Bounds how far every V8 heap of this process grows past what its last full collection kept before
 * it collects again (`OTAFLOW_HEAP_GROWTH_PERCENT`; 0 leaves it to V8). The flag is process-wide and
 * read at each collection, so it holds for the heaps that exist and for the workflow threads the
 * workers start later. Why: garbage, not live state, made the peak with 10,000 upgrades in flight
 * (BENCHMARKS.md, "Where the in-flight peak came from").
 */
export function limitHeapGrowth(percent: number): void {
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}
