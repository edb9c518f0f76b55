/**
 * The `$ota` device protocol of the seed platform (Huawei Cloud IoTDA), as its device SDKs speak it:
 * topics, the event envelope, and each event's fields. Both directions live here so the gateway and
 * the device simulator share one definition of the wire format. See docs/mqtt-protocol.md.
 */
import { z } from 'zod';
import type { PackageKind, VersionReport } from '../../workflows/definitions';
import { BROKER_UPLINK_PREFIX } from './broker-topics';

export const OTA_SERVICE_ID = '$ota';

/** What a device needs to fetch a package: the seed's "package download URL, token, and package information". */
export interface PackageDelivery {
  url: string;
  accessToken: string;
  /** Token expiry, seconds since the epoch. */
  expiresAt: number;
  version: string;
  fileName: string;
  size: number;
  sha256: string;
  /** The release signature of `sha256`, base64, when the package is signed. */
  signature?: string;
}

/**
 * What the gateway subscribes to: every device's event uplink, on the seed's topic and where otaflow's
 * Mosquitto plugin moves it (src/mqtt/broker-topics.ts); a broker delivers each on one of them only.
 */
export const UPLINK_SUBSCRIPTIONS = ['$oc/devices/+/sys/events/up', `${BROKER_UPLINK_PREFIX}+`];

/** Device IDs become one topic level, so they may not contain MQTT separators or wildcards. */
const DEVICE_ID_PATTERN = /^[^/+#\s]{1,128}$/;

export function isValidDeviceId(deviceId: string): boolean {
  return DEVICE_ID_PATTERN.test(deviceId);
}

export function eventsDownTopic(deviceId: string): string {
  return `$oc/devices/${deviceId}/sys/events/down`;
}

export function eventsUpTopic(deviceId: string): string {
  return `$oc/devices/${deviceId}/sys/events/up`;
}

/**
 * The device a `$oc/devices/{device_id}/sys/events/up` (or `otaflow/uplinks/{device_id}`) topic belongs
 * to; undefined for any other topic.
 */
export function deviceIdOfUplinkTopic(topic: string): string | undefined {
  if (topic.startsWith(BROKER_UPLINK_PREFIX)) {
    const deviceId = topic.slice(BROKER_UPLINK_PREFIX.length);
    return isValidDeviceId(deviceId) ? deviceId : undefined;
  }
  const levels = topic.split('/');
  const [root, devices, deviceId, sys, events, up] = levels;
  const matches =
    levels.length === 6 &&
    root === '$oc' &&
    devices === 'devices' &&
    sys === 'sys' &&
    events === 'events' &&
    up === 'up';
  return matches && deviceId !== undefined && isValidDeviceId(deviceId) ? deviceId : undefined;
}

/** `event_time` as the platform writes it: UTC, `yyyyMMdd'T'HHmmss'Z'`. */
export function formatEventTime(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
}

// ---- the envelope, both directions ----

const ServiceEventSchema = z.object({
  service_id: z.string().min(1),
  event_type: z.string().min(1),
  event_time: z.string().optional(),
  event_id: z.string().optional(),
  paras: z.record(z.string(), z.unknown()),
});

const EnvelopeSchema = z.object({
  object_device_id: z.string().optional(),
  services: z.array(ServiceEventSchema).min(1),
});

type ServiceEvent = z.infer<typeof ServiceEventSchema>;

export interface EventEnvelope {
  object_device_id: string;
  services: Array<{
    service_id: string;
    event_type: string;
    event_time: string;
    paras: Record<string, unknown>;
  }>;
}

function envelope(
  deviceId: string,
  eventType: string,
  paras: Record<string, unknown>,
  at: Date,
): EventEnvelope {
  return {
    object_device_id: deviceId,
    services: [{ service_id: OTA_SERVICE_ID, event_type: eventType, event_time: formatEventTime(at), paras }],
  };
}

// ---- uplink: device → platform ----

const VersionReportParas = z
  .object({ fw_version: z.string().min(1).optional(), sw_version: z.string().min(1).optional() })
  .refine((paras) => paras.fw_version !== undefined || paras.sw_version !== undefined, {
    message: 'carries neither fw_version nor sw_version',
  });

const ProgressReportParas = z.object({
  result_code: z.number().int().min(0),
  progress: z.number().min(0).max(100).optional(),
  // The SDKs always send it; a report without it can never prove the target version was reached.
  version: z.string().min(1).optional(),
  description: z.string().optional(),
});

export type OtaUplinkEvent =
  | { type: 'version_report'; report: VersionReport }
  | {
      type: 'upgrade_progress_report';
      resultCode: number;
      progress?: number;
      version?: string;
      description?: string;
    };

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

export interface ParsedUplink {
  events: OtaUplinkEvent[];
  /** Services otaflow does not handle (e.g. `$time_sync`): valid traffic, nothing to do. */
  ignoredServices: string[];
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

function parseEnvelope(
  deviceId: string,
  payload: Buffer | string,
): ParseResult<z.infer<typeof EnvelopeSchema>> {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString());
  } catch {
    return { ok: false, error: 'payload is not valid JSON' };
  }
  const parsed = EnvelopeSchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: `invalid event envelope: ${describeIssues(parsed.error)}` };
  const target = parsed.data.object_device_id;
  // Sub-devices behind a gateway device are not supported: an event about another device is refused.
  if (target !== undefined && target !== '' && target !== deviceId) {
    return { ok: false, error: `object_device_id '${target}' differs from the topic's device '${deviceId}'` };
  }
  return { ok: true, value: parsed.data };
}

