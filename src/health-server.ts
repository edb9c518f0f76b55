/**
 * `/healthz` and `/readyz` for a process that does not serve the API (which answers them on its own
 * port): what a supervisor's probes ask (the Helm chart's, compose's). `/healthz`: the process is up
 * and its roles started, checking no server it depends on; `/readyz`: those servers answer
 * (src/readiness.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Role } from './config';
import { type Readiness, readinessStatusCode } from './readiness';

export interface HealthServer {
  url: string;
  stop(): Promise<void>;
}

export interface HealthServerOptions {
  host: string;
  port: number;
  roles: ReadonlySet<Role>;
  readiness: () => Promise<Readiness>;
}

export async function startHealthServer({
  host,
  port,
  roles,
  readiness,
}: HealthServerOptions): Promise<HealthServer> {
  const alive = JSON.stringify({ status: 'ok', roles: [...roles] });
  const answer = (response: http.ServerResponse, statusCode: number, body: string) => {
    response.writeHead(statusCode, { 'content-type': 'application/json' });
    response.end(body);
  };
  const server = http.createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/healthz') return answer(response, 200, alive);
    if (request.method === 'GET' && request.url === '/readyz') {
      void readiness().then((ready) =>
        answer(response, readinessStatusCode(ready), JSON.stringify({ ...ready, roles: [...roles] })),
      );
      return;
    }
    answer(response, 404, JSON.stringify({ status: 'not found' }));
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
