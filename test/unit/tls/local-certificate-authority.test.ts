import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureLocalCertificates } from '../../../src/tls/local-certificate-authority';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otaflow-local-ca-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Completes a TLS handshake to a server on `files`, as a device given `caFile` would, asking for `servername`. */
async function handshake(
  files: { certFile: string; keyFile: string },
  caFile: string,
  host: string,
): Promise<string> {
  const server = tls.createServer(
    { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) },
    (socket) => socket.end(),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    return await new Promise((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: host, ca: readFileSync(caFile) });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve('verified');
      });
      socket.once('error', (error) => resolve(error.message));
    });
  } finally {
    server.close();
  }
}

describe('the local certificate authority', () => {
  it('issues a server certificate that a client holding only the CA verifies, for each name asked', async () => {
    const local = await ensureLocalCertificates(dir, ['localhost', '127.0.0.1', 'ota.example.test']);
    expect(local).toMatchObject({ createdAuthority: true, issuedServerCertificate: true });
    const certificate = new X509Certificate(readFileSync(local.certFile));
    expect(certificate.checkHost('ota.example.test')).toBe('ota.example.test');
    expect(certificate.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(certificate.ca).toBe(false);
    expect(await handshake(local, local.caFile, 'ota.example.test')).toBe('verified');
    expect(await handshake(local, local.caFile, 'elsewhere.example.test')).toMatch(/does not match/);
    expect(statSync(path.join(dir, 'ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(local.keyFile).mode & 0o777).toBe(0o600);
  });

  it('reuses the CA and the certificate at the next start', async () => {
    const first = await ensureLocalCertificates(dir, ['localhost']);
    const ca = readFileSync(first.caFile, 'utf8');
    const certificate = readFileSync(first.certFile, 'utf8');
    const second = await ensureLocalCertificates(dir, ['localhost']);
    expect(second).toMatchObject({ createdAuthority: false, issuedServerCertificate: false });
    expect(readFileSync(second.caFile, 'utf8')).toBe(ca);
    expect(readFileSync(second.certFile, 'utf8')).toBe(certificate);
  });

  it('issues the certificate again under the same CA when a new name is asked for, so devices keep trusting it', async () => {
    const first = await ensureLocalCertificates(dir, ['localhost']);
    const ca = readFileSync(first.caFile, 'utf8');
    const second = await ensureLocalCertificates(dir, ['localhost', 'meters.example.test']);
    expect(second).toMatchObject({ createdAuthority: false, issuedServerCertificate: true });
    expect(readFileSync(second.caFile, 'utf8')).toBe(ca);
    expect(await handshake(second, second.caFile, 'meters.example.test')).toBe('verified');
  });
});
