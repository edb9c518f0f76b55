import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parse as parseCookies } from 'cookie';
import type { Request, RequestHandler, Response } from 'express';
import { secretSetting } from '../data-dir-secrets';
import { type ApiScope, findApiKeyByHash, touchApiKey } from '../db/api-keys';
import { type ConsoleSession, findConsoleSession } from '../db/console-sessions';
import type { Database } from '../db/database';
import { HttpProblem } from './problem';

export const apiScopes = ['read', 'write', 'admin'] as const satisfies readonly ApiScope[];

/** The key a request was authenticated with, in `res.locals.apiKey`. */
export interface Caller {
  id: string;
  scopes: readonly ApiScope[];
}

/**
 * The console's session (src/api/routes/session.ts): an HttpOnly cookie standing for an API key, and
 * the CSRF token a change made with it must carry in `X-CSRF-Token`.
 */
export const SESSION_COOKIE = 'otaflow_session';
export const CSRF_HEADER = 'X-CSRF-Token';
/**
 * Set beside the session cookie, readable by the console's script (it holds no secret): whether to
 * ask for the session at all, so a signed-out browser shows the sign-in form without a refused request.
 */
export const SIGNED_IN_COOKIE = 'otaflow_signed_in';

/** A request's console session, in `res.locals.session`, when it came with one instead of a key. */
export interface CallerSession extends ConsoleSession {
  idHash: string;
}

/** Methods that change nothing: a session needs no CSRF token for them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The bootstrap key's ID: it lives in the configuration, not in the `api_keys` table. */
export const bootstrapKeyId = 'bootstrap';

/** `ofk_` + 256 random bits: the prefix makes a leaked key easy to recognise (and to scan for). */
export function generateApiKey(): string {
  return `ofk_${randomBytes(32).toString('base64url')}`;
}

/**
 * Keys (and session cookies) are random, so an unsalted SHA-256 is enough to make the stored hash
 * useless to a thief.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The console session cookie a request carries, if any. */
export function sessionCookieOf(req: Request): string | undefined {
  const header = req.get('cookie');
  return header ? parseCookies(header)[SESSION_COOKIE] : undefined;
}

/** What a request's session says, when it was authenticated with one. */
export function sessionOf(res: Response): CallerSession | undefined {
  return res.locals.session as CallerSession | undefined;
}

export function callerOf(res: Response): Caller {
  const caller = res.locals.apiKey as Caller | undefined;
  if (!caller) throw new Error('the route is not behind the authenticate middleware');
  return caller;
}

/** The scope a request needs, by its method, for the routes behind one mount point. */
export type ScopeRule = (method: string) => ApiScope;

/** `GET`/`HEAD` read, every other method writes. */
export const readOrWrite: ScopeRule = (method) => (method === 'GET' || method === 'HEAD' ? 'read' : 'write');

/** Key management and the audit log: `admin` for every method. Scopes do not imply each other. */
export const adminOnly: ScopeRule = () => 'admin';

/**
 * The /v1 resources by mount point and the scope rule of each. `createApi` checks the rule in a
 * middleware mounted at the same path as the resource's router, so the check sees every request the
 * router sees whatever its spelling; the OpenAPI document declares the same scopes.
 */
export const resourceScopes = {
  '/v1/devices': readOrWrite,
  '/v1/fleet': readOrWrite,
  '/v1/packages': readOrWrite,
  '/v1/tasks': readOrWrite,
  '/v1/cells': readOrWrite,
  '/v1/groups': readOrWrite,
  '/v1/webhooks': readOrWrite,
  '/v1/api-keys': adminOnly,
  '/v1/audit-log': adminOnly,
} as const satisfies Record<string, ScopeRule>;

export type ApiResource = keyof typeof resourceScopes;

/** The scope an operation on `path` (a mount point or below it) needs; for routes outside /v1, `read`/`write`. */
export function scopeOf(method: string, path: string): ApiScope {
  const mount = (Object.keys(resourceScopes) as ApiResource[]).find(
    (prefix) => path === prefix || path.startsWith(`${prefix}/`),
  );
  return (mount ? resourceScopes[mount] : readOrWrite)(method.toUpperCase());
}

/** 403 naming the scope the caller's key lacks for this request. Mount it after `authenticate`. */
export function authorize(rule: ScopeRule): RequestHandler {
  return (req, res, next) => {
    const scope = rule(req.method);
    if (!callerOf(res).scopes.includes(scope)) {
      throw new HttpProblem(403, 'Forbidden', `this API key lacks the ${scope} scope`, [
        { path: 'authorization', message: `the API key needs the ${scope} scope` },
      ]);
    }
    next();
  };
}

