/**
 * Every recorded history in ./histories/<release>/ must replay against the current workflow code. A
 * failure here means a change would break workflows in flight on that release: see
 * docs/versioning.md before touching a history. Every workflow type the worker registers must have
 * histories of the current release, so no type escapes the check.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { expect, it } from 'vitest';
import { version } from '../../package.json';
import * as workflows from '../../workflows';

const historiesDir = join(__dirname, 'histories');
const workflowsPath = join(__dirname, '../../workflows/index.ts');
const historyFiles = readdirSync(historiesDir, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.json'))
  .sort();

function workflowTypeOf(file: string): string | undefined {
  const history = JSON.parse(readFileSync(join(historiesDir, file), 'utf8'));
  return history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
}

it(`has histories of the current release (${version}) for every workflow type the worker registers`, () => {
  const current = historyFiles.filter((file) => file.startsWith(`${version}/`));
  const covered = new Set(current.map(workflowTypeOf));
  expect(Object.keys(workflows).filter((type) => !covered.has(type))).toEqual([]);
});

it('has only histories of workflow types the worker registers', () => {
  const registered = new Set(Object.keys(workflows));
  expect(historyFiles.filter((file) => !registered.has(workflowTypeOf(file) ?? ''))).toEqual([]);
});

it('replays every recorded history without nondeterminism', async () => {
  const histories = historyFiles.map((file) => ({
    workflowId: file.replace(/\.json$/, ''),
    history: historyFromJSON(JSON.parse(readFileSync(join(historiesDir, file), 'utf8'))),
  }));

  const failures: string[] = [];
  for await (const replay of Worker.runReplayHistories({ workflowsPath }, histories)) {
    if (replay.error) failures.push(`${replay.workflowId}: ${replay.error.message}`);
  }

  expect(failures).toEqual([]);
});
