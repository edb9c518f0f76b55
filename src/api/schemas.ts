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

/** A tag such as `eu-west` or `ring=canary`: used in filters and query strings, so no spaces or commas. */
export const Tag = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:=/-]{0,63}$/, 'letters, digits, and _ . : = / - only, 1 to 64 characters')
  .meta({ example: 'ring=canary' });

const distinct = (what: string) => (values: string[], context: z.RefinementCtx) => {
  const seen = new Set<string>();
  values.forEach((value, index) => {
    if (seen.has(value))
      context.addIssue({ code: 'custom', path: [index], message: `duplicate ${what} ${value}` });
    seen.add(value);
  });
};

const Tags = z
  .array(Tag)
  .max(32)
  .superRefine(distinct('tag'))
  .meta({ description: 'At most 32 distinct tags' });

/** The optional `Idempotency-Key` request header of creates (see src/api/idempotency.ts). */
export const IdempotencyKeyHeader = z.string().min(1).max(255);

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

const DeviceSecret = z
  .string()
  .min(8)
  .max(256)
  .optional()
  .meta({ description: 'The MQTT device secret; generated (and returned once) when omitted' });

const Lwm2mSecurity = z.enum(['psk', 'none']).meta({
  description:
    "LwM2M devices: 'psk' registers, updates and downloads only over DTLS under its PSK identity; 'none' " +
    "over plain CoAP. Default: 'psk' when the server runs LwM2M over DTLS (LWM2M_DTLS, on by default) or " +
    "a pskKey or pskIdentity is given, else 'none'",
});

const PskIdentity = z
  .string()
  .regex(/^[^\p{Cc}]{1,128}$/u, '1 to 128 characters, no control characters')
  .meta({ description: 'The DTLS PSK identity (lwm2mSecurity psk); default: the device ID' });

const PskKey = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{2}){16,64}$/, '16 to 64 bytes in hex')
  .meta({
    description:
      'The pre-shared key in hex (lwm2mSecurity psk); generated (16 bytes, returned once) when omitted',
  });

export const CreateDeviceRequest = z
  .strictObject({
    id: DeviceId,
    protocol: z.enum(['mqtt', 'lwm2m']),
    product: Label,
    model: Label,
    secret: DeviceSecret,
    tags: Tags.optional(),
    lwm2mSecurity: Lwm2mSecurity.optional(),
    pskIdentity: PskIdentity.optional(),
    pskKey: PskKey.optional(),
  })
  .superRefine((device, context) => {
    for (const field of ['lwm2mSecurity', 'pskIdentity', 'pskKey'] as const) {
      if (device[field] === undefined) continue;
      if (device.protocol !== 'lwm2m')
        context.addIssue({ code: 'custom', path: [field], message: 'only for protocol lwm2m' });
      else if (field !== 'lwm2mSecurity' && device.lwm2mSecurity === 'none')
        context.addIssue({ code: 'custom', path: [field], message: "not with lwm2mSecurity 'none'" });
    }
  })
  .meta({ id: 'CreateDeviceRequest' });

export const MAX_BULK_DEVICES = 10_000;

export const BulkCreateDevicesRequest = z
  .strictObject({
    devices: z
      .array(CreateDeviceRequest)
      .min(1)
      .max(MAX_BULK_DEVICES)
      .superRefine(
        (devices, context) => {
          const seen = new Set<unknown>();
          devices.forEach((device, index) => {
            // Runs even when some devices are invalid, so every error is named in one answer.
            const id = (device as { id?: unknown } | null)?.id;
            if (typeof id !== 'string') return;
            if (seen.has(id))
              context.addIssue({ code: 'custom', path: [index, 'id'], message: `duplicate device ID ${id}` });
            seen.add(id);
          });
        },
        { when: (payload) => Array.isArray(payload.value) },
      ),
  })
  .meta({ id: 'BulkCreateDevicesRequest' });

export const UpdateDeviceRequest = z.strictObject({ tags: Tags }).meta({ id: 'UpdateDeviceRequest' });

export const SetDevicePskRequest = z
  .strictObject({
    pskIdentity: PskIdentity.optional().meta({
      description: "The DTLS PSK identity; default: the device's current one, or its ID",
    }),
    pskKey: PskKey.optional(),
  })
  .meta({ id: 'SetDevicePskRequest' });

