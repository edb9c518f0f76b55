import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureLocalCertificates } from '../../../src/tls/local-certificate-authority';
import { loadServerCredentials, type ServerCredentials } from '../../../src/tls/server-credentials';
import { silentLogger } from '../api/fakes';

let dir: string;
let credentials: ServerCredentials | undefined;
let server: tls.Server | undefined;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-credentials-'));
});
afterEach(() => {
  credentials?.stop();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The fingerprint of the certificate a new connection is served. */
async function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? 'none');
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

const fingerprintOf = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;

describe('server credentials', () => {
  it('serves a renewed certificate to new connections without a restart, and keeps the old one when the new files do not make a pair', async () => {
    const first = await ensureLocalCertificates(path.join(dir, 'first'), ['localhost']);
    const renewed = await ensureLocalCertificates(path.join(dir, 'renewed'), ['localhost']);
    const served = { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') };
    copyFileSync(first.certFile, served.certFile);
    copyFileSync(first.keyFile, served.keyFile);

    credentials = loadServerCredentials(served, silentLogger, 50);
    const listening = tls.createServer(credentials.current(), (socket) => socket.end());
    server = listening;
    credentials.serve(listening);
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    const { port } = listening.address() as { port: number };
    expect(await servedFingerprint(port)).toBe(fingerprintOf(first.certFile));

    // A certificate without its key: not a pair, so the first one is still served.
    copyFileSync(renewed.certFile, served.certFile);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await servedFingerprint(port)).toBe(fingerprintOf(first.certFile));

    copyFileSync(renewed.keyFile, served.keyFile);
    await expect
      .poll(() => servedFingerprint(port), { timeout: 5_000 })
      .toBe(fingerprintOf(renewed.certFile));
  });

  it('names the file that cannot be read', () => {
    writeFileSync(path.join(dir, 'cert.pem'), 'not a certificate');
    expect(() =>
      loadServerCredentials(
        { certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'missing-key.pem') },
        silentLogger,
      ),
    ).toThrow(`cannot read ${path.join(dir, 'missing-key.pem')}`);
  });
});
