import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Database } from '../../../src/db/database';
import { openDatabase } from '../../../src/db/open-database';

/** A PGlite database in a fresh temp dir; `dispose` closes it and removes the dir. */
export async function openTempDatabase(): Promise<{
  db: Database;
  dataDir: string;
  dispose(): Promise<void>;
}> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'otaflow-db-'));
  const db = await openDatabase({ dataDir });
  return {
    db,
    dataDir,
    async dispose() {
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function emptyTables(db: Database): Promise<void> {
  await db.query(
    `truncate webhook_deliveries, webhooks, idempotency_keys, api_keys, device_group_members, device_groups,
      lwm2m_registrations, lwm2m_observations, task_devices, tasks, packages, devices, uplink_inbox`,
  );
}
