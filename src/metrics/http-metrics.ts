import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { OtaflowMetrics } from './metrics';

/** Where `noteMountPoint` leaves the path a request was routed under. */
const MOUNT_POINT = 'otaflowMountPoint';

/**
 * Counts and times every request by its route template (`/v1/tasks/:id`), never its path: a path
 * names devices and tasks, and as a label it would make one series per device. An error answered by
 * the app's error handler has left its router (express has reset `baseUrl` by then), so the router's
 * mount point is noted on the way in (`noteMountPoint`). A request answered before it reached a route
 * (refused credentials) counts under its mount point (`/v1/*`); one that matched nothing as `unmatched`.
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

/** Put in front of each mounted router (and its guards): notes the path it is mounted at. */
export function noteMountPoint(req: Request, res: Response, next: NextFunction): void {
  res.locals[MOUNT_POINT] = req.baseUrl;
  next();
}

function routeTemplate(req: Request, res: Response): string {
  const mount = typeof res.locals[MOUNT_POINT] === 'string' ? res.locals[MOUNT_POINT] : '';
  if (req.route?.path !== undefined) {
    const path = String(req.route.path);
    return mount && path === '/' ? mount : `${mount}${path}`;
  }
  return mount ? `${mount}/*` : 'unmatched';
}
