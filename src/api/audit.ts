/**
 * The audit log's writer: every change attempted through the API — each request other than GET and
 * HEAD that carried a valid API key — is appended to `audit_log` once it is answered: which key,
 * method, path and route, status, the created resource's Location, and the client's address. No
 * request or response body is kept, so no secret can be.
 */
import type { RequestHandler } from 'express';
import { appendAuditEntry } from '../db/audit-log';
import type { Database } from '../db/database';
import type { Logger } from '../logger';
import { callerOf } from './auth';

/** Mount after `authenticate`. */
export function auditChanges(deps: { db: Database; logger: Logger }): RequestHandler {
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD') {
      next();
      return;
    }
    const apiKeyId = callerOf(res).id;
    const path = req.originalUrl.split('?')[0] ?? req.originalUrl;
    res.on('finish', () => {
      // A handler that answered leaves express's state as it matched: the router's mount and its route.
      const routePath = req.route?.path as string | undefined;
      const route = routePath === undefined ? null : `${req.baseUrl}${routePath === '/' ? '' : routePath}`;
      const entry = {
        apiKeyId,
        method: req.method,
        path,
        route,
        status: res.statusCode,
        location: res.get('location') ?? null,
        address: req.socket.remoteAddress ?? null,
      };
      appendAuditEntry(deps.db, entry).catch((error: unknown) =>
        deps.logger.error({ err: error, audit: entry }, 'could not append to the audit log'),
      );
    });
    next();
  };
}
