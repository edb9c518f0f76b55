/**
 * `/metrics` in Prometheus' text format, on a port of its own (OTAFLOW_METRICS_PORT): never on the
 * API's port, which devices reach for their downloads, so that the fleet's figures stay on the
 * network the operators' Prometheus scrapes from.
 */
import type { Registry } from 'prom-client';
import { listenSmallHttpServer, type SmallHttpServer } from '../small-http-server';

export type MetricsServer = SmallHttpServer;

export function startMetricsServer(host: string, port: number, registry: Registry): Promise<MetricsServer> {
  return listenSmallHttpServer(host, port, (request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('not found: the metrics are at GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        response.writeHead(200, { 'content-type': registry.contentType });
        response.end(text);
      },
      (error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end(`collecting the metrics failed: ${(error as Error).message}\n`);
      },
    );
  });
}
