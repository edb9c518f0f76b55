import type { VersionReport } from '../../workflows/definitions';
import type { DeviceRegistry } from '../devices/registry';
import type { SecretBox } from '../devices/secrets';
import type { Database } from './database';
import { findDevice, findSecretCiphertext, markSeen, recordVersions, setPresence } from './devices';
import { recordProgress } from './tasks';

export function createDeviceRegistry(db: Database, secrets: SecretBox): DeviceRegistry {
  return {
    async getDeviceSecret(deviceId: string) {
      const ciphertext = await findSecretCiphertext(db, deviceId);
      return ciphertext === undefined ? undefined : secrets.decrypt(ciphertext);
    },
    setPresence: (deviceId: string, online: boolean, at: Date) => setPresence(db, deviceId, online, at),
    async isOnline(deviceId: string) {
      return (await findDevice(db, deviceId))?.online ?? false;
    },
    markSeen: (deviceId: string, at: Date) => markSeen(db, deviceId, at),
    recordReportedVersions: (deviceId: string, report: VersionReport, at: Date) =>
      recordVersions(db, deviceId, report, at),
    recordUpgradeProgress: (deviceId: string, progress: number, description: string | undefined, at: Date) =>
      recordProgress(db, deviceId, progress, description, at),
  };
}
