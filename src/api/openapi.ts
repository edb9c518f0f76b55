import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { ResponseObject, SchemaObject } from 'openapi3-ts/oas31';
import { z } from 'zod';
import packageJson from '../../package.json';
import { CSRF_HEADER, SESSION_COOKIE, scopeOf } from './auth';
import { IDEMPOTENCY_KEY_HEADER, idempotentCreates } from './idempotency';
import { json, jsonBody, noContent, problem } from './openapi-bodies';
import {
  AddGroupDevicesRequest,
  ApiKey,
  ApiKeyList,
  ApiKeyParams,
  AuditEntryList,
  AuditLogQuery,
  BulkCreateDevicesRequest,
  CellList,
  CellListQuery,
  CellParams,
  CellState,
  ConsoleSession,
  CreateApiKeyRequest,
  CreateDeviceRequest,
  CreatedApiKey,
  CreatedDevice,
  CreatedDeviceList,
  CreatedWebhook,
  CreateGroupRequest,
  CreateWebhookRequest,
  DeliveryPageQuery,
  DeliveryParams,
  Device,
  DeviceList,
  DeviceListQuery,
  DeviceOperationList,
  DeviceOperationParams,
  DeviceOperationQuery,
  DeviceOperationStory,
  DeviceParams,
  DeviceWithPskKey,
  DownloadParams,
  Group,
  GroupList,
  GroupMemberParams,
  GroupParams,
  IdempotencyKeyHeader,
  Package,
  PackageList,
  PackageParams,
  PackageUploadForm,
  PageQuery,
  RotateDeviceSecretRequest,
  SetDevicePskRequest,
  SignInRequest,
  UpdateDeviceRequest,
  VersionCountList,
  Webhook,
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookList,
  WebhookParams,
} from './schemas';
import { registerTaskPaths } from './task-openapi';

type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

const bearerScheme = 'apiKey';
const sessionScheme = 'consoleSession';

/**
 * The OpenAPI 3.1 document, generated from the schemas the API validates with. Every operation needs
 * an API key (a global bearer security requirement) except those that declare `security: []`.
 */
export function buildOpenApiDocument(): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', bearerScheme, {
    type: 'http',
    scheme: 'bearer',
    description:
      'An otaflow API key (`ofk_…`): the bootstrap key (`OTAFLOW_API_KEY` or `<data dir>/api-key`) or one ' +
      'created with POST /v1/api-keys. Each operation lists the one scope it needs: `read` for GET, `write` ' +
      'for other methods, `admin` for every /v1/api-keys operation.',
  });
  registry.registerComponent('securitySchemes', sessionScheme, {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description:
      "The console's session cookie (POST /v1/session), instead of an API key: it has its key's scopes, " +
      `and every change made with it needs the session's CSRF token in ${CSRF_HEADER}.`,
  });
  const { $schema: _dialect, ...idempotencyKeySchema } = z.toJSONSchema(IdempotencyKeyHeader);
  registry.registerComponent('parameters', 'IdempotencyKey', {
    name: IDEMPOTENCY_KEY_HEADER,
    in: 'header',
    required: false,
    description:
      'Makes the create safe to retry: a repeat with the same key replays the first successful answer ' +
      '(with `Idempotent-Replayed: true`) for 24 hours; the same key with another request is refused (422).',
    schema: idempotencyKeySchema as SchemaObject,
  });

  registerDevicePaths(registry);
  registerPackagePaths(registry);
  registerTaskPaths(registry);
  registerGroupPaths(registry);
  registerWebhookPaths(registry);
  registerApiKeyPaths(registry);
  registerAuditLogPaths(registry);
  registerSessionPaths(registry);

  registry.registerPath({
    method: 'get',
    path: '/v1/cells',
    summary: 'The NB-IoT cells whose limiter runs, newest first, each with its permit holders and queue',
    request: { query: CellListQuery },
    responses: { 200: json('One page of cells', CellList), 400: problem('Invalid paging') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/cells/{cellId}',
    summary: "An NB-IoT cell's upgrade permits: the devices holding one and the queue",
    request: { params: CellParams },
    responses: { 200: json('The cell', CellState), 400: problem('Invalid cell ID') },
  });

  registry.registerPath({
    method: 'get',
    path: '/ota/packages/{packageId}/file',
    summary: 'Device package download (Authorization: Bearer <access_token>; Range supported)',
    description: "The device's download token, not an API key, authenticates this request.",
    security: [],
    request: { params: DownloadParams },
    responses: {
      200: { description: 'The package file', content: { 'application/octet-stream': { schema: {} } } },
      206: { description: 'The requested range', content: { 'application/octet-stream': { schema: {} } } },
      401: problem('No or malformed token'),
      403: problem('Token expired or not valid for this package'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    summary: 'Liveness',
    security: [],
    responses: { 200: { description: 'The API is up' } },
  });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: each server this process depends on, whether it answered and in how many ms',
    security: [],
    responses: {
      200: { description: 'Every dependency answered', content: { 'application/json': { schema: {} } } },
      503: {
        description: 'A dependency did not answer; its entry says why',
        content: { 'application/json': { schema: {} } },
      },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    responses: {
      200: { description: 'The OpenAPI 3.1 document', content: { 'application/json': { schema: {} } } },
    },
  });

  const document = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'otaflow',
      version: packageJson.version,
      description: 'OTA upgrade orchestration for IoT fleets',
    },
    security: [{ [bearerScheme]: [] }, { [sessionScheme]: [] }],
  });
  addCommonResponses(document);
  return document;
}

