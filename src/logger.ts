import pino from 'pino';

/** One structured logger for every otaflow process. Device secrets and tokens are redacted. */
export const logger = pino({
  level: process.env.OTAFLOW_LOG_LEVEL ?? 'info',
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
});

export type Logger = typeof logger;
