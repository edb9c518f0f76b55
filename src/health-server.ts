/**
 * `/healthz` and `/readyz` for a process that does not serve the API (which answers them on its own
 * port): what a supervisor's probes ask (the Helm chart's, compose's). `/healthz`: the process is up
 * and its roles started, checking no server it depends on; `/readyz`: those servers answer
 * (src/readiness.ts).
 */
import type http from 'node:http';
import type { Role } from './config';
import { type Readiness, readinessStatusCode } from './readiness';
import { listenSmallHttpServer, type SmallHttpServer } from './small-http-server';

export type HealthServer = SmallHttpServer;

export interface HealthServerOptions {
  host: string;
  port: number;
  roles: ReadonlySet<Role>;
  readiness: () => Promise<Readiness>;
}

export function startHealthServer({
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
  return listenSmallHttpServer(host, port, (request, response) => {
    if (request.method === 'GET' && request.url === '/healthz') return answer(response, 200, alive);
    if (request.method === 'GET' && request.url === '/readyz') {
      void readiness().then((ready) =>
        answer(response, readinessStatusCode(ready), JSON.stringify({ ...ready, roles: [...roles] })),
      );
      return;
    }
    answer(response, 404, JSON.stringify({ status: 'not found' }));
  });
}
