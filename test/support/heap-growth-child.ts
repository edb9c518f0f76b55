import { Worker } from 'node:worker_threads';
import { limitHeapGrowth } from '../../src/heap-growth';

/**
 * Run by test/unit/heap-growth.test.ts in a process of its own (the flag is process-wide):
 * `limitHeapGrowth(<percent>)`, then a worker thread started afterwards, as the workers' workflow
 * threads are, keeps 800,000 objects alive while it makes garbage, and prints its heap's peak
 * size in MiB.
 */
limitHeapGrowth(Number(process.argv[2]));
const makeGarbage = `
const { getHeapStatistics } = require('node:v8');
const { parentPort } = require('node:worker_threads');
const kept = Array.from({ length: 500000 }, (_, i) => ({ i, s: 'kept' + i }));
const ring = new Array(300000);
let peak = 0;
for (let i = 0; i < 8000000; i++) {
  ring[i % ring.length] = { s: 'garbage' + i, n: [i] };
  if (i % 10000 === 0) peak = Math.max(peak, getHeapStatistics().total_heap_size);
}
parentPort.postMessage(kept.length > 0 ? peak / 2 ** 20 : 0);
`;
new Worker(makeGarbage, { eval: true }).on('message', (peakMib: number) => {
  process.stdout.write(`${peakMib}\n`);
});
