/**
 * A Temporal frontend that requires mutual TLS, for tests: the dev server (which has no TLS of its
 * own) behind a TLS listener that negotiates HTTP/2 and refuses any client without a certificate
 * from the test's CA, then passes the gRPC bytes through. Clients see what a hardened cluster shows
 * them: TLS 1.2+, a server certificate for `localhost` only (so 127.0.0.1 needs a server name), and
 * a handshake that fails without a client certificate.
 */
import { webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import {
  ensureLocalCertificates,
  KEY_ALGORITHM,
  pemBody,
  privateKeyPem,
  SIGNING_ALGORITHM,
} from '../../../src/tls/local-certificate-authority';

export interface TemporalTlsFront {
  /** `127.0.0.1:port`, TLS with a client certificate required. */
  address: string;
  caFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** Connections whose client certificate was verified. */
  authorizedConnections(): number;
  stop(): Promise<void>;
}

export async function startTemporalTlsFront(
  devServerAddress: string,
  dir: string,
): Promise<TemporalTlsFront> {
  const certificates = await ensureLocalCertificates(dir, ['localhost']);
  const client = await issueClientCertificate(certificates.caFile, path.join(dir, 'ca-key.pem'), dir);
  const [upstreamHost, upstreamPort] = splitAddress(devServerAddress);
  let authorized = 0;
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    {
      cert: readFileSync(certificates.certFile),
      key: readFileSync(certificates.keyFile),
      ca: readFileSync(certificates.caFile),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['h2'],
    },
    (secure) => {
      if (secure.authorized) authorized++;
      const upstream = net.connect(upstreamPort, upstreamHost);
      sockets.add(secure).add(upstream);
      secure.pipe(upstream).pipe(secure);
      const close = () => {
        secure.destroy();
        upstream.destroy();
        sockets.delete(secure);
        sockets.delete(upstream);
      };
      secure.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    caFile: certificates.caFile,
    ...client,
    authorizedConnections: () => authorized,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

async function issueClientCertificate(
  caFile: string,
  caKeyFile: string,
  dir: string,
): Promise<{ clientCertFile: string; clientKeyFile: string }> {
  const authority = new x509.X509Certificate(readFileSync(caFile, 'utf8'));
  const authorityKey = await webcrypto.subtle.importKey(
    'pkcs8',
    pemBody(readFileSync(caKeyFile, 'utf8')),
    KEY_ALGORITHM,
    false,
    ['sign'],
  );
  const keys = await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.create({
    subject: 'CN=otaflow-worker',
    issuer: authority.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 24 * 60 * 60 * 1000),
    publicKey: keys.publicKey,
    signingKey: authorityKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  const clientCertFile = path.join(dir, 'client.pem');
  const clientKeyFile = path.join(dir, 'client-key.pem');
  writeFileSync(clientCertFile, `${certificate.toString('pem')}\n`);
  writeFileSync(clientKeyFile, await privateKeyPem(keys.privateKey), { mode: 0o600 });
  return { clientCertFile, clientKeyFile };
}
