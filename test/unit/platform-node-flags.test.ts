import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PLATFORM_NODE_FLAGS } from '../../src/platform-node-flags';

const root = path.resolve(__dirname, '../..');
const scripts = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts as Record<
  string,
  string
>;
const imageCommand = readFileSync(path.join(root, 'Dockerfile'), 'utf8')
  .split('\n')
  .find((line) => line.startsWith('CMD '));

describe("otaflow's Node flags (src/platform-node-flags.ts)", () => {
  it.each(['start', 'demo'])('npm run %s starts otaflow with them', (script) => {
    const words = scripts[script]?.split(' ') ?? [];
    expect(words.slice(0, 1 + PLATFORM_NODE_FLAGS.length)).toEqual(['tsx', ...PLATFORM_NODE_FLAGS]);
  });

  it('the image starts otaflow with them', () => {
    const command = JSON.parse(imageCommand?.slice('CMD '.length) ?? '[]') as string[];
    expect(command).toEqual(['node_modules/.bin/tsx', ...PLATFORM_NODE_FLAGS, 'src/cli/start.ts']);
  });
});
