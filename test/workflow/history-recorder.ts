/**
 * `npm run histories:record` (RECORD_HISTORIES=1) saves the histories of selected workflow tests to
 * test/replay/histories/<release>/<flow>-<path>.json, which the replay suite replays against the
 * current workflow code.
 *
 * A history already there is never overwritten: it stands for workflows in flight on that release,
 * and replacing it would hide the very incompatibility the replay suite exists to catch. A new release
 * records into a new folder (docs/versioning.md).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const historiesDir = join(__dirname, '../replay/histories');

export async function recordHistory(name: string, handle: WorkflowHandle): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const file = join(historiesDir, `${name}.json`);
  if (existsSync(file)) return;
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, historyToJSON(await handle.fetchHistory()));
}
