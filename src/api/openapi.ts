import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import {
  CellParams,
  CellState,
  CreateDeviceRequest,
  CreatedDevice,
  Device,
  DeviceList,
  DeviceParams,
  DownloadParams,
  Package,
  PackageList,
  PackageParams,
  PackageUploadForm,
  PageQuery,
  Problem,
} from './schemas';
import { registerTaskPaths } from './task-openapi';

export const json = (description: string, schema: z.ZodType): ResponseConfig => ({
  description,
  content: { 'application/json': { schema } },
});

export const problem = (description: string): ResponseConfig => ({
  description,
  content: { 'application/problem+json': { schema: Problem } },
});

export const jsonBody = (schema: z.ZodType) => ({
  required: true,
  content: { 'application/json': { schema } },
});

/** The OpenAPI 3.1 document, generated from the schemas the API validates with. */
export function buildOpenApiDocument(): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const registry = new OpenAPIRegistry();

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
    method: 'get',
    path: '/v1/devices',
    summary: 'List devices',
    request: { query: PageQuery },
    responses: { 200: json('One page of devices', DeviceList), 400: problem('Invalid paging') },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/devices/{id}',
    summary: 'A device: presence, last seen, reported versions',
    request: { params: DeviceParams },
    responses: { 200: json('The device', Device), 404: problem('No such device') },
  });

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

  registerTaskPaths(registry);

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
    responses: { 200: { description: 'The API is up' } },
  });

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'otaflow', version: '0.1.0', description: 'OTA upgrade orchestration for IoT fleets' },
  });
}
