import type { PackageInfo, PackageKind } from '../../workflows/definitions';
import type { Database } from './database';
import { type Page, type PageRequest, toPage } from './paging';

type Queryable = Pick<Database, 'query'>;

export interface PackageIdentity {
  product: string;
  model: string;
  kind: PackageKind;
  version: string;
}

export interface Package extends PackageIdentity {
  id: string;
  name: string;
  supportedSourceVersions: string[];
  fileName: string;
  size: number;
  sha256: string;
  /** The trusted key whose signature verified at upload; null for an unsigned package. */
  signedBy: string | null;
  signature: string | null;
  /** Set once retired: no new task may use it. */
  retiredAt: Date | null;
  objectKey: string;
  createdAt: Date;
}

export type NewPackage = Omit<Package, 'createdAt' | 'signedBy' | 'signature' | 'retiredAt'> &
  Partial<Pick<Package, 'signedBy' | 'signature'>>;

interface PackageRow {
  id: string;
  name: string;
  version: string;
  kind: PackageKind;
  product: string;
  model: string;
  supported_source_versions: string[];
  file_name: string;
  size: number | string;
  sha256: string;
  signed_by: string | null;
  signature: string | null;
  retired_at: Date | null;
  object_key: string;
  created_at: Date;
}

const packageColumns =
  'id, name, version, kind, product, model, supported_source_versions, file_name, size, sha256, signed_by, signature, retired_at, object_key, created_at';

function toPackage(row: PackageRow): Package {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    kind: row.kind,
    product: row.product,
    model: row.model,
    supportedSourceVersions: row.supported_source_versions,
    fileName: row.file_name,
    // PostgreSQL returns bigint as a string, PGlite as a number.
    size: Number(row.size),
    sha256: row.sha256,
    signedBy: row.signed_by,
    signature: row.signature,
    retiredAt: row.retired_at,
    objectKey: row.object_key,
    createdAt: row.created_at,
  };
}

/** What the device workflows are told about a package. */
export function toPackageInfo(pkg: Package): PackageInfo {
  return {
    id: pkg.id,
    kind: pkg.kind,
    version: pkg.version,
    fileName: pkg.fileName,
    size: pkg.size,
    sha256: pkg.sha256,
    supportedSourceVersions: pkg.supportedSourceVersions,
    ...(pkg.signature && { signature: pkg.signature }),
  };
}

/** Undefined when a package with the same product, model, kind and version exists already. */
export async function insertPackage(db: Queryable, pkg: NewPackage): Promise<Package | undefined> {
  const { rows } = await db.query<PackageRow>(
    `insert into packages (id, name, version, kind, product, model, supported_source_versions, file_name, size,
       sha256, object_key, signed_by, signature)
     values ($1, $2, $3, $4, $5, $6, $7::text[], $8, $9, $10, $11, $12, $13)
     on conflict (product, model, kind, version) do nothing returning ${packageColumns}`,
    [
      pkg.id,
      pkg.name,
      pkg.version,
      pkg.kind,
      pkg.product,
      pkg.model,
      pkg.supportedSourceVersions,
      pkg.fileName,
      pkg.size,
      pkg.sha256,
      pkg.objectKey,
      pkg.signedBy ?? null,
      pkg.signature ?? null,
    ],
  );
  return rows[0] && toPackage(rows[0]);
}

export async function findPackage(db: Queryable, id: string): Promise<Package | undefined> {
  const { rows } = await db.query<PackageRow>(`select ${packageColumns} from packages where id = $1`, [id]);
  return rows[0] && toPackage(rows[0]);
}

export async function findPackageByIdentity(
  db: Queryable,
  identity: PackageIdentity,
): Promise<Package | undefined> {
  const { rows } = await db.query<PackageRow>(
    `select ${packageColumns} from packages where product = $1 and model = $2 and kind = $3 and version = $4`,
    [identity.product, identity.model, identity.kind, identity.version],
  );
  return rows[0] && toPackage(rows[0]);
}

export async function listPackages(db: Queryable, page: PageRequest): Promise<Page<Package>> {
  const { rows } = await db.query<PackageRow>(
    `select ${packageColumns} from packages where $1::text is null or id > $1 order by id limit $2`,
    [page.cursor ?? null, page.limit + 1],
  );
  return toPage(rows.map(toPackage), page.limit, (pkg) => pkg.id);
}

/** Undefined when no such package exists; a package retired earlier keeps its first retirement time. */
export async function retirePackage(db: Queryable, id: string): Promise<Package | undefined> {
  const { rows } = await db.query<PackageRow>(
    `update packages set retired_at = coalesce(retired_at, now()) where id = $1 returning ${packageColumns}`,
    [id],
  );
  return rows[0] && toPackage(rows[0]);
}

/** Every download token of the package issued until now is refused from now on; false: no such package. */
export async function revokePackageTokens(db: Queryable, id: string): Promise<boolean> {
  const { rows } = await db.query(
    'update packages set tokens_revoked_at = now() where id = $1 returning id',
    [id],
  );
  return rows.length > 0;
}
