import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { secretSetting } from '../data-dir-secrets';
import { type ApiScope, findApiKeyByHash, touchApiKey } from '../db/api-keys';
import type { Database } from '../db/database';
import { HttpProblem } from './problem';

export const apiScopes = ['read', 'write', 'admin'] as const satisfies readonly ApiScope[];

/** The key a request was authenticated with, in `res.locals.apiKey`. */
export interface Caller {
  id: string;
  scopes: readonly ApiScope[];
}

/** The bootstrap key's ID: it lives in the configuration, not in the `api_keys` table. */
export const bootstrapKeyId = 'bootstrap';

/** `ofk_` + 256 random bits: the prefix makes a leaked key easy to recognise (and to scan for). */
export function generateApiKey(): string {
  return `ofk_${randomBytes(32).toString('base64url')}`;
}

/** Keys are random, so an unsalted SHA-256 is enough to make the stored hash useless to a thief. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
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
 * `Authorization: Bearer <key>`: the bootstrap key from the configuration, or a key created through
 * /v1/api-keys and not revoked. Answers 401 (with `WWW-Authenticate: Bearer`) without a valid key;
 * which scope the key needs is `authorize`'s decision, where the route is matched.
 */
export function authenticate(deps: { db: Database; bootstrapKey: string }): RequestHandler {
  const bootstrapHash = Buffer.from(hashApiKey(deps.bootstrapKey), 'hex');
  return async (req, res, next) => {
    const header = req.get('authorization');
    const match = header?.match(/^Bearer +([\x21-\x7e]+) *$/i);
    if (!match?.[1]) {
      res.set('WWW-Authenticate', 'Bearer realm="otaflow"');
      throw unauthorized(
        header ? 'the Authorization header is not "Bearer <API key>"' : 'an API key is required',
      );
    }
    const hash = hashApiKey(match[1]);
    let caller: Caller;
    if (timingSafeEqual(Buffer.from(hash, 'hex'), bootstrapHash)) {
      caller = { id: bootstrapKeyId, scopes: apiScopes };
    } else {
      const key = await findApiKeyByHash(deps.db, hash);
      if (!key || key.revokedAt) {
        res.set('WWW-Authenticate', 'Bearer realm="otaflow", error="invalid_token"');
        throw unauthorized(key ? 'this API key has been revoked' : 'unknown API key');
      }
      if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > 60_000)
        await touchApiKey(deps.db, key.id);
      caller = { id: key.id, scopes: key.scopes };
    }
    res.locals.apiKey = caller;
    next();
  };
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
