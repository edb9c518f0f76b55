import { Router } from 'express';
import type { Database } from '../../db/database';
import { newId } from '../../db/ids';
import {
  findPackage,
  findPackageByIdentity,
  insertPackage,
  listPackages,
  type Package,
  retirePackage,
  revokePackageTokens,
} from '../../db/packages';
import { type PackageSigningPolicy, signerOf } from '../../packages/package-signing';
import { EmptyPackageError, type PackageStore, PackageTooLargeError } from '../../packages/package-store';
import { receivePackageUpload } from '../package-upload';
import { conflict, HttpProblem, invalidInput, notFound } from '../problem';
import { PackageParams, PageQuery } from '../schemas';
import { parseInput } from '../validate';

/** The object key is never shown: downloads go through the API with a token. */
function publicPackage({ objectKey: _objectKey, ...pkg }: Package) {
  return pkg;
}

export function packagesRouter(deps: {
  db: Database;
  packageStore: PackageStore;
  maxPackageBytes: number;
  packageSigning: PackageSigningPolicy;
}): Router {
  const { db, packageStore, packageSigning } = deps;
  const router = Router({ caseSensitive: true });

  router.post('/', async (req, res) => {
    if (!req.is('multipart/form-data')) {
      throw new HttpProblem(
        415,
        'Unsupported media type',
        'upload a package as multipart/form-data: the fields, then the file part',
      );
    }
    try {
      const upload = await receivePackageUpload(req, {
        async storeFile(fields, file) {
          const clash = await findPackageByIdentity(db, fields);
          if (clash) throw duplicate(clash);
          refuseUnverifiableSignature(fields.signature, packageSigning);
          const id = newId('pkg');
          const objectKey = `packages/${id}`;
          return { id, objectKey, ...(await packageStore.putPackage(objectKey, file, deps.maxPackageBytes)) };
        },
        discard: (stored) => packageStore.removePackage(stored.objectKey),
      });
      const { fields, fileName, stored } = upload;
      let signedBy: string | undefined;
      try {
        checkExpectedDigest(fields.sha256, stored.sha256);
        signedBy = verifiedSigner(fields.signature, stored.sha256, packageSigning);
      } catch (refused) {
        await packageStore.removePackage(stored.objectKey);
        throw refused;
      }
      const { signature, sha256: _expected, ...identity } = fields;
      const pkg = await insertPackage(db, { ...identity, ...stored, fileName, signedBy, signature });
      if (!pkg) {
        await packageStore.removePackage(stored.objectKey);
        throw conflict(
          `a ${fields.kind} package ${fields.version} for ${fields.product}/${fields.model} exists already`,
        );
      }
      res.status(201).location(`/v1/packages/${pkg.id}`).json(publicPackage(pkg));
    } catch (error) {
      // The rest of an unread body is not worth receiving.
      if (!req.complete) res.set('Connection', 'close');
      throw uploadProblem(error);
    }
  });

  router.get('/', async (req, res) => {
    const page = await listPackages(db, parseInput(PageQuery, req.query, 'query'));
    res.json({ ...page, items: page.items.map(publicPackage) });
  });

  /** No new task may use a retired package; tasks that use it already go on. */
  router.post('/:id/retire', async (req, res) => {
    const { id } = parseInput(PackageParams, req.params, 'params');
    const pkg = await retirePackage(db, id);
    if (!pkg) throw notFound(`package ${id} does not exist`);
    res.json(publicPackage(pkg));
  });

  /** Every download token of the package issued until now is refused. */
  router.post('/:id/revoke-tokens', async (req, res) => {
    const { id } = parseInput(PackageParams, req.params, 'params');
    if (!(await revokePackageTokens(db, id))) throw notFound(`package ${id} does not exist`);
    res.status(204).end();
  });

  router.get('/:id', async (req, res) => {
    const { id } = parseInput(PackageParams, req.params, 'params');
    const pkg = await findPackage(db, id);
    if (!pkg) throw notFound(`package ${id} does not exist`);
    res.json(publicPackage(pkg));
  });

  return router;
}

function duplicate(existing: Package): HttpProblem {
  return conflict(
    `a ${existing.kind} package ${existing.version} for ${existing.product}/${existing.model} exists already (${existing.id})`,
    [{ path: 'version', message: 'already uploaded for this product, model and kind' }],
  );
}

function uploadProblem(error: unknown): unknown {
  if (error instanceof PackageTooLargeError) {
    return new HttpProblem(413, 'Package too large', error.message, [
      { path: 'file', message: error.message },
    ]);
  }
  if (error instanceof EmptyPackageError)
    return invalidInput(error.message, [{ path: 'file', message: 'empty' }]);
  return error;
}

/** Before any byte is stored: a signature is needed, or cannot be checked. */
function refuseUnverifiableSignature(signature: string | undefined, policy: PackageSigningPolicy): void {
  if (signature === undefined && !policy.unsignedAllowed) {
    throw invalidInput('this deployment accepts signed packages only', [
      { path: 'signature', message: "required: a trusted release key's signature of the file's SHA-256" },
    ]);
  }
  if (signature !== undefined && policy.trustedKeys.length === 0) {
    throw invalidInput('no release signing keys are configured, so no signature can be checked', [
      { path: 'signature', message: 'set OTAFLOW_PACKAGE_SIGNING_KEYS_DIR, or upload without a signature' },
    ]);
  }
}

function checkExpectedDigest(expected: string | undefined, actual: string): void {
  if (expected !== undefined && expected.toLowerCase() !== actual) {
    throw invalidInput("the file's SHA-256 is not the expected one", [
      { path: 'sha256', message: `the file's SHA-256 is ${actual}` },
    ]);
  }
}

function verifiedSigner(
  signature: string | undefined,
  sha256: string,
  policy: PackageSigningPolicy,
): string | undefined {
  if (signature === undefined) return undefined;
  const signer = signerOf(policy.trustedKeys, sha256, Buffer.from(signature, 'base64'));
  if (!signer) {
    throw invalidInput('the signature does not verify with any trusted release key', [
      {
        path: 'signature',
        message: `not a signature of this file's SHA-256 (${sha256}) by ${policy.trustedKeys.map((key) => key.signer).join(', ')}`,
      },
    ]);
  }
  return signer;
}
