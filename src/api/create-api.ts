import express, {
  type ErrorRequestHandler,
  type Express,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import type { Config } from '../config';
import type { Database } from '../db/database';
import type { DeviceConnections } from '../devices/device-connections';
import type { SecretBox } from '../devices/secrets';
import type { Logger } from '../logger';
import type { OtaflowMetrics } from '../metrics/metrics';
import type { DeviceAuthenticator } from '../mqtt/device-auth';
import type { PackageDownloads } from '../packages/download';
import type { PackageSigningPolicy } from '../packages/package-signing';
import type { PackageStore } from '../packages/package-store';
import { type Readiness, readinessStatusCode } from '../readiness';
import type { DeviceStories } from '../temporal/device-story';
import { accessLog } from './access-log';
import { auditChanges } from './audit';
import { type ApiResource, authenticate, authorize, readOrWrite, resourceScopes } from './auth';
import { consolePages } from './console-pages';
import { httpMetrics } from './http-metrics';
import { httpTracing } from './http-tracing';
import { idempotency, idempotentCreates } from './idempotency';
import { buildOpenApiDocument } from './openapi';
import { HttpProblem, notFound, sendProblem } from './problem';
import {
  type ApiRateLimits,
  defaultApiRateLimits,
  limitRefusedCredentials,
  limitRequestsPerKey,
} from './rate-limits';
import { noteMountPoint } from './route-template';
import { apiKeysRouter } from './routes/api-keys';
import { auditLogRouter } from './routes/audit-log';
import { brokerAuthHttpRouter } from './routes/broker-auth';
import { cellsRouter } from './routes/cells';
import { devicesRouter } from './routes/devices';
import { downloadsRouter } from './routes/downloads';
import { fleetRouter } from './routes/fleet';
import { groupsRouter } from './routes/groups';
import { packagesRouter } from './routes/packages';
import { sessionRouter, signIn } from './routes/session';
import { type TaskWorkflows, tasksRouter } from './routes/tasks';
import { webhooksRouter } from './routes/webhooks';

export interface ApiDeps {
  db: Database;
  packageStore: PackageStore;
  /** Package tokens and downloads, built once per process on its one package catalog. */
  downloads: PackageDownloads;
  /** A Temporal `Client` (or anything with its `workflow.start` and `workflow.getHandle`). */
  temporal: TaskWorkflows;
  /** Devices' operations and their timelines, read from Temporal (src/temporal/device-story.ts). */
  deviceStories: DeviceStories;
  /** Where the Temporal UI shows a run, for the links of a device's operations; absent: no links. */
  temporalRunUrl?: (workflowId: string, runId: string) => string;
  secrets: SecretBox;
  config: Pick<
    Config,
    | 'OTAFLOW_PUBLIC_URL'
    | 'OTAFLOW_API_HOST'
    | 'OTAFLOW_API_PORT'
    | 'LWM2M_DTLS'
    | 'coverageRanges'
    | 'radioResources'
  >;
  /** Mosquitto's auth plugin's endpoints, when `MQTT_AUTH_HTTP_TOKEN` is set. */
  brokerAuth?: { token: string; authenticate: DeviceAuthenticator; serviceUsername: string };
  logger: Logger;
  /** Where the API counts and times its requests and the package bytes it serves (src/metrics/metrics.ts). */
  metrics: Pick<OtaflowMetrics, 'httpRequests' | 'httpRequestSeconds' | 'packageBytesServed'>;
  /** What `/readyz` answers: whether the servers this process depends on answer (src/readiness.ts). */
  readiness: () => Promise<Readiness>;
  /** The bootstrap API key (every scope): `OTAFLOW_API_KEY` or the one in `<data dir>/api-key`. */
  apiKey: string;
  /** The embedded broker's device connections, closed when a device is disabled or its secret rotated. */
  deviceConnections?: DeviceConnections;
  /** Trusted release keys and whether unsigned packages are accepted; default: none, accepted. */
  packageSigning?: PackageSigningPolicy;
  limits?: Partial<ApiLimits>;
}

export interface ApiLimits extends ApiRateLimits {
  maxPackageBytes: number;
  maxJsonBytes: number;
}

/** 16 MiB of JSON: a task may list 100,000 device IDs, a bulk import 10,000 devices. */
export const defaultApiLimits: ApiLimits = {
  maxPackageBytes: 2 * 1024 ** 3,
  maxJsonBytes: 16 * 1024 ** 2,
  ...defaultApiRateLimits,
};

export function createApi(deps: ApiDeps): Express {
  const limits = { ...defaultApiLimits, ...deps.limits };
  const app = express();
  app.disable('x-powered-by');
  // One spelling per route: with express's default, /v1/API-KEYS reached the /v1/api-keys router.
  app.set('case sensitive routing', true);
  const openApiDocument = buildOpenApiDocument();
  app.use(httpTracing(), accessLog(deps.logger.child({ component: 'http' })), httpMetrics(deps.metrics));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const readiness = await deps.readiness();
    res.status(readinessStatusCode(readiness)).json(readiness);
  });
  app.use(consolePages(deps.logger));
  const refusedCredentials = limitRefusedCredentials(limits);
  const requireKey: RequestHandler[] = [
    refusedCredentials([401]),
    authenticate({ db: deps.db, bootstrapKey: deps.apiKey }),
    limitRequestsPerKey(limits),
  ];
  app.get('/openapi.json', ...requireKey, authorize(readOrWrite), (_req: Request, res: Response) => {
    res.json(openApiDocument);
  });
  app.post(
    '/v1/session',
    refusedCredentials([401]),
    ...signIn({ db: deps.db, bootstrapKey: deps.apiKey, logger: deps.logger }),
  );
  app.use('/ota', noteMountPoint, refusedCredentials([401, 403]));
  app.use(downloadsRouter(deps.downloads, deps.metrics));
  if (deps.brokerAuth) {
    app.use(
      '/internal/mqtt-auth',
      noteMountPoint,
      brokerAuthHttpRouter({ ...deps.brokerAuth, log: deps.logger }),
    );
  }
  const resources: Record<ApiResource, Router> = {
    '/v1/devices': devicesRouter({
      ...deps,
      stories: deps.deviceStories,
      defaultLwm2mSecurity: deps.config.LWM2M_DTLS === 'on' ? 'psk' : 'none',
    }),
    '/v1/fleet': fleetRouter(deps),
    '/v1/packages': packagesRouter({
      ...deps,
      maxPackageBytes: limits.maxPackageBytes,
      packageSigning: deps.packageSigning ?? { trustedKeys: [], unsignedAllowed: true },
    }),
    '/v1/tasks': tasksRouter({
      ...deps,
      nbiot: { coverageRanges: deps.config.coverageRanges, radioResources: deps.config.radioResources },
    }),
    '/v1/cells': cellsRouter(deps),
    '/v1/groups': groupsRouter(deps),
    '/v1/webhooks': webhooksRouter(deps),
    '/v1/api-keys': apiKeysRouter(deps),
    '/v1/audit-log': auditLogRouter(deps),
  };
  app.use(
    '/v1',
    noteMountPoint,
    ...requireKey,
    auditChanges(deps),
    express.json({ limit: limits.maxJsonBytes }),
  );
  // The scope is checked at each router's own mount point, before anything (the idempotency store
  // included) acts on the request.
  for (const [mount, rule] of Object.entries(resourceScopes)) app.use(mount, authorize(rule));
  app.post([...idempotentCreates], idempotency(deps));
  for (const [mount, router] of Object.entries(resources)) app.use(mount, noteMountPoint, router);
  // Any key's own session: no scope to check.
  app.use('/v1/session', noteMountPoint, sessionRouter(deps));

  app.use((req) => {
    throw notFound(`no route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler(deps.logger));
  return app;
}

function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const problem = toProblem(error);
    if (problem.status >= 500)
      logger.error({ err: error, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendProblem(res, problem);
  };
}

/** body-parser's errors carry a `type`; everything unrecognised is the server's fault. */
function toProblem(error: unknown): HttpProblem {
  if (error instanceof HttpProblem) return error;
  const { type, status } = (error ?? {}) as { type?: string; status?: number };
  if (type === 'entity.too.large')
    return new HttpProblem(413, 'Request too large', 'the request body is too large');
  if (type === 'entity.parse.failed') {
    return new HttpProblem(400, 'Invalid request', 'the request body is not valid JSON', [
      { path: '(root)', message: 'malformed JSON' },
    ]);
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpProblem(status, 'Invalid request', (error as Error).message);
  }
  return new HttpProblem(500, 'Internal server error', 'the server failed to handle the request');
}
