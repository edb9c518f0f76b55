import type { DownloadRevocations } from '../packages/download';
import type { Database } from './database';

/** Tokens are refused for a disabled device, and when issued before their device's or package's revocation. */
export function createDownloadRevocations(db: Pick<Database, 'query'>): DownloadRevocations {
  return {
    async refusal(packageId, deviceId, issuedAt) {
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
      if (row?.disabled) return 'the access token was revoked: its device is disabled';
      if (row?.device_revoked) return 'the access token was revoked with every token of its device';
      if (row?.package_revoked) return 'the access token was revoked with every token of this package';
      return undefined;
    },
  };
}
