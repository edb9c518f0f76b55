/**
 * Where a thread's CPU went, from the `.cpuprofile` files `--cpu-prof` writes (one per thread):
 *
 *   BENCH_PLATFORM_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench -- --scenario mqtt --devices 1000 --runs 1
 *   npx tsx bench/profile-summary.ts /tmp/prof/*.cpuprofile [--from 5 --to 140]
 *
 * `--from`/`--to` (seconds since the thread started) keep one phase; the busy timeline per 10 s
 * shows where the phases are. Busy time is every sample that is not `(idle)`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Costs of the SDK's workflow sandbox and of Node, by the frames they show up as: `self` groups
 * count the samples taken in the frame itself (native frames, whose callees are JS code counted
 * elsewhere), the others every sample with the frame anywhere on the stack.
 */
const GROUPS: { name: string; self: boolean; matches: (frame: string) => boolean }[] = [
  {
    name: 'vm.runInContext, native (its per-call timeout watchdog thread)',
    self: true,
    matches: (frame) => frame === 'runInContext :-1',
  },
  {
    name: "promise stack traces (the SDK's promise hook, Error.stack)",
    self: false,
    matches: (frame) => /^init .*vm-shared\.js|prepareStackTrace|^get stack /.test(frame),
  },
  { name: 'garbage collector', self: true, matches: (frame) => frame.startsWith('(garbage collector)') },
  { name: 'socket writes (writev)', self: true, matches: (frame) => frame === 'writev :-1' },
];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { from: { type: 'string' }, to: { type: 'string' }, top: { type: 'string', default: '10' } },
});
const fromS = Number(values.from ?? 0);
const toS = Number(values.to ?? Number.POSITIVE_INFINITY);

for (const file of positionals) summarize(file);

function summarize(file: string): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const frameOf = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    return `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber}`;
  };

  const self = new Map<string, number>();
  const grouped = new Map<string, number>();
  const timeline = new Map<number, number>();
  let busyUs = 0;
  let atUs = 0;
  profile.samples.forEach((id, index) => {
    const deltaUs = profile.timeDeltas[index] ?? 0;
    atUs += deltaUs;
    const node = nodes.get(id);
    if (!node || node.callFrame.functionName === '(idle)') return;
    const bin = Math.floor(atUs / 10e6) * 10;
    timeline.set(bin, (timeline.get(bin) ?? 0) + deltaUs);
    if (atUs < fromS * 1e6 || atUs >= toS * 1e6) return;
    busyUs += deltaUs;
    const frame = frameOf(node);
    self.set(frame, (self.get(frame) ?? 0) + deltaUs);
    const stack: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const ancestor = nodes.get(at);
      if (ancestor) stack.push(frameOf(ancestor));
    }
    for (const { name, self: selfOnly, matches } of GROUPS) {
      if (selfOnly ? matches(frame) : stack.some(matches))
        grouped.set(name, (grouped.get(name) ?? 0) + deltaUs);
    }
  });

  const share = (us: number) =>
    `${(us / 1e6).toFixed(2)} s ${((100 * us) / Math.max(1, busyUs)).toFixed(1)} %`;
  console.log(`\n${path.basename(file)}: busy ${(busyUs / 1e6).toFixed(1)} s between ${fromS} and ${toS} s`);
  console.log(
    `  busy per 10 s: ${[...timeline].map(([bin, us]) => `${bin}:${Math.round(us / 1e5)}%`).join(' ')}`,
  );
  for (const [group, us] of grouped) console.log(`  ${share(us).padStart(16)}  ${group}`);
  const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
  for (const [frame, us] of top) console.log(`  ${share(us).padStart(16)}  self: ${frame}`);
}
