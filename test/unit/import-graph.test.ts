/**
 * The layout shows the architecture only if dependencies go one way: no module imports itself back
 * through others, and no two folders of src/ (nor src/, activities/ and workflows/) depend on each
 * other. The one edge allowed back is the samples' pattern: workflow code imports the activities'
 * *types* (activities/interfaces.ts), which themselves import workflow definitions.
 */
import { join } from 'node:path';
import madge from 'madge';
import { beforeAll, describe, expect, it } from 'vitest';

const root = join(__dirname, '../..');
let graph: Record<string, string[]>;
let circular: string[][];

beforeAll(async () => {
  const result = await madge(['src', 'workflows', 'activities', 'bench'], {
    baseDir: root,
    fileExtensions: ['ts'],
    tsConfig: join(root, 'tsconfig.json'),
  });
  graph = result.obj();
  circular = result.circular();
}, 60_000);

/**
 * `src/mqtt/gateway.ts` → `src/mqtt`; `workflows/lwm2m/steps.ts` → `workflows`. A file at the root of
 * src/ (`src/platform.ts`, `src/config.ts`) stands alone: the process wiring depends on everything.
 */
function folderOf(file: string): string {
  const [top, second] = file.split('/');
  return top === 'src' ? `src/${second}` : (top as string);
}

const ALLOWED_BACK_EDGES = new Set(['activities/interfaces.ts']);

describe('the import graph', () => {
  it('has no cycles between modules', () => {
    expect(circular).toEqual([]);
  });

  it('has no cycles between folders', () => {
    const edges = new Map<string, Set<string>>();
    for (const [from, imports] of Object.entries(graph)) {
      for (const to of imports) {
        if (ALLOWED_BACK_EDGES.has(to)) continue;
        const [a, b] = [folderOf(from), folderOf(to)];
        if (a === b || (!b.includes('/') && b.endsWith('.ts'))) continue;
        edges.set(a, (edges.get(a) ?? new Set()).add(b));
      }
    }
    const both = [...edges].flatMap(([a, targets]) =>
      [...targets].filter((b) => a < b && edges.get(b)?.has(a)).map((b) => `${a} <-> ${b}`),
    );
    expect(both).toEqual([]);
  });
});
