/**
 * The certificates of a fresh installation: on first start otaflow creates a certificate authority of
 * its own in the data dir and a server certificate it signs, and reuses both after. Devices are given
 * the CA file (as devices built for the seed platform are given the platform's CA) and verify the
 * server against it. The server certificate is issued again when it nears its end or no longer names
 * every address devices use; the CA stays, so devices keep trusting the new one.
 *
 * Production deployments set OTAFLOW_TLS_CERT_FILE / OTAFLOW_TLS_KEY_FILE instead (docs/security.md).
 */
import { X509Certificate as NodeX509Certificate, randomBytes, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export interface LocalCertificates {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Whether this start created the CA. */
  createdAuthority: boolean;
  /** Whether this start issued the server certificate. */
  issuedServerCertificate: boolean;
}

export const KEY_ALGORITHM: webcrypto.EcKeyGenParams & webcrypto.EcKeyImportParams = {
  name: 'ECDSA',
  namedCurve: 'P-256',
};
export const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;
const AUTHORITY_LIFETIME_DAYS = 3650;
/** Within the 398 days browsers and TLS libraries accept for a server certificate. */
const SERVER_CERTIFICATE_LIFETIME_DAYS = 397;
/** A server certificate this close to its end is issued again at start. */
const RENEW_BEFORE_DAYS = 30;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export async function ensureLocalCertificates(dir: string, hostnames: string[]): Promise<LocalCertificates> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = {
    caFile: path.join(dir, 'ca.pem'),
    caKeyFile: path.join(dir, 'ca-key.pem'),
    certFile: path.join(dir, 'server.pem'),
    keyFile: path.join(dir, 'server-key.pem'),
  };
  const createdAuthority = !(existsSync(files.caFile) && existsSync(files.caKeyFile));
  if (createdAuthority) await createAuthority(files.caFile, files.caKeyFile);
  const issuedServerCertificate =
    createdAuthority || !(await serverCertificateFits(files.certFile, files.keyFile, hostnames));
  if (issuedServerCertificate) {
    await issueServerCertificate(files, hostnames);
  }
  return {
    caFile: files.caFile,
    certFile: files.certFile,
    keyFile: files.keyFile,
    createdAuthority,
    issuedServerCertificate,
  };
}

async function createAuthority(caFile: string, caKeyFile: string): Promise<void> {
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const authority = await x509.X509CertificateGenerator.createSelfSigned({
    // Distinct per installation: trust stores find a certificate's issuer by name, so two local CAs
    // named alike in one bundle would stand for each other.
    name: `CN=otaflow local CA ${new Date(now).toISOString().slice(0, 10)} ${randomBytes(4).toString('hex')}`,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + AUTHORITY_LIFETIME_DAYS * DAY_MS),
    keys: keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  await writeSecretFile(caKeyFile, await privateKeyPem(keys.privateKey));
  await writePublicFile(caFile, authority.toString('pem'));
}

async function serverCertificateFits(
  certFile: string,
  keyFile: string,
  hostnames: string[],
): Promise<boolean> {
  if (!existsSync(certFile) || !existsSync(keyFile)) return false;
  const certificate = new NodeX509Certificate(await readFile(certFile));
  if (new Date(certificate.validTo).getTime() - Date.now() < RENEW_BEFORE_DAYS * DAY_MS) return false;
  return hostnames.every((name) =>
    isIP(name) ? certificate.checkIP(name) !== undefined : certificate.checkHost(name) !== undefined,
  );
}

async function issueServerCertificate(
  files: { caFile: string; caKeyFile: string; certFile: string; keyFile: string },
  hostnames: string[],
): Promise<void> {
  const authority = new x509.X509Certificate(await readFile(files.caFile, 'utf8'));
  const authorityKey = await webcrypto.subtle.importKey(
    'pkcs8',
    pemBody(await readFile(files.caKeyFile, 'utf8')),
    KEY_ALGORITHM,
    false,
    ['sign'],
  );
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.create({
    subject: `CN=${hostnames[0] ?? 'localhost'}`,
    issuer: authority.subject,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + SERVER_CERTIFICATE_LIFETIME_DAYS * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: authorityKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        hostnames.map((name) => ({ type: isIP(name) ? 'ip' : 'dns', value: name })),
      ),
      await x509.AuthorityKeyIdentifierExtension.create(authority.publicKey),
    ],
  });
  await writeSecretFile(files.keyFile, await privateKeyPem(keys.privateKey));
  // The chain a client needs besides its CA: the server certificate alone.
  await writePublicFile(files.certFile, certificate.toString('pem'));
}

/** A private key as PKCS #8 PEM. */
export async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

/** The DER bytes of a PEM block. */
export function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** Written whole or not at all: a crash half-way leaves the old file (or none). */
async function writeAtomically(file: string, content: string, mode: number): Promise<void> {
  const partial = `${file}.partial`;
  await writeFile(partial, content, { mode });
  await rename(partial, file);
}

const writeSecretFile = (file: string, content: string) => writeAtomically(file, content, 0o600);
/** PEM ending in a newline, so that files concatenated into a CA bundle stay readable. */
const writePublicFile = (file: string, pem: string) => writeAtomically(file, `${pem.trimEnd()}\n`, 0o644);
