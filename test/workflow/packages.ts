import type { PackageInfo } from '../../workflows/definitions';

/** A 2.0.0 package of the given kind that upgrades from any version unless told otherwise. */
export function packageOf(kind: PackageInfo['kind'], overrides: Partial<PackageInfo> = {}): PackageInfo {
  return {
    id: `${kind}-2.0.0`,
    kind,
    version: '2.0.0',
    fileName: `${kind}-2.0.0.bin`,
    size: 4096,
    sha256: 'a3'.repeat(32),
    supportedSourceVersions: [],
    ...overrides,
  };
}
