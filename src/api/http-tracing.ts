import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { startSpan, traceContextFrom } from '../tracing/spans';
import { routeTemplate } from './route-template';

/**
 * One server span per request, named by its route template (`POST /v1/tasks`), continuing the trace
 * the caller sent (W3C `traceparent`), so that the workflows a request starts are in the caller's
 * trace. Its attributes are OpenTelemetry's HTTP server conventions; never a header or query string.
 */
export function httpTracing(): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    // The probes, asked every few seconds, would each be a trace of their own.
    if (req.path === '/healthz' || req.path === '/readyz') return next();
    const span = startSpan(
      req.method,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method, 'url.path': req.path, 'url.scheme': req.protocol },
      },
      traceContextFrom(req.headers),
    );
    res.once('close', () => {
      const route = routeTemplate(req, res);
      span.updateName(`${req.method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': res.statusCode });
      if (!res.writableFinished) {
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: 'the connection closed before the answer was sent',
        });
      } else if (res.statusCode >= 500) {
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    });
    context.with(trace.setSpan(context.active(), span), next);
  };
}