export const RotateDeviceSecretRequest = z
  .strictObject({ secret: DeviceSecret })
  .meta({ id: 'RotateDeviceSecretRequest' });

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
    tags: z.array(z.string()),
    disabledAt: timestamp
      .nullable()
      .meta({ description: 'Set while disabled: the device may not log in, register or be upgraded' }),
    pskIdentity: z
      .string()
      .nullable()
      .meta({ description: 'LwM2M over DTLS: the PSK identity it registers under; null: plain CoAP' }),
    createdAt: timestamp,
  })
  .meta({ id: 'Device' });

export const CreatedDevice = Device.extend({
  secret: z.string().meta({ description: 'The device secret: shown this once, never again' }),
  pskKey: z
    .string()
    .optional()
    .meta({ description: 'The pre-shared key in hex, for a device with a PSK identity: shown this once' }),
}).meta({ id: 'CreatedDevice' });

export const DeviceWithPskKey = Device.extend({
  pskKey: z.string().meta({ description: 'The pre-shared key in hex: shown this once, never again' }),
}).meta({ id: 'DeviceWithPskKey' });

export const CreatedDeviceList = z
  .object({ items: z.array(CreatedDevice).meta({ description: 'In the order of the request' }) })
  .meta({ id: 'CreatedDeviceList' });

export const DeviceList = page(Device).meta({ id: 'DeviceList' });

export const DeviceListQuery = PageQuery.extend({
  protocol: z.enum(['mqtt', 'lwm2m']).optional(),
  product: Label.optional(),
  model: Label.optional(),
  tag: Tag.optional().meta({ description: 'Devices carrying this tag' }),
  version: Version.optional().meta({ description: 'Devices whose software or firmware version is this' }),
});

export const DeviceParams = z.object({ id: z.string() });

export const VersionCountList = z
  .object({
    items: z.array(
      z.object({
        product: z.string(),
        model: z.string(),
        kind: z.enum(['firmware', 'software']),
        version: z.string().nullable().meta({ description: 'Null: not reported yet' }),
        count: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'VersionCountList' });

// ---- a device's story: its operations and their timelines, from Temporal ----

export const DeviceOperation = z
  .object({
    workflowId: z.string(),
    runId: z.string(),
    workflowType: z.string().meta({ example: 'mqttUpgrade' }),
    taskId: z.string().nullable(),
    packageVersion: z.string().nullable(),
    status: z
      .string()
      .meta({ description: "Temporal's status of the run: running, completed, terminated, …" }),
    step: z.string().nullable().meta({ description: 'The final step, once it ended' }),
    failureCause: z.string().nullable().meta({ description: "The seed's message, for a failure" }),
    startedAt: timestamp,
    closedAt: timestamp.nullable(),
    temporalUiUrl: z
      .string()
      .nullable()
      .meta({ description: 'The run in the Temporal UI, when its address is known' }),
  })
  .meta({ id: 'DeviceOperation' });

export const DeviceOperationList = page(DeviceOperation).meta({ id: 'DeviceOperationList' });

export const DeviceOperationQuery = PageQuery.extend({
  cursor: timestamp.optional().meta({ description: '`nextCursor` of the previous page' }),
});

export const DeviceOperationParams = z.object({
  id: z.string(),
  runId: z.uuid({ error: 'a run ID (a UUID) from the operations of this device' }),
});

export const TimelineEntry = z
  .object({
    at: timestamp,
    kind: z.enum(['start', 'step', 'command', 'platform', 'report', 'wait', 'error', 'end']),
    text: z.string(),
    detail: z.string().optional(),
    durationMs: z
      .number()
      .int()
      .optional()
      .meta({ description: 'A command until done, a wait until it ended' }),
  })
  .meta({ id: 'TimelineEntry' });

export const DeviceOperationStory = z
  .object({
    operation: DeviceOperation,
    timeline: z.array(TimelineEntry).meta({ description: "What happened, in order, from the run's history" }),
    failure: z
      .object({ cause: z.string(), description: z.string(), solution: z.string() })
      .nullable()
      .meta({ description: "For a failure: the seed's message, what it means and what to do" }),
  })
  .meta({ id: 'DeviceOperationStory' });

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
  signature: z.base64().max(1024).optional().meta({
    description:
      "Base64 detached signature of the file's SHA-256 digest (32 bytes) by a trusted release key: Ed25519, or ECDSA P-256 (DER or r||s). Required when the deployment refuses unsigned packages",
  }),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, '64 hex digits')
    .optional()
    .meta({ description: "The file's expected SHA-256: the upload is refused if the file differs" }),
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
    signedBy: z
      .string()
      .nullable()
      .meta({ description: 'The trusted key (its file name) whose signature verified; null: unsigned' }),
    signature: z.string().nullable().meta({ description: 'The verified signature, base64' }),
    retiredAt: timestamp.nullable().meta({ description: 'Set once retired: no new task may use it' }),
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

export const CellList = page(CellState).meta({ id: 'CellList' });

/** Each cell listed is one query to its limiter: fewer per page than other listings. */
export const CellListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: timestamp.optional().meta({ description: '`nextCursor` of the previous page' }),
});

