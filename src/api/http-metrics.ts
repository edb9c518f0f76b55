import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { OtaflowMetrics } from '../metrics/metrics';
import { routeTemplate } from './route-template';

/**
 * Counts and times every request by its route template (`/v1/tasks/:id`), never its path: as a label,
 * a path would make one series per device.
 */
export function httpMetrics(
  metrics: Pick<OtaflowMetrics, 'httpRequests' | 'httpRequestSeconds'>,
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const labels = { method: req.method, route: routeTemplate(req, res) };
      metrics.httpRequests.inc({ ...labels, status: String(res.statusCode) });
      metrics.httpRequestSeconds.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}
