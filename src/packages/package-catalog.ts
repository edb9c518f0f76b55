import { LRUCache } from 'lru-cache';
import type { Database } from '../db/database';
import { findPackage, type Package } from '../db/packages';

/**
 * Package rows by ID for the paths that ask for the same package again and again: a rollout's token
 * and download per device, the LwM2M gateway's lookup per block. A package never changes once
 * uploaded and is never deleted, so a known one is kept; an unknown ID is asked again each time (it
 * may be uploaded later).
 */
export interface PackageCatalog {
  find(packageId: string): Promise<Package | undefined>;
}

/** How many packages are kept: a fleet rolls out a handful at a time. */
const PACKAGES_KEPT = 256;

export function createPackageCatalog(db: Pick<Database, 'query'>): PackageCatalog {
  // fetchMethod's undefined (no such package) is not stored.
  const packages = new LRUCache<string, Package>({
    max: PACKAGES_KEPT,
    fetchMethod: (packageId) => findPackage(db, packageId),
  });
  return { find: (packageId) => packages.fetch(packageId) };
}