export const CellParams = z.object({
  cellId: z.string().min(1).max(128).meta({ description: 'The radio cell ID the devices report (/4/0/8)' }),
});

// ---- groups ----

export const CreateGroupRequest = z
  .strictObject({
    name: Label.meta({ description: 'Unique' }),
    description: z.string().max(1000).optional(),
  })
  .meta({ id: 'CreateGroupRequest' });

export const Group = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    deviceCount: z.number().int(),
    createdAt: timestamp,
  })
  .meta({ id: 'Group' });

export const GroupList = page(Group).meta({ id: 'GroupList' });

export const GroupParams = z.object({ id: z.string() });

export const GroupMemberParams = z.object({ id: z.string(), deviceId: z.string() });

export const AddGroupDevicesRequest = z
  .strictObject({
    deviceIds: z.array(DeviceId).min(1).max(MAX_BULK_DEVICES).superRefine(distinct('device ID')),
  })
  .meta({ id: 'AddGroupDevicesRequest' });

// ---- webhooks ----

export const webhookEventTypes = ['device.result', 'task.completed'] as const;

/** Standard Webhooks secret format: `whsec_` and the base64 of the HMAC key (24 to 64 bytes). */
export const WebhookSecret = z
  .string()
  .regex(/^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/, {
    message: '`whsec_` followed by the base64 of 24 to 64 random bytes',
    abort: true,
  })
  .refine((secret) => {
    const length = Buffer.from(secret.slice('whsec_'.length), 'base64').length;
    return length >= 24 && length <= 64;
  }, '`whsec_` followed by the base64 of 24 to 64 random bytes');

export const CreateWebhookRequest = z
  .strictObject({
    url: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .meta({ description: 'Receives a POST per event' }),
    events: z.array(z.enum(webhookEventTypes)).min(1).superRefine(distinct('event')),
    taskId: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .meta({ description: "Only this task's events; every task's when omitted" }),
    secret: WebhookSecret.optional().meta({
      description: 'The signing secret; generated (and returned once) when omitted',
    }),
  })
  .meta({ id: 'CreateWebhookRequest' });

export const Webhook = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.enum(webhookEventTypes)),
    taskId: z.string().nullable(),
    createdAt: timestamp,
  })
  .meta({ id: 'Webhook' });

export const CreatedWebhook = Webhook.extend({
  secret: z.string().meta({ description: 'The signing secret: shown this once, never again' }),
}).meta({ id: 'CreatedWebhook' });

export const WebhookList = page(Webhook).meta({ id: 'WebhookList' });

export const WebhookParams = z.object({ id: z.string() });

export const DeliveryParams = z.object({
  id: z.string(),
  deliveryId: z.string().regex(/^\d{1,18}$/, 'a delivery ID from the deliveries of this webhook'),
});

export const WebhookDelivery = z
  .object({
    id: z.string(),
    eventId: z.string().meta({ description: 'Also the `webhook-id` and `Idempotency-Key` headers' }),
    eventType: z.enum(webhookEventTypes),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    nextAttemptAt: timestamp.nullable().meta({ description: 'Null once delivered or failed' }),
    lastStatus: z.number().int().nullable().meta({ description: "The receiver's last HTTP status" }),
    lastError: z.string().nullable(),
    createdAt: timestamp,
    deliveredAt: timestamp.nullable(),
    failedAt: timestamp.nullable(),
  })
  .meta({ id: 'WebhookDelivery' });

