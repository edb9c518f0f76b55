import { z } from 'zod';

/**
 * The API's request and response shapes: requests are validated with these schemas and the OpenAPI
 * document is generated from them (src/api/openapi.ts), so the two cannot disagree.
 */

export const timestamp = z.iso.datetime();

/** Device IDs appear in MQTT topics, so topic separators and wildcards are not allowed. */
export const DeviceId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, 'letters, digits, and _ . : - only, 1 to 128 characters')
  .meta({ example: 'meter-000123' });

const Version = z
  .string()
  .regex(/^[^\s,]{1,64}$/, 'a version: 1 to 64 characters, no whitespace or commas')
  .meta({ example: '1.4.2' });

const Label = z.string().trim().min(1).max(128);

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.string().min(1).max(256).optional().meta({ description: '`nextCursor` of the previous page' }),
});

export const page = <Item extends z.ZodType>(item: Item) =>
  z.object({
    items: z.array(item),
    nextCursor: z.string().optional().meta({ description: 'Absent on the last page' }),
  });

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details; `errors` names each field at fault' });

// ---- devices ----

export const CreateDeviceRequest = z
  .strictObject({
    id: DeviceId,
    protocol: z.enum(['mqtt', 'lwm2m']),
    product: Label,
    model: Label,
    secret: z
      .string()
      .min(8)
      .max(256)
      .optional()
      .meta({ description: 'The MQTT device secret; generated (and returned once) when omitted' }),
  })
  .meta({ id: 'CreateDeviceRequest' });

export const Device = z
  .object({
    id: z.string(),
    protocol: z.enum(['mqtt', 'lwm2m']),
    product: z.string(),
    model: z.string(),
    online: z.boolean(),
    lastSeenAt: timestamp.nullable(),
    softwareVersion: z.string().nullable(),
    firmwareVersion: z.string().nullable(),
    createdAt: timestamp,
  })
  .meta({ id: 'Device' });

export const CreatedDevice = Device.extend({
  secret: z.string().meta({ description: 'The device secret: shown this once, never again' }),
}).meta({ id: 'CreatedDevice' });

export const DeviceList = page(Device).meta({ id: 'DeviceList' });

export const DeviceParams = z.object({ id: z.string() });

// ---- packages ----

export const PackageFields = z.strictObject({
  name: z.string().trim().min(1).max(200),
  version: Version,
  kind: z.enum(['software', 'firmware']),
  product: Label,
  model: Label,
  supportedSourceVersions: z.array(Version).max(1000).default([]).meta({
    description: 'Versions the package upgrades from (repeated or comma-separated); none means any',
  }),
});

export const PackageUploadForm = PackageFields.extend({
  file: z
    .string()
    .meta({ format: 'binary', description: 'The package file; must be the last part, after every field' }),
}).meta({ id: 'PackageUploadForm' });

export const Package = z
  .object({
    id: z.string(),
    name: z.string(),
    version: z.string(),
    kind: z.enum(['software', 'firmware']),
    product: z.string(),
    model: z.string(),
    supportedSourceVersions: z.array(z.string()),
    fileName: z.string(),
    size: z.number().int(),
    sha256: z.string(),
    createdAt: timestamp,
  })
  .meta({ id: 'Package' });

export const PackageList = page(Package).meta({ id: 'PackageList' });

export const PackageParams = z.object({ id: z.string() });

export const DownloadParams = z.object({ packageId: z.string() });

// ---- cells (NB-IoT concurrency) ----

const PermitHolder = z.object({
  deviceId: z.string(),
  requesterWorkflowId: z.string(),
  limit: z
    .number()
    .int()
    .meta({ description: "The cell's limit as this device's coverage sees it (50, 10 or 1)" }),
});

export const CellState = z
  .object({
    cellId: z.string(),
    holders: z.array(PermitHolder).meta({ description: 'Devices upgrading in the cell now' }),
    queue: z.array(PermitHolder).meta({ description: 'Devices waiting for a permit, first in line first' }),
  })
  .meta({ id: 'CellState' });

export const CellParams = z.object({
  cellId: z.string().min(1).max(128).meta({ description: 'The radio cell ID the devices report (/4/0/8)' }),
});
