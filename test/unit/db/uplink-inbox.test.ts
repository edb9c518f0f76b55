import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/db/database';
import { createDatabaseUplinkInbox, HANDLED_UPLINK_RETENTION_HOURS } from '../../../src/db/uplink-inbox';
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

  it('knows a redelivery of what it recorded, handled or not, by packet ID, device and payload', async () => {
    const inbox = createDatabaseUplinkInbox(db, 'gateway-redelivered');
    const other = createDatabaseUplinkInbox(db, 'gateway-other');
    const report = uplink('meter-5', 'result 0');
    const id = await inbox.record(report, 17);
    const again = (packetId: number, deviceId = 'meter-5', payload = 'result 0') =>
      inbox.recordedBefore({ deviceId, payload: Buffer.from(payload) }, packetId);

    expect(await again(17)).toBe(true);
    expect(await again(18)).toBe(false);
    expect(await again(17, 'meter-6')).toBe(false);
    expect(await again(17, 'meter-5', 'result 1')).toBe(false);
    expect(await other.recordedBefore(report, 17)).toBe(false);

    await inbox.markHandled(id);
    expect(await inbox.unfinished()).toEqual([]);
    expect(await again(17)).toBe(true);
  });

  it('keeps handled uplinks a day, then deletes them at a heartbeat', async () => {
    const inbox = createDatabaseUplinkInbox(db, 'gateway-pruning');
    const old = await inbox.record(uplink('meter-7', 'yesterday'), 1);
    const recent = await inbox.record(uplink('meter-7', 'today'), 2);
    await inbox.markHandled(old);
    await inbox.markHandled(recent);
    await db.query(`update uplink_inbox set handled_at = now() - make_interval(hours => $2) where id = $1`, [
      old,
      HANDLED_UPLINK_RETENTION_HOURS + 1,
    ]);
    await inbox.heartbeat();
    const { rows } = await db.query<{ id: string }>(
      `select id::text from uplink_inbox where received_by = 'gateway-pruning' order by id`,
    );
    expect(rows.map((row) => row.id)).toEqual([recent]);
  });
});
