import type { SecretBox } from '../devices/secrets';
import type { Database } from './database';

/**
 * Every otaflow process sharing a database must hold the same secret key: it seals device, PSK and
 * webhook secrets and signs download tokens. The first process to start seals a known text into
 * `secret_key_check`; each later one opens it, so a process given another key is stopped at once
 * rather than failing each device login it cannot check. A database from before the check is held
 * to what it already sealed.
 */
const CHECK_TEXT = 'otaflow secret key check v1';

export async function holdsTheSharedSecretKey(db: Database, secrets: SecretBox): Promise<boolean> {
  const recorded = await readCheck(db);
  if (recorded !== undefined) return opens(secrets, recorded);
  const { rows } = await db.query<{ sealed: string }>(
    `(select secret_ciphertext as sealed from devices limit 1)
     union all (select secret_ciphertext as sealed from webhooks limit 1)`,
  );
  if (rows.some((row) => !opensSomething(secrets, row.sealed))) return false;
  await db.query('insert into secret_key_check (sealed) values ($1) on conflict do nothing', [
    secrets.encrypt(CHECK_TEXT),
  ]);
  // Another process may have written its own first.
  const written = await readCheck(db);
  return written !== undefined && opens(secrets, written);
}

async function readCheck(db: Database): Promise<string | undefined> {
  const { rows } = await db.query<{ sealed: string }>('select sealed from secret_key_check');
  return rows[0]?.sealed;
}

function opens(secrets: SecretBox, sealed: string): boolean {
  return opensSomething(secrets, sealed) && secrets.decrypt(sealed) === CHECK_TEXT;
}

function opensSomething(secrets: SecretBox, sealed: string): boolean {
  try {
    secrets.decrypt(sealed);
    return true;
  } catch {
    return false;
  }
}
