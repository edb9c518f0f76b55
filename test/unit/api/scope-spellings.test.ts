import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../../../src/api/openapi';
import { startTestApi } from './test-api';

/**
 * No spelling of a route reaches its handler with a key that lacks the scope the OpenAPI document
 * declares for it: express matches paths case-insensitively by default, and a check on the request's
 * path string that differs from express's own matching let `POST /v1/API-KEYS` create an admin key
 * with only `write`.
 */

let api: Awaited<ReturnType<typeof startTestApi>>;
const scopeSets = [['read'], ['write'], ['admin'], ['read', 'write'], ['read', 'admin'], ['write', 'admin']];
const keys = new Map<string, string>();

beforeAll(async () => {
  api = await startTestApi();
  for (const scopes of scopeSets) {
    const created = await request(api.app)
      .post('/v1/api-keys')
      .set(api.auth)
      .send({ name: scopes.join('+'), scopes })
      .expect(201);
    keys.set(scopes.join('+'), created.body.key);
  }
}, 60_000);
afterAll(() => api.dispose());

interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  scope: string;
}

/** Operations any signed-in caller may use, whatever its scopes: a console session's own. */
const SCOPE_FREE = ['GET /v1/session', 'DELETE /v1/session'];

function securedOperations(): { scoped: Operation[]; scopeFree: string[] } {
  const document = buildOpenApiDocument();
  const scoped: Operation[] = [];
  const scopeFree: string[] = [];
  for (const [template, item] of Object.entries(document.paths ?? {})) {
    for (const method of ['get', 'post', 'patch', 'delete'] as const) {
      const operation = item[method];
      if (!operation) continue;
      const requirement = operation.security ?? document.security ?? [];
      if (requirement.length === 0) continue;
      const scopes = Object.values(requirement[0] ?? {})[0] ?? [];
      const name = `${method.toUpperCase()} ${template}`;
      if (scopes.length === 0) {
        scopeFree.push(name);
        continue;
      }
      expect(scopes, `${name} declares the one scope it needs`).toHaveLength(1);
      scoped.push({ method, path: template.replace(/\{[^}]+\}/g, 'x1'), scope: scopes[0] as string });
    }
  }
  return { scoped, scopeFree };
}

const { scoped: operations, scopeFree } = securedOperations();

/** Spellings a client (or an attacker) may send for one path: each is "the same route" to someone. */
const spelling = (path: string) => {
  const perChar = <T>(arbitrary: fc.Arbitrary<T>) =>
    fc.array(arbitrary, { minLength: path.length, maxLength: path.length });
  return fc
    .record({
      caseFlips: perChar(fc.boolean()),
      // Rarely: a path with several encoded characters is almost always unknown to any router.
      percentEncoded: perChar(fc.nat({ max: 11 }).map((n) => n === 0)),
      trailingSlash: fc.boolean(),
      doubledSlash: fc.nat({ max: path.split('/').length }),
    })
    .map(({ caseFlips, percentEncoded, trailingSlash, doubledSlash }) => {
      let spelled = [...path]
        .map((char, i) => {
          const cased = caseFlips[i] ? char.toUpperCase() : char;
          return percentEncoded[i] && char !== '/' ? percentEncode(cased) : cased;
        })
        .join('');
      if (doubledSlash > 0) {
        const parts = spelled.split('/');
        parts.splice(doubledSlash, 0, '');
        spelled = parts.join('/');
      }
      return trailingSlash ? `${spelled}/` : spelled;
    });
};

const percentEncode = (char: string) => `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;

/** The spellings every operation is tried with, besides the random ones. */
const everyOperationSpelling = (path: string) => [
  path,
  path.toUpperCase(),
  `${path}/`,
  path.replace('/v1/', '/v1//'),
  path.replace('/v1/', '//v1/'),
  path.replace(/-/g, percentEncode('-')),
  path.replace(/s(\/|$)/, `${percentEncode('s')}$1`),
];

const keysWithout = (scope: string) => [...keys].filter(([name]) => !name.split('+').includes(scope));

async function send(operation: Operation, path: string, key: string) {
  const call = request(api.app)[operation.method](path).set('authorization', `Bearer ${key}`);
  return operation.method === 'post' || operation.method === 'patch' ? call.send({}) : call;
}

/** Refused before any handler: 403 for the scope, or the router's own 404 for a path it has no route for. */
function refusedBeforeHandler(response: request.Response): boolean {
  if (response.status === 403) return /lacks the \w+ scope/.test(response.body.detail);
  return response.status === 404 && String(response.body.detail).startsWith('no route for');
}

describe('scopes by route, whatever the spelling', () => {
  it('the OpenAPI document declares a scope for every secured operation, admin for API keys and the audit log', () => {
    expect(operations.length).toBeGreaterThan(30);
    for (const operation of operations) {
      const expected = /^\/v1\/(api-keys|audit-log)(\/|$)/.test(operation.path)
        ? 'admin'
        : operation.method === 'get'
          ? 'read'
          : 'write';
      expect(operation.scope, `${operation.method} ${operation.path}`).toBe(expected);
    }
  });

  it('needs no scope only for the console session itself, which answers every key', async () => {
    expect(scopeFree.sort()).toEqual([...SCOPE_FREE].sort());
    for (const [name, key] of keys) {
      const response = await request(api.app).get('/v1/session').set('authorization', `Bearer ${key}`);
      expect(response.status, `GET /v1/session with ${name}: ${JSON.stringify(response.body)}`).toBe(404);
      expect(response.body.detail).toMatch(/API key/);
    }
  });

  it('answers 403 naming the scope to every key without it, on the documented spelling', async () => {
    for (const operation of operations) {
      for (const [name, key] of keysWithout(operation.scope)) {
        const response = await send(operation, operation.path, key);
        expect(
          response.status,
          `${operation.method.toUpperCase()} ${operation.path} with ${name}: ${JSON.stringify(response.body)}`,
        ).toBe(403);
        expect(response.body.detail).toBe(`this API key lacks the ${operation.scope} scope`);
      }
    }
  }, 60_000);

  it('refuses upper case, a trailing or doubled slash and percent-encoding before any handler', async () => {
    for (const operation of operations) {
      for (const path of everyOperationSpelling(operation.path)) {
        for (const [name, key] of keysWithout(operation.scope)) {
          const response = await send(operation, path, key);
          expect(
            refusedBeforeHandler(response),
            `${operation.method.toUpperCase()} ${path} with ${name} answered ${response.status} ${JSON.stringify(response.body)}`,
          ).toBe(true);
        }
      }
    }
  }, 120_000);

  it('never lets a key reach a handler it lacks the scope for, by any mix of those spellings', async () => {
    const keysBefore = (await api.db.query('select id from api_keys')).rows.length;
    const cases = fc.constantFrom(...operations).chain((operation) =>
      fc.record({
        operation: fc.constant(operation),
        path: spelling(operation.path),
        key: fc.constantFrom(...keysWithout(operation.scope)),
      }),
    );
    await fc.assert(
      fc.asyncProperty(cases, async ({ operation, path, key: [name, key] }) => {
        const response = await send(operation, path, key);
        expect(
          refusedBeforeHandler(response),
          `${operation.method.toUpperCase()} ${path} with ${name} answered ${response.status} ${JSON.stringify(response.body)}`,
        ).toBe(true);
      }),
      { numRuns: 600 },
    );
    expect((await api.db.query('select id from api_keys')).rows.length).toBe(keysBefore);
  }, 120_000);
});
