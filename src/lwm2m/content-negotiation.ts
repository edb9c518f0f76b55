/**
 * Which content formats otaflow asks an LwM2M client for (the CoAP Accept option) when it reads or
 * observes a path, in the order it tries them. Clients differ: Leshan answers whatever it is asked,
 * some embedded clients (Wakaama builds among them) refuse a GET without Accept (5.00) or a format
 * they were not built with (4.06). So otaflow always sends an Accept and, on 4.06 or 5.00, retries
 * once with the second format before it reports the refusal. See docs/lwm2m.md#content-formats.
 *
 *   - a single resource: text/plain first (defined for single resources by every LwM2M version and
 *     the smallest answer over NB-IoT), then the client's announced format or its version's default;
 *   - an object or instance: the format the client announced at registration (`ct` on its `</>`
 *     link, LwM2M 1.1) if otaflow decodes it, then its version's default (TLV for 1.0, SenML JSON
 *     for 1.1 and later), then the other one.
 */
import { ContentFormat, decodableFormats } from './content-formats';
import type { Link } from './content-formats/link-format';
import { parseLwm2mPath } from './lwm2m-path';

export interface ClientFormats {
  lwm2mVersion: string;
  objectLinks: Link[];
}

/** The codes after which another Accept may succeed: Not Acceptable, and the Internal Server Error of clients that cannot pick one. */
export const RENEGOTIABLE_CODES: ReadonlySet<string> = new Set(['4.06', '5.00']);

/** At most this many formats are tried for one request: the first, and one retry. */
const TRIES = 2;

/** The content formats the client's registration announced (`</>;ct=110` or `ct="110 112"`), decodable ones only. */
export function announcedFormats(objectLinks: readonly Link[]): number[] {
  const root = objectLinks.find((link) => link.target === '/' || link.attributes.rt === 'oma.lwm2m');
  const ct = root?.attributes.ct;
  if (typeof ct !== 'string') return [];
  return ct
    .split(/\s+/)
    .filter((word) => /^\d{1,5}$/.test(word))
    .map(Number)
    .filter((format) => decodableFormats.includes(format) && format !== ContentFormat.plainText);
}

function versionDefaults(lwm2mVersion: string): number[] {
  return lwm2mVersion === '1.0'
    ? [ContentFormat.tlv, ContentFormat.senmlJson]
    : [ContentFormat.senmlJson, ContentFormat.tlv];
}

/** The Accept of the first request for `path`, then of its one retry. */
export function acceptFormats(client: ClientFormats, path: string): number[] {
  const multiple = [
    ...new Set([...announcedFormats(client.objectLinks), ...versionDefaults(client.lwm2mVersion)]),
  ];
  const isSingleResource = parseLwm2mPath(path).resourceId !== undefined;
  const formats = isSingleResource ? [ContentFormat.plainText, ...multiple] : multiple;
  return formats.slice(0, TRIES);
}

const formatNames: Record<number, string> = {
  [ContentFormat.plainText]: 'text/plain',
  [ContentFormat.opaque]: 'opaque',
  [ContentFormat.senmlJson]: 'SenML JSON',
  [ContentFormat.tlv]: 'TLV',
  [ContentFormat.legacyTlv]: 'TLV (1542)',
  [ContentFormat.omaJson]: 'LwM2M JSON',
};

/** `110 (SenML JSON)`: a content format as an operator reads it. */
export function describeFormat(format: number): string {
  const name = formatNames[format];
  return name ? `${format} (${name})` : String(format);
}
