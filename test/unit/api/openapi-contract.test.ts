/**
 * The served OpenAPI document against the server itself: every documented operation is routed and
 * guarded by an API key, answers validate against the documented schemas, and bodies the document calls
 * invalid are refused with a 4xx problem naming the field, never a 5xx.
 */
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import request, { type Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueWebhookEvent } from '../../../src/webhooks/outbox';
import { startTestApi, testApiKey } from './test-api';

type Method = 'get' | 'post' | 'patch' | 'delete';

interface Operation {
  method: Method;
  path: string;
  security?: unknown[];
  parameters?: Array<{ name: string; in: string; $ref?: string }>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}

let api: Awaited<ReturnType<typeof startTestApi>>;
let document: Record<string, unknown>;
let operations: Operation[];
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const validators = new Map<string, ValidateFunction>();

beforeAll(async () => {
  // Every operation is tried without a key: more refused credentials than one address may present.
  api = await startTestApi({ refusedCredentialsPerAddressPerMinute: 100_000 });
  document = (await request(api.app).get('/openapi.json').set(api.auth).expect(200)).body;
  ajv.addSchema(document, 'openapi');
  operations = Object.entries(
    document.paths as Record<string, Record<string, Omit<Operation, 'method' | 'path'>>>,
  ).flatMap(([path, item]) =>
    (['get', 'post', 'patch', 'delete'] as const).flatMap((method) =>
      item[method] ? [{ ...item[method], method, path }] : [],
    ),
  );
}, 60_000);
afterAll(() => api.dispose());

const pointer = (...parts: string[]) =>
  parts.map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1')).join('/');

/** The validator of a documented schema, by its JSON pointer inside the served document. */
function validatorAt(...parts: string[]): ValidateFunction {
  const ref = `openapi#/${pointer(...parts)}`;
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    validators.set(ref, validate);
  }
  return validate;
}

function operation(method: Method, path: string): Operation {
  const found = operations.find((op) => op.method === method && op.path === path);
  if (!found) throw new Error(`${method.toUpperCase()} ${path} is not documented`);
  return found;
}

/** The answer's status is documented for the operation and its body matches the documented schema. */
function expectDocumented(method: Method, path: string, response: Response): void {
  const status = String(response.status);
  const documented = operation(method, path).responses[status];
  expect(documented, `${method.toUpperCase()} ${path} answered an undocumented ${status}`).toBeDefined();
  const mediaType = (response.headers['content-type'] ?? '').split(';')[0] ?? '';
  if (!documented?.content) {
    expect(response.text ?? '').toBe('');
    return;
  }
  expect(Object.keys(documented.content)).toContain(mediaType);
  const validate = validatorAt('paths', path, method, 'responses', status, 'content', mediaType, 'schema');
  expect(
    validate(response.body),
    `${method.toUpperCase()} ${path} ${status}: ${ajv.errorsText(validate.errors)}`,
  ).toBe(true);
}

const jsonSchemaKeywords = new Set([
  ...['$ref', '$id', '$schema', '$defs', '$comment', 'type', 'enum', 'const', 'format', 'pattern'],
  ...['properties', 'required', 'additionalProperties', 'patternProperties', 'propertyNames'],
  ...['items', 'prefixItems', 'minItems', 'maxItems', 'uniqueItems', 'minLength', 'maxLength'],
  ...['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
  ...['anyOf', 'oneOf', 'allOf', 'not', 'title', 'description', 'default', 'examples', 'example'],
  ...['readOnly', 'writeOnly', 'deprecated', 'contentMediaType', 'contentEncoding', 'discriminator'],
]);

/** Every JSON schema in the document (components and inline), with where it is. */
function* schemasOf(value: unknown, at = '#', isSchema = false): Generator<{ at: string; schema: object }> {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) yield* schemasOf(item, `${at}/${i}`, isSchema);
    return;
  }
  if (!value || typeof value !== 'object') return;
  const record = value as Record<string, unknown>;
  if (isSchema) yield { at, schema: record };
  for (const [key, child] of Object.entries(record)) {
    const childAt = `${at}/${key}`;
    if (isSchema) {
      if (['properties', 'patternProperties', '$defs'].includes(key) && child && typeof child === 'object') {
        for (const [name, sub] of Object.entries(child)) yield* schemasOf(sub, `${childAt}/${name}`, true);
      } else if (
        [
          'items',
          'additionalProperties',
          'not',
          'propertyNames',
          'anyOf',
          'oneOf',
          'allOf',
          'prefixItems',
        ].includes(key)
      ) {
        yield* schemasOf(child, childAt, true);
      }
    } else if (key === 'schema' || (at === '#/components' && key === 'schemas')) {
      if (key === 'schemas')
        for (const [name, sub] of Object.entries(child as object))
          yield* schemasOf(sub, `${childAt}/${name}`, true);
      else yield* schemasOf(child, childAt, true);
    } else {
      yield* schemasOf(child, childAt, false);
    }
  }
}