export const WebhookDeliveryList = page(WebhookDelivery).meta({ id: 'WebhookDeliveryList' });

export const DeliveryPageQuery = PageQuery.extend({
  cursor: z
    .string()
    .regex(/^\d{1,18}$/, 'the nextCursor of the previous page')
    .optional()
    .meta({ description: '`nextCursor` of the previous page' }),
  order: z
    .enum(['oldest', 'newest'])
    .default('oldest')
    .meta({ description: 'Oldest first, or the most recent first' }),
});

// ---- API keys ----

export const apiKeyScopes = ['read', 'write', 'admin'] as const;

export const CreateApiKeyRequest = z
  .strictObject({
    name: Label,
    scopes: z
      .array(z.enum(apiKeyScopes))
      .min(1)
      .superRefine(distinct('scope'))
      .meta({ description: 'read: GET; write: every other method; admin: /v1/api-keys' }),
  })
  .meta({ id: 'CreateApiKeyRequest' });

export const ApiKey = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.enum(apiKeyScopes)),
    createdAt: timestamp,
    lastUsedAt: timestamp.nullable().meta({ description: 'To the minute' }),
    revokedAt: timestamp.nullable(),
  })
  .meta({ id: 'ApiKey' });

export const CreatedApiKey = ApiKey.extend({
  key: z.string().meta({ description: 'The key: shown this once, stored only as a SHA-256 hash' }),
}).meta({ id: 'CreatedApiKey' });

export const ApiKeyList = page(ApiKey).meta({ id: 'ApiKeyList' });

export const ApiKeyParams = z.object({ id: z.string() });

// ---- console sessions ----

export const SignInRequest = z
  .strictObject({
    apiKey: z
      .string()
      .regex(/^[\x21-\x7e]{32,256}$/, 'an API key: 32 to 256 printable characters, no spaces')
      .meta({ description: 'The API key the session stands for' }),
  })
  .meta({ id: 'SignInRequest' });

export const ConsoleSession = z
  .object({
    keyId: z.string().meta({ description: 'The ID of the API key the session stands for' }),
    scopes: z.array(z.enum(apiKeyScopes)),
    csrfToken: z
      .string()
      .meta({ description: 'Send it in X-CSRF-Token with every change made with the session' }),
    expiresAt: timestamp,
  })
  .meta({ id: 'ConsoleSession' });

// ---- audit log ----

export const AuditLogQuery = PageQuery.extend({
  cursor: z
    .string()
    .regex(/^\d{1,18}$/, 'the nextCursor of the previous page')
    .optional()
    .meta({ description: '`nextCursor` of the previous page' }),
  apiKeyId: z
    .string()
    .min(1)
    .max(256)
    .optional()
    .meta({ description: 'Changes made with this API key (`bootstrap` for the bootstrap key)' }),
  method: z.enum(['POST', 'PATCH', 'PUT', 'DELETE']).optional(),
  pathPrefix: z
    .string()
    .startsWith('/')
    .max(1024)
    .optional()
    .meta({ description: 'e.g. /v1/devices/meter-1' }),
  since: z.coerce.date().optional().meta({ description: 'ISO 8601: entries at or after' }),
  until: z.coerce.date().optional().meta({ description: 'ISO 8601: entries before' }),
});

export const AuditEntry = z
  .object({
    id: z.string(),
    at: timestamp,
    apiKeyId: z.string(),
    method: z.string(),
    path: z.string(),
    route: z.string().nullable().meta({ description: 'The route it matched, e.g. /v1/devices/:id' }),
    status: z.number().int().meta({ description: "The API's answer" }),
    location: z.string().nullable().meta({ description: "A create's Location" }),
    address: z.string().nullable().meta({ description: "The client's address as the API saw it" }),
  })
  .meta({ id: 'AuditEntry' });

export const AuditEntryList = page(AuditEntry).meta({ id: 'AuditEntryList' });
