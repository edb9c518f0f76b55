import type { NextFunction, Request, Response } from 'express';

/** Where `noteMountPoint` leaves the path a request was routed under. */
const MOUNT_POINT = 'otaflowMountPoint';

/** Put in front of each mounted router (and its guards): notes the path it is mounted at. */
export function noteMountPoint(req: Request, res: Response, next: NextFunction): void {
  res.locals[MOUNT_POINT] = req.baseUrl;
  next();
}

/**
 * The route a request was answered by, as a template (`/v1/tasks/:id`), never its path: a path names
 * devices and tasks. An error answered by the app's error handler has left its router (express has
 * reset `baseUrl` by then), hence the mount point noted on the way in. A request answered before it
 * reached a route (refused credentials) is its mount point's (`/v1/*`); one that matched nothing is
 * `unmatched`.
 */
export function routeTemplate(req: Request, res: Response): string {
  const mount = typeof res.locals[MOUNT_POINT] === 'string' ? res.locals[MOUNT_POINT] : '';
  if (req.route?.path !== undefined) {
    const path = String(req.route.path);
    return mount && path === '/' ? mount : `${mount}${path}`;
  }
  return mount ? `${mount}/*` : 'unmatched';
}
