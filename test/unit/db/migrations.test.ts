import { afterEach, describe, expect, it } from 'vitest';
import { migrate, migrations } from '../../../src/db/migrations';
import { openDatabase } from '../../../src/db/open-database';
import { openTempDatabase } from './temp-database';

describe('migrations', () => {
  let dispose: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await dispose?.();
    dispose = undefined;
  });

  it('applies each migration once, and the data survives reopening', async () => {
    const temp = await openTempDatabase();
    dispose = temp.dispose;
    await temp.db.query(
      `insert into devices (id, protocol, product, model, secret_ciphertext) values ('d1', 'mqtt', 'p', 'm', 'x')`,
    );
    await migrate(temp.db);
    await temp.db.close();

    const reopened = await openDatabase({ dataDir: temp.dataDir });
    dispose = async () => {
      await reopened.close().catch(() => undefined);
      await temp.dispose().catch(() => undefined);
    };
    const applied = await reopened.query<{ id: number }>('select id from schema_migrations order by id');
    expect(applied.rows.map((row) => Number(row.id))).toEqual(migrations.map((migration) => migration.id));
    expect((await reopened.query('select id from devices')).rows).toEqual([{ id: 'd1' }]);
  }, 60_000);

  it('refuses a device with a protocol otaflow does not speak', async () => {
    const temp = await openTempDatabase();
    dispose = temp.dispose;
    await expect(
      temp.db.query(
        `insert into devices (id, protocol, product, model, secret_ciphertext) values ('d', 'coap', 'p', 'm', 'x')`,
      ),
    ).rejects.toThrow(/check constraint/);
  }, 60_000);

  it('rolls a failed transaction back entirely', async () => {
    const temp = await openTempDatabase();
    dispose = temp.dispose;
    await expect(
      temp.db.transaction(async (tx) => {
        await tx.query(
          `insert into devices (id, protocol, product, model, secret_ciphertext) values ('d1', 'mqtt', 'p', 'm', 'x')`,
        );
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await temp.db.query('select id from devices')).rows).toEqual([]);
  }, 60_000);
});
