import http, { type Server } from 'node:http';
import https from 'node:https';
import type { Express } from 'express';
import type { ServerCredentials } from '../tls/server-credentials';

/**
 * A request may take as long as its largest allowed body needs at this rate: Node's default of 300 s
 * for every request broke each package upload slower than ~57 Mbit/s for 2 GiB.
 */
export const SLOWEST_UPLOAD_BYTES_PER_SECOND = 64 * 1024;
/** A connection that sends and receives nothing this long is closed (a stalled upload, a stuck client). */
export const IDLE_CONNECTION_MS = 2 * 60 * 1000;
/** Headers must arrive within this (slow-header clients hold sockets without sending a body). */
export const HEADERS_TIMEOUT_MS = 60 * 1000;

export function requestDeadlineMs(maxBodyBytes: number): number {
  return Math.max(5 * 60 * 1000, Math.ceil((maxBodyBytes / SLOWEST_UPLOAD_BYTES_PER_SECOND) * 1000));
}

/**
 * The API's server, over HTTPS when given credentials (the one devices download from), with deadlines
 * that fit `maxBodyBytes` (a package upload).
 */
export function listenApi(
  app: Express,
  host: string,
  port: number,
  maxBodyBytes: number,
  credentials?: ServerCredentials,
): Promise<Server> {
  const server: Server = credentials
    ? https.createServer(credentials.current(), app)
    : http.createServer(app);
  if (credentials) credentials.serve(server as https.Server);
  server.requestTimeout = requestDeadlineMs(maxBodyBytes);
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.timeout = IDLE_CONNECTION_MS;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
