import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/db/database';
import { createDatabaseUplinkInbox } from '../../../src/db/uplink-inbox';
import { openTempDatabase } from './temp-database';

describe('the uplink inbox of several gateways', () => {
  let db: Database;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    ({ db, dispose } = await openTempDatabase());
  });
  afterAll(() => dispose());

  const uplink = (deviceId: string, text: string) => ({
    deviceId,
    payload: Buffer.from(text),
    receivedAt: new Date(),
  });

  it('adopts what a silent gateway left, oldest first, and nothing of a gateway that beats', async () => {
    const dead = createDatabaseUplinkInbox(db, 'gateway-dead');
    const alive = createDatabaseUplinkInbox(db, 'gateway-alive');
    const adopter = createDatabaseUplinkInbox(db, 'gateway-adopter');
    await dead.heartbeat();
    await alive.heartbeat();
    await adopter.heartbeat();
    const first = await dead.record(uplink('meter-1', 'first'));
    const second = await dead.record(uplink('meter-2', 'second'));
    await alive.record(uplink('meter-3', 'in hand'));
    await db.query(
      `update gateway_heartbeats set seen_at = now() - interval '10 minutes' where gateway_id = 'gateway-dead'`,
    );

    const adopted = await adopter.adoptFromSilentGateways(5 * 60_000);
    expect(adopted.map((row) => [row.id, row.deviceId, row.payload.toString()])).toEqual([
      [first, 'meter-1', 'first'],
      [second, 'meter-2', 'second'],
    ]);
    expect((await adopter.unfinished()).map((row) => row.id)).toEqual([first, second]);
    expect(await dead.unfinished()).toEqual([]);
    expect((await alive.unfinished()).map((row) => row.payload.toString())).toEqual(['in hand']);
    expect(await adopter.adoptFromSilentGateways(5 * 60_000)).toEqual([]);
  });

  it('counts a gateway that never beat (one from before heartbeats) as silent', async () => {
    const old = createDatabaseUplinkInbox(db, 'local');
    const adopter = createDatabaseUplinkInbox(db, 'gateway-new');
    await adopter.heartbeat();
    const id = await old.record(uplink('meter-4', 'before the upgrade'));
    expect((await adopter.adoptFromSilentGateways(5 * 60_000)).map((row) => row.id)).toEqual([id]);
  });
});
