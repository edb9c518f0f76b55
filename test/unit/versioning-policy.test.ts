/**
 * docs/versioning.md's table of what is live must match the code: every patch ID a workflow uses and
 * every workflow type the worker registers is listed, and nothing listed is gone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as workflows from '../../workflows';

const root = join(__dirname, '../..');
const policy = readFileSync(join(root, 'docs/versioning.md'), 'utf8');

/** The rows of the "What is live" table: `name` → kind. */
function liveRows(): Map<string, string> {
  const section = policy.slice(policy.indexOf('## What is live'));
  const rows = new Map<string, string>();
  for (const match of section.matchAll(/^\| `([^`]+)` \| (type|patch) \|/gm)) {
    rows.set(match[1] as string, match[2] as string);
  }
  return rows;
}

function patchIdsInWorkflows(): string[] {
  const files = readdirSync(join(root, 'workflows'), { recursive: true, encoding: 'utf8' }).filter((file) =>
    file.endsWith('.ts'),
  );
  const ids = new Set<string>();
  for (const file of files) {
    const source = readFileSync(join(root, 'workflows', file), 'utf8');
    for (const call of source.matchAll(/\b(?:patched|deprecatePatch)\(\s*([^)]*)\)/g)) {
      const literal = /^['"`]([^'"`]+)['"`]$/.exec((call[1] as string).trim());
      // A patch ID must be a literal, so that this check (and a reader) can find it.
      ids.add(literal ? (literal[1] as string) : `(not a literal in ${file}: ${call[1]})`);
    }
  }
  return [...ids].sort();
}

describe('docs/versioning.md', () => {
  it('lists exactly the workflow types workflows/index.ts registers', () => {
    const listed = [...liveRows()].filter(([, kind]) => kind === 'type').map(([name]) => name);
    expect(listed.sort()).toEqual(Object.keys(workflows).sort());
  });

  it('lists exactly the patch IDs the workflows use', () => {
    const listed = [...liveRows()].filter(([, kind]) => kind === 'patch').map(([name]) => name);
    expect(listed.sort()).toEqual(patchIdsInWorkflows());
  });
});