function parseOtaUplinkEvent(event: ServiceEvent): ParseResult<OtaUplinkEvent> {
  switch (event.event_type) {
    case 'version_report': {
      const paras = VersionReportParas.safeParse(event.paras);
      if (!paras.success) return { ok: false, error: `version_report paras: ${describeIssues(paras.error)}` };
      const report: VersionReport = {};
      if (paras.data.sw_version !== undefined) report.softwareVersion = paras.data.sw_version;
      if (paras.data.fw_version !== undefined) report.firmwareVersion = paras.data.fw_version;
      return { ok: true, value: { type: 'version_report', report } };
    }
    case 'upgrade_progress_report': {
      const paras = ProgressReportParas.safeParse(event.paras);
      if (!paras.success) {
        return { ok: false, error: `upgrade_progress_report paras: ${describeIssues(paras.error)}` };
      }
      const { result_code, progress, version, description } = paras.data;
      return {
        ok: true,
        value: { type: 'upgrade_progress_report', resultCode: result_code, progress, version, description },
      };
    }
    default:
      return { ok: false, error: `unknown ${OTA_SERVICE_ID} event_type '${event.event_type}'` };
  }
}

/** Parses one message a device published on its events/up topic. Any invalid `$ota` event rejects the whole message. */
export function parseUplink(deviceId: string, payload: Buffer | string): ParseResult<ParsedUplink> {
  const parsedEnvelope = parseEnvelope(deviceId, payload);
  if (!parsedEnvelope.ok) return parsedEnvelope;
  const events: OtaUplinkEvent[] = [];
  const ignoredServices: string[] = [];
  for (const service of parsedEnvelope.value.services) {
    if (service.service_id !== OTA_SERVICE_ID) {
      ignoredServices.push(service.service_id);
      continue;
    }
    const event = parseOtaUplinkEvent(service);
    if (!event.ok) return event;
    events.push(event.value);
  }
  return { ok: true, value: { events, ignoredServices } };
}

export function buildVersionReport(deviceId: string, report: VersionReport, at = new Date()): EventEnvelope {
  const paras: Record<string, unknown> = {};
  if (report.firmwareVersion !== undefined) paras.fw_version = report.firmwareVersion;
  if (report.softwareVersion !== undefined) paras.sw_version = report.softwareVersion;
  return envelope(deviceId, 'version_report', paras, at);
}

