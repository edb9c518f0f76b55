import type { Database } from '../src/db/database';
import type { PackageDownloads } from '../src/packages/download';
import { createDownloadTokenActivities } from './download-tokens';
import type { PlatformActivities } from './interfaces';
import { createNotificationActivities } from './notifications';
import { createRegistryActivities } from './registry';

export interface PlatformActivityDeps {
  db: Database;
  downloads: PackageDownloads;
}

/** The activities of TaskQueue.platform, wired with their dependencies. */
export function createActivities(deps: PlatformActivityDeps): PlatformActivities {
  return {
    ...createRegistryActivities(deps),
    ...createDownloadTokenActivities(deps),
    ...createNotificationActivities(deps),
  };
}
