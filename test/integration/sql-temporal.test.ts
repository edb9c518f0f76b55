import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedLwm2mDevice } from '../../src/simulator/lwm2m-device';
import { type SqlTemporalServer, startSqlTemporalServer } from '../../src/stack/temporal-server';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { outcomesOf, runTaskToCompletion, uploadFirmware } from '../support/rollout';
import { type RealStack, startRealStack } from '../support/stack/real-stack';

/**
 * otaflow on Temporal's own server backed by PostgreSQL (src/stack/temporal-server.ts), the way its
 * users run Temporal, rather than on the dev server's SQLite file: the schema migrated by Temporal's
 * SQL tool, the namespace registered, otaflow's search attributes added by otaflow at start, and
 * devices upgraded through it.
 */

const PRODUCT = { product: 'sql-meter', model: 'SQ-1' };
const TARGET = '2.0.0';

describe('otaflow on a PostgreSQL-backed Temporal server', () => {
  let stack: RealStack;
  let temporal: SqlTemporalServer;
  let platform: TestPlatform;
  const devices: SimulatedLwm2mDevice[] = [];
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-sql-temporal-'));

  beforeAll(async () => {
    stack = await startRealStack();
    temporal = await startSqlTemporalServer({ postgresUrl: stack.postgres.url, dataDir });
    platform = await startTestPlatform(stack, { temporal: { TEMPORAL_ADDRESS: temporal.address } });
  }, 240_000);

  afterAll(async () => {
    await Promise.all(devices.map((device) => device.stop()));
    await platform?.stop();
    await temporal?.stop();
    await stack?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('upgrades LwM2M devices, its workflows in PostgreSQL', async () => {
    const ids = ['sql-meter-1', 'sql-meter-2', 'sql-meter-3'];
    for (const [index, id] of ids.entries()) {
      await platform.api.post('/v1/devices', { id, protocol: 'lwm2m', ...PRODUCT, lwm2mSecurity: 'none' });
      const device = new SimulatedLwm2mDevice({
        endpoint: id,
        serverUri: platform.addresses.lwm2m,
        cellId: 500 + index,
        firmwareVersion: '1.0.0',
        updatedVersion: TARGET,
      });
      devices.push(device);
      await device.start();
    }
    const pkg = await uploadFirmware(platform.api, { ...PRODUCT, version: TARGET });
    const taskId = await runTaskToCompletion(platform.api, pkg.id, ids, 120_000);
    expect(await outcomesOf(platform.api, taskId)).toEqual(
      Object.fromEntries(ids.map((id) => [id, 'succeeded'])),
    );

    // The histories are in the server's PostgreSQL database, not in a dev server's file.
    const { Client } = await import('pg');
    const client = new Client({ connectionString: stack.postgres.url.replace(/\/[^/]*$/, '/temporal') });
    await client.connect();
    try {
      const { rows } = await client.query<{ runs: string }>('select count(*)::text as runs from executions');
      expect(Number(rows[0]?.runs)).toBeGreaterThanOrEqual(ids.length + 1);
    } finally {
      await client.end();
    }
  }, 180_000);
});