/**
 * What every operation has in common, added once here rather than at each path: the answers to a
 * missing key or scope (and the scope each operation needs, as `createApi` checks it), and on creates
 * the Idempotency-Key header and its answers. The document is generated by now, so schemas are
 * referenced, not given as zod.
 */
function addCommonResponses(document: OpenApiDocument): void {
  const problemAnswer = (description: string): ResponseObject => ({
    description,
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  });
  const alsoMeaning = (response: ResponseObject | undefined, description: string): ResponseObject =>
    response
      ? { ...response, description: `${response.description}; or: ${description}` }
      : problemAnswer(description);
  const creates = new Set<string>(idempotentCreates);
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of ['get', 'post', 'patch', 'delete'] as const) {
      const operation = item[method];
      if (!operation) continue;
      operation.responses ??= {};
      const responses: Record<string, ResponseObject> = operation.responses;
      if (operation.security?.length !== 0) {
        // A key's own session needs no scope.
        const scopes = path === '/v1/session' ? [] : [scopeOf(method, path)];
        operation.security = [{ [bearerScheme]: scopes }, { [sessionScheme]: scopes }];
        responses['401'] ??= problemAnswer('No API key, or an unknown or revoked one');
        responses['403'] ??= problemAnswer('The API key lacks the scope this operation needs');
      }
      if (path !== '/healthz' && path !== '/readyz') {
        responses['429'] ??= problemAnswer(
          'Too many requests with this API key, or too many refused credentials from this address, in a minute (Retry-After)',
        );
      }
      if (method === 'post' && creates.has(path)) {
        operation.parameters = [
          ...(operation.parameters ?? []),
          { $ref: '#/components/parameters/IdempotencyKey' },
        ];
        for (const [status, response] of Object.entries(responses)) {
          if (!status.startsWith('2')) continue;
          response.headers = {
            ...response.headers,
            'Idempotent-Replayed': {
              description: `\`true\` when this is the stored answer to an earlier request with the same ${IDEMPOTENCY_KEY_HEADER}`,
              schema: { type: 'string', enum: ['true'] },
            },
          };
        }
        responses['409'] = alsoMeaning(
          responses['409'],
          `A request with the same ${IDEMPOTENCY_KEY_HEADER} is still in progress`,
        );
        responses['422'] = alsoMeaning(
          responses['422'],
          `The ${IDEMPOTENCY_KEY_HEADER} was used for a different request`,
        );
      }
    }
  }
}

function registerDevicePaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/devices',
    summary: 'Provision a device',
    request: { body: jsonBody(CreateDeviceRequest) },
    responses: {
      201: json('The device, with its secret (shown this once)', CreatedDevice),
      400: problem('Invalid input'),
      409: problem('A device with this ID exists'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/devices/bulk',
    summary: 'Provision up to 10,000 devices at once, all or none',
    request: { body: jsonBody(BulkCreateDevicesRequest) },
    responses: {
      201: json('The devices, in request order, with their secrets (shown this once)', CreatedDeviceList),
      400: problem('Invalid input, including an ID given twice (`devices.<i>.<field>`)'),
      409: problem('Some IDs exist already (`devices.<i>.id`); nothing was created'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/devices',
    summary: 'List devices, optionally filtered',
    request: { query: DeviceListQuery },
    responses: { 200: json('One page of devices', DeviceList), 400: problem('Invalid paging or filter') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/devices/{id}',
    summary: 'A device: presence, last seen, reported versions, tags',
    request: { params: DeviceParams },
    responses: { 200: json('The device', Device), 404: problem('No such device') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/fleet/versions',
    summary:
      'How many devices of each product and model run each firmware and software version (at most 2,000 rows)',
    responses: { 200: json('The version distribution', VersionCountList) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/devices/{id}/operations',
    summary: "A device's operations (the runs of its upgrade workflow), newest first, from Temporal",
    request: { params: DeviceParams, query: DeviceOperationQuery },
    responses: {
      200: json('One page of operations', DeviceOperationList),
      400: problem('Invalid paging'),
      404: problem('No such device'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/devices/{id}/operations/{runId}',
    summary:
      "One operation's story: the seed steps, commands, reports and waits with their times, read from its workflow history, and for a failure the seed's message with its description and solution",
    request: { params: DeviceOperationParams },
    responses: {
      200: json('The operation and its timeline', DeviceOperationStory),
      400: problem('Not a run ID'),
      404: problem('No such device, or no such run of its operations'),
    },
  });
  registry.registerPath({
    method: 'patch',
    path: '/v1/devices/{id}',
    summary: "Replace a device's tags",
    request: { params: DeviceParams, body: jsonBody(UpdateDeviceRequest) },
    responses: {
      200: json('The device', Device),
      400: problem('Invalid tags'),
      404: problem('No such device'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/devices/{id}/disable',
    summary:
      'Disable a device: it may not log in or register, and its running upgrade ends cancelled with the cause "Device disabled"',
    request: { params: DeviceParams },
    responses: { 200: json('The device, with disabledAt', Device), 404: problem('No such device') },
  });
  registry.registerPath({
    method: 'delete',
    path: '/v1/devices/{id}',
    summary:
      'Delete a disabled device that no task is still upgrading (its secret and registration go; finished task rows keep its ID)',
    request: { params: DeviceParams },
    responses: {
      204: noContent('Deleted'),
      404: problem('No such device'),
      409: problem('The device is enabled, or a task is still upgrading it'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/devices/{id}/revoke-tokens',
    summary: 'Refuse every download token issued to the device until now',
    request: { params: DeviceParams },
    responses: { 204: noContent('Revoked'), 404: problem('No such device') },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/devices/{id}/enable',
    summary: 'Enable a disabled device again',
    request: { params: DeviceParams },
    responses: { 200: json('The device', Device), 404: problem('No such device') },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/devices/{id}/secret',
    summary: "Rotate a device's secret: the old one stops working at its next login",
    request: { params: DeviceParams, body: jsonBody(RotateDeviceSecretRequest) },
    responses: {
      200: json('The device and its new secret (shown this once)', CreatedDevice),
      400: problem('Invalid secret'),
      404: problem('No such device'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/devices/{id}/psk',
    summary:
      "Set an LwM2M device's DTLS pre-shared key (and identity): its session ends, it registers again under the new key",
    request: { params: DeviceParams, body: jsonBody(SetDevicePskRequest) },
    responses: {
      200: json('The device and its new key (shown this once)', DeviceWithPskKey),
      400: problem('Invalid key or identity'),
      404: problem('No such device'),
      409: problem('Not an LwM2M device, or the identity is taken'),
    },
  });
}

function registerPackagePaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/packages',
    summary: 'Upload a package (fields first, then the file; streamed to the package store)',
    request: { body: { required: true, content: { 'multipart/form-data': { schema: PackageUploadForm } } } },
    responses: {
      201: json('The stored package with its SHA-256 and size', Package),
      400: problem('Invalid or missing fields, empty file, or fields after the file'),
      409: problem('This product, model, kind and version exists'),
      413: problem('The file exceeds the size limit'),
      415: problem('Not multipart/form-data'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/packages',
    summary: 'List packages',
    request: { query: PageQuery },
    responses: { 200: json('One page of packages', PackageList), 400: problem('Invalid paging') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/packages/{id}',
    summary: 'A package',
    request: { params: PackageParams },
    responses: { 200: json('The package', Package), 404: problem('No such package') },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/packages/{id}/revoke-tokens',
    summary: 'Refuse every download token of the package issued until now',
    request: { params: PackageParams },
    responses: { 204: noContent('Revoked'), 404: problem('No such package') },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/packages/{id}/retire',
    summary: 'Retire a package: no new task may use it (tasks using it go on)',
    request: { params: PackageParams },
    responses: { 200: json('The package, with retiredAt', Package), 404: problem('No such package') },
  });
}

function registerGroupPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/groups',
    summary: 'Create a device group',
    request: { body: jsonBody(CreateGroupRequest) },
    responses: {
      201: json('The group', Group),
      400: problem('Invalid input'),
      409: problem('A group with this name exists'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/groups',
    summary: 'List groups',
    request: { query: PageQuery },
    responses: { 200: json('One page of groups', GroupList), 400: problem('Invalid paging') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/groups/{id}',
    summary: 'A group and its device count',
    request: { params: GroupParams },
    responses: { 200: json('The group', Group), 404: problem('No such group') },
  });
  registry.registerPath({
    method: 'delete',
    path: '/v1/groups/{id}',
    summary: 'Delete a group (its devices stay)',
    request: { params: GroupParams },
    responses: { 204: noContent('Deleted'), 404: problem('No such group') },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/groups/{id}/devices',
    summary: 'Add devices to a group (those already in it stay)',
    request: { params: GroupParams, body: jsonBody(AddGroupDevicesRequest) },
    responses: {
      200: json('The group', Group),
      400: problem('Invalid input'),
      404: problem('No such group'),
      422: problem('Unknown devices (`deviceIds.<i>`); none was added'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/groups/{id}/devices',
    summary: "A group's devices",
    request: { params: GroupParams, query: PageQuery },
    responses: {
      200: json('One page of devices', DeviceList),
      400: problem('Invalid paging'),
      404: problem('No such group'),
    },
  });
  registry.registerPath({
    method: 'delete',
    path: '/v1/groups/{id}/devices/{deviceId}',
    summary: 'Remove a device from a group',
    request: { params: GroupMemberParams },
    responses: { 204: noContent('Removed'), 404: problem('No such group, or the device is not in it') },
  });
}

function registerWebhookPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/webhooks',
    summary: 'Subscribe a URL to device results and task completions',
    description:
      'Each event is POSTed as JSON `{id, type, createdAt, data}` with Standard Webhooks headers ' +
      '(`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`) and ' +
      '`Idempotency-Key: <event id>`, at least once, retried with backoff for up to 3 days.',
    request: { body: jsonBody(CreateWebhookRequest) },
    responses: {
      201: json('The webhook, with its signing secret (shown this once)', CreatedWebhook),
      400: problem('Invalid input'),
      422: problem('Unknown task'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/webhooks',
    summary: 'List webhooks',
    request: { query: PageQuery },
    responses: { 200: json('One page of webhooks', WebhookList), 400: problem('Invalid paging') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/webhooks/{id}',
    summary: 'A webhook',
    request: { params: WebhookParams },
    responses: { 200: json('The webhook', Webhook), 404: problem('No such webhook') },
  });
  registry.registerPath({
    method: 'delete',
    path: '/v1/webhooks/{id}',
    summary: 'Delete a webhook and its queued deliveries',
    request: { params: WebhookParams },
    responses: { 204: noContent('Deleted'), 404: problem('No such webhook') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/webhooks/{id}/deliveries',
    summary: "A webhook's deliveries: status, attempts, last error",
    request: { params: WebhookParams, query: DeliveryPageQuery },
    responses: {
      200: json('One page of deliveries, oldest first unless order=newest', WebhookDeliveryList),
      400: problem('Invalid paging'),
      404: problem('No such webhook'),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver',
    summary:
      'Send a failed delivery again, from its first attempt and with the same event ID (webhook-id), so a receiver that got it after all can tell',
    request: { params: DeliveryParams },
    responses: {
      200: json('The delivery, pending again', WebhookDelivery),
      400: problem('Not a delivery ID'),
      404: problem('No such webhook or delivery'),
      409: problem('The delivery is still pending, or was delivered'),
    },
  });
}

function registerApiKeyPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/api-keys',
    summary: 'Create an API key (admin scope)',
    request: { body: jsonBody(CreateApiKeyRequest) },
    responses: { 201: json('The key (shown this once)', CreatedApiKey), 400: problem('Invalid input') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/api-keys',
    summary: 'List API keys, revoked ones included (admin scope)',
    request: { query: PageQuery },
    responses: { 200: json('One page of API keys', ApiKeyList), 400: problem('Invalid paging') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/api-keys/{id}',
    summary: 'An API key (admin scope)',
    request: { params: ApiKeyParams },
    responses: { 200: json('The API key', ApiKey), 404: problem('No such API key') },
  });
  registry.registerPath({
    method: 'delete',
    path: '/v1/api-keys/{id}',
    summary: 'Revoke an API key at once (admin scope)',
    request: { params: ApiKeyParams },
    responses: { 204: noContent('Revoked'), 404: problem('No such API key') },
  });
}

function registerSessionPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'post',
    path: '/v1/session',
    summary: 'Sign in to the console: an API key exchanged for a session cookie (HttpOnly, SameSite=Strict)',
    security: [],
    request: { body: jsonBody(SignInRequest) },
    responses: {
      201: json(`The session; its cookie is ${SESSION_COOKIE}`, ConsoleSession),
      400: problem('Invalid input'),
      401: problem('Unknown or revoked API key'),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/session',
    summary: "The request's console session (any scope)",
    responses: { 200: json('The session', ConsoleSession), 404: problem('The request came with an API key') },
  });
  registry.registerPath({
    method: 'delete',
    path: '/v1/session',
    summary: 'Sign out: ends the console session and clears its cookie (any scope)',
    responses: { 204: noContent('Signed out'), 404: problem('The request came with an API key') },
  });
}

function registerAuditLogPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/v1/audit-log',
    summary: 'Changes made through the API, newest first (admin scope)',
    description:
      'Every request other than GET and HEAD made with a valid API key, once answered: key, method, path, ' +
      'route, status, Location and client address. Append-only; no bodies, so no secrets.',
    request: { query: AuditLogQuery },
    responses: { 200: json('One page of entries', AuditEntryList), 400: problem('Invalid filter or paging') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/audit-log/export.csv',
    summary: 'The audit log as CSV, with the same filters (admin scope)',
    request: { query: AuditLogQuery.omit({ limit: true, cursor: true }) },
    responses: {
      200: { description: 'Every matching entry, newest first', content: { 'text/csv': { schema: {} } } },
      400: problem('Invalid filter'),
    },
  });
}
