/**
 * Decoding what a client answers, whatever format it chose (otaflow asks for one with Accept, see
 * ../content-negotiation.ts, but decodes any it knows): the values keyed by resource path. Encoding
 * the single values otaflow writes.
 */
import type { ResourceValue } from '../../../workflows/lwm2m/definitions';
import { formatLwm2mPath, parseLwm2mPath } from '../lwm2m-path';
import { Lwm2mContentError } from './content-error';
import { decodeOmaJson } from './oma-json';
import { decodePlainText, encodePlainText } from './plain-text';
import { decodeSenmlJson } from './senml-json';
import { decodeTlv, encodeTlv } from './tlv';

export { Lwm2mContentError } from './content-error';

export const ContentFormat = {
  plainText: 0,
  linkFormat: 40,
  opaque: 42,
  senmlJson: 110,
  tlv: 11542,
  /** LwM2M 1.0's JSON, replaced by SenML JSON in 1.1. */
  omaJson: 11543,
  /** TLV's number before LwM2M 1.0 was final; older Wakaama builds still send it. */
  legacyTlv: 1542,
} as const;

/** node-coap reports registered formats by media type and others by number. */
const byMediaType: Record<string, number> = {
  'text/plain': ContentFormat.plainText,
  'application/link-format': ContentFormat.linkFormat,
  'application/octet-stream': ContentFormat.opaque,
  'application/senml+json': ContentFormat.senmlJson,
  'application/vnd.oma.lwm2m+tlv': ContentFormat.tlv,
  'application/vnd.oma.lwm2m+json': ContentFormat.omaJson,
};

/** Every content format `decodeContent` reads. */
export const decodableFormats: readonly number[] = [
  ContentFormat.plainText,
  ContentFormat.opaque,
  ContentFormat.senmlJson,
  ContentFormat.tlv,
  ContentFormat.legacyTlv,
  ContentFormat.omaJson,
];

/** The numeric content-format of a Content-Format option value; plain text when absent (RFC 7252 §5.10.3 default). */
export function contentFormatNumber(header: unknown): number {
  if (header === undefined || header === null) return ContentFormat.plainText;
  if (typeof header === 'number') return header;
  const known = byMediaType[String(header).split(';')[0]?.trim() ?? ''];
  if (known === undefined) throw new Lwm2mContentError(`unsupported content format '${String(header)}'`);
  return known;
}

export function decodeContent(
  contentFormat: number,
  payload: Buffer,
  requestPath: string,
): Record<string, ResourceValue> {
  const path = formatLwm2mPath(parseLwm2mPath(requestPath));
  switch (contentFormat) {
    case ContentFormat.tlv:
    case ContentFormat.legacyTlv:
      return decodeTlv(payload, path);
    case ContentFormat.senmlJson:
      return decodeSenmlJson(payload);
    case ContentFormat.omaJson:
      return decodeOmaJson(payload, path);
    case ContentFormat.plainText:
      return { [path]: decodePlainText(payload, path) };
    case ContentFormat.opaque:
      return { [path]: payload.toString('base64') };
    default:
      throw new Lwm2mContentError(
        `content format ${contentFormat} is not one otaflow decodes (${decodableFormats.join(', ')})`,
      );
  }
}

/**
 * One resource value to write: TLV for LwM2M 1.0 clients (the format 1.0 makes mandatory), plain
 * text for 1.1 and later (mandatory there for single resources).
 */
export function encodeResourceWrite(
  path: string,
  value: ResourceValue,
  lwm2mVersion: string,
): { contentFormat: number; payload: Buffer } {
  if (lwm2mVersion === '1.0')
    return { contentFormat: ContentFormat.tlv, payload: encodeTlv({ [path]: value }) };
  return { contentFormat: ContentFormat.plainText, payload: encodePlainText(value) };
}
