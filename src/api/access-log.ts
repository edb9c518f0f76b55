import type { Request, RequestHandler, Response } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../logger';
import { routeTemplate } from './route-template';

/**
 * One structured line per HTTP request once it is answered: method, path, route template, status,
 * time taken and the ID of the API key it was made with. Never a header: they carry API keys and
 * devices' download tokens. The probes' `/healthz` and `/readyz`, asked every few seconds, are left out.
 */
export function accessLog(logger: Logger): RequestHandler {
  const message = (req: Request, res: Response) =>
    `${req.method} ${routeTemplate(req, res)} ${res.statusCode}`;
  return pinoHttp<Request, Response>({
    logger,
    quietReqLogger: true,
    autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
    serializers: {
      req: (req: { id: unknown; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        path: req.url.split('?')[0],
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessObject: (req, res, fields) => ({ ...fields, ...answeredBy(req, res) }),
    customErrorObject: (req, res, _error, fields) => ({ ...fields, ...answeredBy(req, res) }),
    customSuccessMessage: message,
    customErrorMessage: message,
  });
}

function answeredBy(req: Request, res: Response): { route: string; apiKeyId?: string } {
  const caller = res.locals.apiKey as { id: string } | undefined;
  return { route: routeTemplate(req, res), apiKeyId: caller?.id };
}
