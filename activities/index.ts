import type { Client } from '@temporalio/client';
import type { Database } from '../src/db/database';
import type { OtaflowMetrics } from '../src/metrics/metrics';
import type { PackageDownloads } from '../src/packages/download';
import type { PlatformActivities, RolloutActivities } from './interfaces';
import { createNotificationActivities } from './notifications';
import { createRegistryActivities } from './registry';
import { createRolloutActivities } from './rollout';

export interface PlatformActivityDeps {
  db: Database;
  downloads: PackageDownloads;
  /** Signals device results to rollout tasks. */
  temporal: Client;
  /** Counts the upgrades that start and end, times their steps (src/metrics/metrics.ts). */
  metrics: Pick<OtaflowMetrics, 'upgradesStarted' | 'upgradesEnded' | 'upgradeStepSeconds'>;
}

/** The activities of TaskQueue.platform, wired with their dependencies. */
export function createActivities(deps: PlatformActivityDeps): PlatformActivities & RolloutActivities {
  return {
    ...createRegistryActivities(deps),
    ...createNotificationActivities(deps),
    ...createRolloutActivities(deps),
  };
}
