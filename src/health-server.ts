/**
 * `/healthz` for a process that does not serve the API (which answers it on its own port): what a
 * supervisor's liveness probe asks (the Helm chart's, compose's). Alive means the process is up and
 * its roles started; it checks no server it depends on.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Role } from './config';

export interface HealthServer {
  url: string;
  stop(): Promise<void>;
}

export async function startHealthServer(
  host: string,
  port: number,
  roles: ReadonlySet<Role>,
): Promise<HealthServer> {
  const body = JSON.stringify({ status: 'ok', roles: [...roles] });
  const server = http.createServer((request, response) => {
    const found = request.method === 'GET' && request.url === '/healthz';
    response.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
    response.end(found ? body : JSON.stringify({ status: 'not found' }));
  });
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