export interface ProgressReport {
  resultCode: number;
  version: string;
  progress?: number;
  description?: string;
}

export function buildProgressReport(
  deviceId: string,
  report: ProgressReport,
  at = new Date(),
): EventEnvelope {
  const paras: Record<string, unknown> = { result_code: report.resultCode, version: report.version };
  if (report.progress !== undefined) paras.progress = report.progress;
  if (report.description !== undefined) paras.description = report.description;
  return envelope(deviceId, 'upgrade_progress_report', paras, at);
}

// ---- downlink: platform → device ----

export function upgradeEventType(kind: PackageKind): 'firmware_upgrade' | 'software_upgrade' {
  return kind === 'firmware' ? 'firmware_upgrade' : 'software_upgrade';
}

export function buildVersionQuery(deviceId: string, at = new Date()): EventEnvelope {
  return envelope(deviceId, 'version_query', {}, at);
}

/**
 * `expires` is the token's remaining validity in seconds at sending time, as the platform sends it
 * (86400 for a fresh 24 h token); otaflow keeps the absolute expiry in `PackageDelivery.expiresAt`.
 */
export function buildUpgradeNotification(
  deviceId: string,
  kind: PackageKind,
  delivery: PackageDelivery,
  at = new Date(),
): EventEnvelope {
  const expires = Math.max(0, delivery.expiresAt - Math.floor(at.getTime() / 1000));
  return envelope(
    deviceId,
    upgradeEventType(kind),
    {
      version: delivery.version,
      url: delivery.url,
      file_size: delivery.size,
      file_name: delivery.fileName,
      access_token: delivery.accessToken,
      expires,
      sign: delivery.sha256,
      // Not in the seed's message: devices that do not check release signatures ignore it.
      ...(delivery.signature && { signature: delivery.signature }),
    },
    at,
  );
}

const UpgradeParas = z.object({
  version: z.string().min(1),
  url: z.string().url(),
  file_size: z.number().int().min(0),
  file_name: z.string().optional(),
  access_token: z.string().optional(),
  expires: z.number().int().optional(),
  sign: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a SHA-256 hex digest'),
});

export type OtaDownlinkEvent =
  | { type: 'version_query' }
  | {
      type: 'firmware_upgrade' | 'software_upgrade';
      version: string;
      url: string;
      fileSize: number;
      fileName?: string;
      accessToken?: string;
      expiresInSeconds?: number;
      sha256: string;
    };

/** Parses what a device receives on its events/down topic (used by the simulator and tests). */
export function parseDownlink(deviceId: string, payload: Buffer | string): ParseResult<OtaDownlinkEvent[]> {
  const parsedEnvelope = parseEnvelope(deviceId, payload);
  if (!parsedEnvelope.ok) return parsedEnvelope;
  const events: OtaDownlinkEvent[] = [];
  for (const service of parsedEnvelope.value.services) {
    if (service.service_id !== OTA_SERVICE_ID) continue;
    if (service.event_type === 'version_query') {
      events.push({ type: 'version_query' });
      continue;
    }
    if (service.event_type !== 'firmware_upgrade' && service.event_type !== 'software_upgrade') {
      return { ok: false, error: `unknown ${OTA_SERVICE_ID} event_type '${service.event_type}'` };
    }
    const paras = UpgradeParas.safeParse(service.paras);
    if (!paras.success)
      return { ok: false, error: `${service.event_type} paras: ${describeIssues(paras.error)}` };
    events.push({
      type: service.event_type,
      version: paras.data.version,
      url: paras.data.url,
      fileSize: paras.data.file_size,
      fileName: paras.data.file_name,
      accessToken: paras.data.access_token,
      expiresInSeconds: paras.data.expires,
      sha256: paras.data.sign.toLowerCase(),
    });
  }
  return { ok: true, value: events };
}
