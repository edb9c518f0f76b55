/**
 * `npm run histories:record` (RECORD_HISTORIES=1) saves the histories of selected workflow tests to
 * test/replay/histories/, which the replay suite replays against the current workflow code.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const historiesDir = join(__dirname, '../replay/histories');

export async function recordHistory(name: string, handle: WorkflowHandle): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  await writeFile(join(historiesDir, `${name}.json`), historyToJSON(await handle.fetchHistory()));
}
