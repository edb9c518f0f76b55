/**
 * Every recorded history in ./histories must replay against the current workflow code. A failure
 * here means a change would break upgrades already in flight: see docs/workflows.md ("Changing a
 * workflow") before touching a history.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { expect, it } from 'vitest';

const historiesDir = join(__dirname, 'histories');
const workflowsPath = join(__dirname, '../../workflows/index.ts');
const historyFiles = readdirSync(historiesDir).filter((file) => file.endsWith('.json'));

it('has recorded histories to replay', () => {
  expect(historyFiles.length).toBeGreaterThan(0);
});

it('replays every recorded history without nondeterminism', async () => {
  const histories = historyFiles.map((file) => ({
    workflowId: basename(file, '.json'),
    history: historyFromJSON(JSON.parse(readFileSync(join(historiesDir, file), 'utf8'))),
  }));

  const failures: string[] = [];
  for await (const replay of Worker.runReplayHistories({ workflowsPath }, histories)) {
    if (replay.error) failures.push(`${replay.workflowId}: ${replay.error.message}`);
  }

  expect(failures).toEqual([]);
});
