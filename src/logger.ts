import pino from 'pino';
import { traceIdsForLogs } from './tracing/spans';

/**
 * A structured logger as every otaflow process has it, writing to `destination` (standard output by
 * default). Device secrets and tokens are redacted. With tracing on, a line logged inside a traced
 * span carries its `trace_id` and `span_id`.
 */
export function createLogger(destination?: pino.DestinationStream) {
  return pino(
    {
      level: process.env.OTAFLOW_LOG_LEVEL ?? 'info',
      mixin: traceIdsForLogs,
      redact: {
        paths: [
          'secret',
          '*.secret',
          'password',
          '*.password',
          'accessToken',
          '*.accessToken',
          'access_token',
          '*.access_token',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** The process's logger. */
export const logger = createLogger();

export type Logger = typeof logger;
