import { ApplicationFailure } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import { type PackageDownloads, UnknownPackageError } from '../src/packages/download';
import { MqttTimeouts } from '../workflows/timeouts';
import type { PlatformActivities } from './interfaces';

export function createDownloadTokenActivities(deps: {
  downloads: PackageDownloads;
}): Pick<PlatformActivities, 'issueDownloadToken'> {
  return {
    // Every device gets a token of its own; the device ID is not part of it (MinIO's presigned URLs
    // name the object only), which is what lets unchanged seed-platform devices use it.
    async issueDownloadToken(packageId, _deviceId) {
      try {
        return await deps.downloads.issueDownload(packageId, msToNumber(MqttTimeouts.downloadToken) / 1000);
      } catch (error) {
        if (error instanceof UnknownPackageError) {
          throw ApplicationFailure.nonRetryable(error.message, 'UnknownPackage');
        }
        throw error;
      }
    },
  };
}
