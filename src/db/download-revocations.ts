import type { Database } from './database';

/** What stands against a download token of this package and device issued at `issuedAt`. */
export interface TokenRevocation {
  deviceDisabled: boolean;
  deviceTokensRevoked: boolean;
  packageTokensRevoked: boolean;
}

export async function findTokenRevocation(
  db: Pick<Database, 'query'>,
  packageId: string,
  deviceId: string,
  issuedAt: Date,
): Promise<TokenRevocation> {
  const { rows } = await db.query<{
    package_revoked: boolean;
    device_revoked: boolean;
    disabled: boolean;
  }>(
    `select
       coalesce((select tokens_revoked_at >= $3 from packages where id = $1), false) as package_revoked,
       coalesce((select tokens_revoked_at >= $3 from devices where id = $2), false) as device_revoked,
       coalesce((select disabled_at is not null from devices where id = $2), false) as disabled`,
    [packageId, deviceId, issuedAt],
  );
  const row = rows[0];
  return {
    deviceDisabled: row?.disabled ?? false,
    deviceTokensRevoked: row?.device_revoked ?? false,
    packageTokensRevoked: row?.package_revoked ?? false,
  };
}
