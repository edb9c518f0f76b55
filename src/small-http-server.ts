import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A plain HTTP server of a few fixed endpoints for probes and scrapers (`/healthz`, `/metrics`). */
export interface SmallHttpServer {
  url: string;
  stop(): Promise<void>;
}

export async function listenSmallHttpServer(
  host: string,
  port: number,
  handle: http.RequestListener,
): Promise<SmallHttpServer> {
  const server = http.createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
    stop: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
