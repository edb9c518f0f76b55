/**
 * What the LwM2M gateway needs of the platform's packages to serve them block-wise: the port between
 * the gateway (package-blocks.ts, package-chunks.ts) and the package store and catalog.
 */
import type { PackageStore } from '../packages/package-store';

export interface DeliverablePackage {
  objectKey: string;
  sha256: string;
  size: number;
}

export interface PackageSource {
  /** Asked once per block: the platform's is cached (src/packages/package-catalog.ts). */
  lookup(packageId: string): Promise<DeliverablePackage | undefined>;
  store: Pick<PackageStore, 'openRange'>;
  /** Package bytes kept in memory for delivery (package-chunks.ts, `LWM2M_PACKAGE_CACHE_MB`). */
  cacheBytes: number;
}
