import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../../src/db/database';
import { insertDevice } from '../../../src/db/devices';
import { holdsTheSharedSecretKey } from '../../../src/db/secret-key-check';
import { createSecretBox } from '../../../src/devices/secrets';
import { openTempDatabase } from './temp-database';

describe('the secret key every process sharing a database must hold', () => {
  const keyA = createSecretBox(Buffer.alloc(32, 0xa));
  const keyB = createSecretBox(Buffer.alloc(32, 0xb));
  let db: Database;
  let dispose: () => Promise<void>;

  beforeEach(async () => {
    ({ db, dispose } = await openTempDatabase());
  });
  afterEach(() => dispose());

  it('is set by the first process; the same key passes after it, another does not', async () => {
    expect(await holdsTheSharedSecretKey(db, keyA)).toBe(true);
    expect(await holdsTheSharedSecretKey(db, keyA)).toBe(true);
    expect(await holdsTheSharedSecretKey(db, keyB)).toBe(false);
    const { rows } = await db.query('select count(*)::int as rows from secret_key_check');
    expect(rows).toEqual([{ rows: 1 }]);
  });

  it('holds a database from before the check to the key its device secrets are sealed with', async () => {
    await insertDevice(db, {
      id: 'sealed-under-a',
      protocol: 'mqtt',
      product: 'meter',
      model: 'm1',
      secretCiphertext: keyA.encrypt('device secret'),
    });
    expect(await holdsTheSharedSecretKey(db, keyB)).toBe(false);
    const { rows } = await db.query('select count(*)::int as rows from secret_key_check');
    expect(rows).toEqual([{ rows: 0 }]);
    expect(await holdsTheSharedSecretKey(db, keyA)).toBe(true);
    expect(await holdsTheSharedSecretKey(db, keyB)).toBe(false);
  });
});