/** A concrete URL for a templated path, with placeholder IDs. */
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, 'x-1');

function send(method: Method, url: string) {
  return request(api.app)[method](url);
}

describe('the served OpenAPI document', () => {
  it('is OpenAPI 3.1 with the package version and a global bearer requirement', async () => {
    const { body } = await request(api.app).get('/openapi.json').set(api.auth).expect(200);
    expect(body.openapi).toBe('3.1.0');
    expect(body.info.version).toBe((await import('../../../package.json')).version);
    expect(body.security).toEqual([{ apiKey: [] }, { consoleSession: [] }]);
    expect(body.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(body.components.securitySchemes.consoleSession).toMatchObject({
      type: 'apiKey',
      in: 'cookie',
      name: 'otaflow_session',
    });
    const exempt = operations.filter((op) => op.security?.length === 0).map((op) => op.path);
    expect(exempt.sort()).toEqual(['/healthz', '/ota/packages/{packageId}/file', '/readyz', '/v1/session']);
  });

  it('holds JSON Schema only where schemas go', () => {
    const schemas = [...schemasOf(document)];
    // The walk reaches the schemas: every operation's problem answers are among them.
    expect(schemas.filter(({ at }) => at.endsWith('problem+json/schema')).length).toBeGreaterThan(50);
    const strayKeywords = schemas.flatMap(({ at, schema }) =>
      Object.keys(schema)
        .filter((keyword) => !jsonSchemaKeywords.has(keyword))
        .map((keyword) => `${at}: ${keyword}`),
    );
    expect(strayKeywords).toEqual([]);
  });

  it('takes an Idempotency-Key on every create', () => {
    const creates = operations.filter((op) =>
      op.parameters?.some((parameter) => parameter.$ref === '#/components/parameters/IdempotencyKey'),
    );
    expect(creates.map((op) => op.path).sort()).toEqual(
      [
        '/v1/api-keys',
        '/v1/devices',
        '/v1/devices/bulk',
        '/v1/groups',
        '/v1/packages',
        '/v1/tasks',
        '/v1/webhooks',
      ].sort(),
    );
  });

  it('refuses every operation without an API key with 401, except health and the device download', async () => {
    for (const op of operations) {
      if (op.security?.length === 0) continue;
      const response = await send(op.method, concrete(op.path));
      expect(response.status, `${op.method.toUpperCase()} ${op.path}`).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
      expectDocumented(op.method, op.path, response);
    }
    await request(api.app).get('/healthz').expect(200);
  });

  it('routes every documented operation', async () => {
    for (const op of operations) {
      const response = await send(op.method, concrete(op.path)).set(api.auth);
      const unrouted = response.status === 404 && /^no route for/.test(response.body?.detail ?? '');
      expect(unrouted, `${op.method.toUpperCase()} ${op.path} is documented but not routed`).toBe(false);
      expect(response.status, `${op.method.toUpperCase()} ${op.path}`).toBeLessThan(500);
    }
  });
});

describe('a scripted happy path answers as documented', () => {
  it('devices, groups, webhooks, API keys and packages', async () => {
    const call = async (method: Method, path: string, url: string, body?: object) => {
      const req = send(method, url).set(api.auth);
      const response = await (body ? req.send(body) : req);
      expectDocumented(method, path, response);
      return response;
    };
    const meter = { id: 'meter-1', protocol: 'mqtt', product: 'meter', model: 'm1', tags: ['eu'] };
    expect((await call('post', '/v1/devices', '/v1/devices', meter)).status).toBe(201);
    expect((await call('post', '/v1/devices', '/v1/devices', meter)).status).toBe(409);
    await call('post', '/v1/devices/bulk', '/v1/devices/bulk', {
      devices: [
        { id: 'meter-2', protocol: 'mqtt', product: 'meter', model: 'm1' },
        { id: 'nb-1', protocol: 'lwm2m', product: 'meter', model: 'm1', tags: ['eu', 'nb'] },
      ],
    });
    expect((await call('get', '/v1/devices', '/v1/devices?tag=eu&limit=1')).body.nextCursor).toBe('meter-1');
    await call('get', '/v1/devices/{id}', '/v1/devices/nb-1');
    await call('get', '/v1/devices/{id}', '/v1/devices/nobody');
    await call('get', '/v1/devices/{id}/operations', '/v1/devices/nb-1/operations');
    await call('get', '/v1/devices/{id}/operations', '/v1/devices/nobody/operations');
    await call(
      'get',
      '/v1/devices/{id}/operations/{runId}',
      '/v1/devices/nb-1/operations/11111111-1111-4111-8111-111111111111',
    );
    await call('get', '/v1/devices/{id}/operations/{runId}', '/v1/devices/nb-1/operations/latest');
    await call('patch', '/v1/devices/{id}', '/v1/devices/nb-1', { tags: ['nb'] });

    const group = (await call('post', '/v1/groups', '/v1/groups', { name: 'canary', description: 'ring 0' }))
      .body;
    await call('get', '/v1/groups', '/v1/groups');
    await call('post', '/v1/groups/{id}/devices', `/v1/groups/${group.id}/devices`, {
      deviceIds: ['meter-1', 'nb-1'],
    });
    await call('post', '/v1/groups/{id}/devices', `/v1/groups/${group.id}/devices`, { deviceIds: ['ghost'] });
    await call('get', '/v1/groups/{id}/devices', `/v1/groups/${group.id}/devices`);
    await call('get', '/v1/groups/{id}', `/v1/groups/${group.id}`);
    await call('delete', '/v1/groups/{id}/devices/{deviceId}', `/v1/groups/${group.id}/devices/nb-1`);
    await call('delete', '/v1/groups/{id}', `/v1/groups/${group.id}`);
    await call('get', '/v1/groups/{id}', `/v1/groups/${group.id}`);

    const webhook = (
      await call('post', '/v1/webhooks', '/v1/webhooks', {
        url: 'https://app.example.com/ota',
        events: ['task.completed'],
      })
    ).body;
    await enqueueWebhookEvent(api.db, {
      type: 'task.completed',
      id: 'task.completed:task_1',
      taskId: 'task_1',
      payload: { taskId: 'task_1' },
    });
    expect(
      (await call('get', '/v1/webhooks/{id}/deliveries', `/v1/webhooks/${webhook.id}/deliveries`)).body.items,
    ).toHaveLength(1);
    await call('get', '/v1/webhooks', '/v1/webhooks');
    await call('get', '/v1/webhooks/{id}', `/v1/webhooks/${webhook.id}`);
    await call('delete', '/v1/webhooks/{id}', `/v1/webhooks/${webhook.id}`);

    const key = (await call('post', '/v1/api-keys', '/v1/api-keys', { name: 'reader', scopes: ['read'] }))
      .body;
    await call('get', '/v1/api-keys', '/v1/api-keys');
    await call('delete', '/v1/api-keys/{id}', `/v1/api-keys/${key.id}`);
    await call('get', '/v1/api-keys/{id}', `/v1/api-keys/${key.id}`);

    const upload = await request(api.app)
      .post('/v1/packages')
      .set(api.auth)
      .field('name', 'fw')
      .field('version', '2.0.0')
      .field('kind', 'firmware')
      .field('product', 'meter')
      .field('model', 'm1')
      .attach('file', Buffer.from('image'), 'fw.bin');
    expectDocumented('post', '/v1/packages', upload);
    await call('get', '/v1/packages', '/v1/packages');
    await call('get', '/v1/packages/{id}', `/v1/packages/${upload.body.id}`);
    await call('get', '/v1/cells', '/v1/cells');
    await call('get', '/v1/cells/{cellId}', '/v1/cells/20561');
    await call('get', '/openapi.json', '/openapi.json');
  });
});

/** A valid body per JSON operation: the start of the mutations below, and created fine as is. */
const validBodies: Record<string, object> = {
  'post /v1/devices': { id: 'seed-1', protocol: 'mqtt', product: 'meter', model: 'm1', tags: ['eu'] },
  'post /v1/devices/bulk': { devices: [{ id: 'seed-2', protocol: 'lwm2m', product: 'meter', model: 'm1' }] },
  'patch /v1/devices/{id}': { tags: ['eu', 'ring=canary'] },
  'post /v1/groups': { name: 'seed group' },
  'post /v1/groups/{id}/devices': { deviceIds: ['seed-1'] },
  'post /v1/webhooks': { url: 'https://app.example.com/ota', events: ['device.result'] },
  'post /v1/api-keys': { name: 'seed key', scopes: ['read', 'write'] },
  'post /v1/session': { apiKey: testApiKey },
};

/** A valid body with one thing wrong (or not): a key dropped, a value replaced, a key added. */
function mutations(valid: object): fc.Arbitrary<unknown> {
  const keys = Object.keys(valid);
  return fc.oneof(
    fc.jsonValue(),
    fc
      .constantFrom(...keys)
      .map((key) => Object.fromEntries(Object.entries(valid).filter(([k]) => k !== key))),
    fc
      .record({ key: fc.constantFrom(...keys), value: fc.jsonValue() })
      .map(({ key, value }) => ({ ...valid, [key]: value })),
    fc
      .record({ key: fc.string({ maxLength: 8 }), value: fc.jsonValue() })
      .map(({ key, value }) => ({ ...valid, [key]: value })),
  );
}

describe('bad input', () => {
  it('every JSON body the document calls invalid gets a 400 problem naming the field, never a 5xx', async () => {
    // What the bodies refer to, so that valid ones can succeed.
    await request(api.app)
      .post('/v1/devices')
      .set(api.auth)
      .send({ id: 'seed-1', protocol: 'mqtt', product: 'meter', model: 'm1' });
    const group = await request(api.app).post('/v1/groups').set(api.auth).send({ name: 'target' });
    const urlOf = (path: string) =>
      path.replace('{id}', path.startsWith('/v1/groups') ? group.body.id : 'seed-1');

    const jsonOperations = operations.filter((op) => op.requestBody?.content['application/json']);
    expect(jsonOperations.length).toBeGreaterThanOrEqual(Object.keys(validBodies).length);
    for (const op of jsonOperations) {
      const name = `${op.method} ${op.path}`;
      const validate = validatorAt(
        'paths',
        op.path,
        op.method,
        'requestBody',
        'content',
        'application/json',
        'schema',
      );
      const valid = validBodies[name];
      if (valid) expect(validate(valid), `${name}: the valid body`).toBe(true);
      let invalid = 0;
      await fc.assert(
        fc.asyncProperty(valid ? mutations(valid) : fc.jsonValue(), async (body) => {
          const response = await send(op.method, urlOf(op.path))
            .set(api.auth)
            .set('content-type', 'application/json')
            .send(JSON.stringify(body));
          expect(response.status, `${name} ${JSON.stringify(body)}`).toBeLessThan(500);
          if (!validate(body)) {
            invalid++;
            expect(response.status, `${name} ${JSON.stringify(body)}`).toBe(400);
            expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
            expect(response.body.errors.length).toBeGreaterThan(0);
            for (const error of response.body.errors) expect(error.path).toMatch(/\S/);
          }
        }),
        { numRuns: 40 },
      );
      expect(invalid, `${name}: invalid bodies tried`).toBeGreaterThan(10);
    }
  }, 120_000);

  it('query strings never cause a 5xx, and a 400 names the parameter', async () => {
    const listing = operations.filter(
      (op) => op.method === 'get' && op.parameters?.some((p) => p.in === 'query'),
    );
    for (const op of listing) {
      const names = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      await fc.assert(
        fc.asyncProperty(
          fc.dictionary(fc.constantFrom(...names), fc.string({ maxLength: 300 })),
          async (query) => {
            const response = await send(op.method, concrete(op.path)).query(query).set(api.auth);
            expect(response.status, `${op.path} ${JSON.stringify(query)}`).toBeLessThan(500);
            if (response.status === 400) {
              for (const error of response.body.errors) expect(names).toContain(error.path);
            }
          },
        ),
        { numRuns: 25 },
      );
    }
  }, 120_000);
});
