import type { Database } from '../db/database';
import { findTokenRevocation } from '../db/download-revocations';
import type { DownloadRevocations } from './download';

/** Tokens are refused for a disabled device, and when issued before their device's or package's revocation. */
export function createDownloadRevocations(db: Pick<Database, 'query'>): DownloadRevocations {
  return {
    async refusal(packageId, deviceId, issuedAt) {
      const revocation = await findTokenRevocation(db, packageId, deviceId, issuedAt);
      if (revocation.deviceDisabled) return 'the access token was revoked: its device is disabled';
      if (revocation.deviceTokensRevoked)
        return 'the access token was revoked with every token of its device';
      if (revocation.packageTokensRevoked)
        return 'the access token was revoked with every token of this package';
      return undefined;
    },
  };
}
