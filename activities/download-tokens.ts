import { ApplicationFailure } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import type { PackageDelivery } from '../src/mqtt/ota-protocol';
import { type PackageDownloads, UnknownPackageError } from '../src/packages/download';
import { MqttTimeouts } from '../workflows/timeouts';

/** Where the MQTT gateway's `deliverUpgrade` gets a device's download URL and token. */
export interface DownloadTokens {
  /** A MinIO presigned download, valid `MqttTimeouts.downloadToken`. */
  issueDownloadToken(
    packageId: string,
    deviceId: string,
  ): Promise<Omit<PackageDelivery, 'version' | 'fileName' | 'size' | 'sha256'>>;
}

export function createDownloadTokens(deps: { downloads: PackageDownloads }): DownloadTokens {
  return {
    // Every device gets a token of its own, naming it, so that its tokens can be revoked.
    async issueDownloadToken(packageId, deviceId) {
      try {
        return await deps.downloads.issueDownload(
          packageId,
          deviceId,
          msToNumber(MqttTimeouts.downloadToken) / 1000,
        );
      } catch (error) {
        if (error instanceof UnknownPackageError) {
          throw ApplicationFailure.nonRetryable(error.message, 'UnknownPackage');
        }
        throw error;
      }
    },
  };
}
