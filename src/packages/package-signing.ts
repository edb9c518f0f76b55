/**
 * Release signatures of packages. A deployment trusts a set of public keys (Ed25519 or ECDSA P-256,
 * one PEM file each in OTAFLOW_PACKAGE_SIGNING_KEYS_DIR, named for its signer); an upload carries a
 * detached signature, which must verify with one of them.
 *
 * What is signed is the package's SHA-256 digest (its 32 bytes), not the file: the digest is computed
 * while the file streams into the store, so a 2 GiB package is checked without being held in memory
 * (pure Ed25519 cannot be computed over a stream). docs/security.md shows the openssl commands.
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface TrustedSigningKey {
  /** The PEM file's name without `.pem`: who signed. */
  signer: string;
  algorithm: 'ed25519' | 'ecdsa-p256';
  key: KeyObject;
}

export interface PackageSigningPolicy {
  trustedKeys: TrustedSigningKey[];
  /** Whether a package without a signature is accepted. */
  unsignedAllowed: boolean;
}

export async function loadTrustedSigningKeys(dir: string): Promise<TrustedSigningKey[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((file) => file.endsWith('.pem')).sort();
  } catch (error) {
    throw new Error(`OTAFLOW_PACKAGE_SIGNING_KEYS_DIR: cannot read ${dir}: ${(error as Error).message}`);
  }
  if (files.length === 0) throw new Error(`OTAFLOW_PACKAGE_SIGNING_KEYS_DIR: ${dir} holds no .pem file`);
  const keys: TrustedSigningKey[] = [];
  for (const file of files) {
    const where = path.join(dir, file);
    let key: KeyObject;
    try {
      key = createPublicKey(await readFile(where, 'utf8'));
    } catch (error) {
      throw new Error(`${where} is not a PEM public key: ${(error as Error).message}`);
    }
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const algorithm =
      key.asymmetricKeyType === 'ed25519'
        ? 'ed25519'
        : key.asymmetricKeyType === 'ec' && curve === 'prime256v1'
          ? 'ecdsa-p256'
          : undefined;
    if (!algorithm) {
      throw new Error(
        `${where} is a ${key.asymmetricKeyType} ${curve ?? ''} key; Ed25519 or ECDSA P-256 only`,
      );
    }
    keys.push({ signer: file.slice(0, -'.pem'.length), algorithm, key });
  }
  return keys;
}

/** The signer whose key verifies `signature` (base64) over the SHA-256 digest `sha256` (hex). */
export function signerOf(keys: TrustedSigningKey[], sha256: string, signature: Buffer): string | undefined {
  const digest = Buffer.from(sha256, 'hex');
  for (const { signer, algorithm, key } of keys) {
    const verifies =
      algorithm === 'ed25519'
        ? verify(null, digest, key, signature)
        : verify(
            'sha256',
            digest,
            { key, dsaEncoding: signature.length === 64 ? 'ieee-p1363' : 'der' },
            signature,
          );
    if (verifies) return signer;
  }
  return undefined;
}