/**
 * Who holds the key with this SHA-256 hash: the bootstrap key from the configuration, or a key created
 * through /v1/api-keys and not revoked. Refuses any other with 401.
 */
export function apiKeyCallers(deps: {
  db: Database;
  bootstrapKey: string;
}): (keyHash: string, res: Response) => Promise<Caller> {
  const bootstrapHash = Buffer.from(hashApiKey(deps.bootstrapKey), 'hex');
  return async (keyHash, res) => {
    if (timingSafeEqual(Buffer.from(keyHash, 'hex'), bootstrapHash)) {
      return { id: bootstrapKeyId, scopes: apiScopes };
    }
    const key = await findApiKeyByHash(deps.db, keyHash);
    if (!key || key.revokedAt) {
      res.set('WWW-Authenticate', 'Bearer realm="otaflow", error="invalid_token"');
      throw unauthorized(key ? 'this API key has been revoked' : 'unknown API key');
    }
    if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > 60_000) await touchApiKey(deps.db, key.id);
    return { id: key.id, scopes: key.scopes };
  };
}

/**
 * `Authorization: Bearer <key>`, or without that header the console's session cookie, which stands
 * for the key it was opened with as long as that key is valid; a change made with the cookie must
 * carry the session's CSRF token. Answers 401 (with `WWW-Authenticate: Bearer`) without a valid key or
 * session; which scope the key needs is `authorize`'s decision, where the route is matched.
 */
export function authenticate(deps: { db: Database; bootstrapKey: string }): RequestHandler {
  const callerOf = apiKeyCallers(deps);
  return async (req, res, next) => {
    const header = req.get('authorization');
    const sessionId = header ? undefined : sessionCookieOf(req);
    if (sessionId) {
      try {
        const session = await sessionCalling(deps.db, sessionId, req, res);
        res.locals.apiKey = await callerOf(session.keyHash, res);
        res.locals.session = session;
      } catch (error) {
        // Ended, or its key revoked: the browser forgets it, and its next page load signs in afresh.
        if (error instanceof HttpProblem && error.status === 401) clearSessionCookies(res);
        throw error;
      }
      return next();
    }
    const match = header?.match(/^Bearer +([\x21-\x7e]+) *$/i);
    if (!match?.[1]) {
      res.set('WWW-Authenticate', 'Bearer realm="otaflow"');
      throw unauthorized(
        header ? 'the Authorization header is not "Bearer <API key>"' : 'an API key is required',
      );
    }
    res.locals.apiKey = await callerOf(hashApiKey(match[1]), res);
    next();
  };
}

async function sessionCalling(
  db: Database,
  sessionId: string,
  req: Request,
  res: Response,
): Promise<CallerSession> {
  const idHash = hashApiKey(sessionId);
  const session = await findConsoleSession(db, idHash, new Date());
  if (!session) {
    res.set('WWW-Authenticate', 'Bearer realm="otaflow"');
    throw unauthorized('the console session has ended: sign in again');
  }
  const token = req.get(CSRF_HEADER);
  const tokenMatches =
    token !== undefined &&
    token.length === session.csrfToken.length &&
    timingSafeEqual(Buffer.from(token), Buffer.from(session.csrfToken));
  if (!SAFE_METHODS.has(req.method) && !tokenMatches) {
    const detail = `a change made with a console session needs the session's ${CSRF_HEADER} header`;
    throw new HttpProblem(403, 'Forbidden', detail, [{ path: CSRF_HEADER, message: detail }]);
  }
  return { ...session, idHash };
}

export function clearSessionCookies(res: Response): void {
  res.clearCookie(SESSION_COOKIE, { path: '/' });
  res.clearCookie(SIGNED_IN_COOKIE, { path: '/' });
}

function unauthorized(detail: string): HttpProblem {
  return new HttpProblem(401, 'Unauthorized', detail, [{ path: 'authorization', message: detail }]);
}

/**
 * The bootstrap key: `OTAFLOW_API_KEY`, or the one kept in `<dataDir>/api-key` (owner-only), generated
 * on first start. `file` is set when the key comes from the file.
 */
export async function loadBootstrapApiKey(options: {
  configuredKey?: string;
  dataDir: string;
}): Promise<{ key: string; file?: string; generated: boolean }> {
  const { value, ...origin } = await secretSetting({
    configured: options.configuredKey,
    dataDir: options.dataDir,
    fileName: 'api-key',
    generate: generateApiKey,
    check: (key) => /^[\x21-\x7e]{32,256}$/.test(key),
    holds: 'an API key',
  });
  return { key: value, ...origin };
}
