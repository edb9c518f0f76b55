/**
 * The LwM2M 1.0 JSON format (content-format 11543, TS 1.0 §6.4.4), which LwM2M 1.1 replaced by SenML
 * JSON and which LwM2M 1.0 clients such as Leshan 1.x still offer: `{"bn":"/3/0/","e":[{"n":"3","sv":"1.0"}]}`.
 * Each entry's name is the base name (`bn`, the request path when absent) plus its own `n`. Values:
 * `v` number, `sv` string (opaque as base64), `bv` boolean, `ov` Objlnk (`object:instance`).
 */
import type { ResourceValue } from '../../../workflows/lwm2m/definitions';
import { formatLwm2mPath, parseLwm2mPath } from '../lwm2m-path';
import { Lwm2mContentError } from './content-error';

interface OmaJsonEntry {
  n?: unknown;
  v?: unknown;
  sv?: unknown;
  bv?: unknown;
  ov?: unknown;
}

export function decodeOmaJson(payload: Buffer, requestPath: string): Record<string, ResourceValue> {
  let document: unknown;
  try {
    document = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new Lwm2mContentError('LwM2M JSON payload is not valid JSON');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new Lwm2mContentError('LwM2M JSON payload is not an object');
  }
  const { bn, e } = document as { bn?: unknown; e?: unknown };
  if (bn !== undefined && typeof bn !== 'string')
    throw new Lwm2mContentError('LwM2M JSON: bn is not a string');
  if (!Array.isArray(e)) throw new Lwm2mContentError('LwM2M JSON: e (the entries) is not an array');
  const baseName = (bn as string | undefined) ?? `${requestPath}/`;
  const values: Record<string, ResourceValue> = {};
  e.forEach((item: unknown, index) => {
    if (typeof item !== 'object' || item === null) {
      throw new Lwm2mContentError(`LwM2M JSON entry ${index} is not an object`);
    }
    const entry = item as OmaJsonEntry;
    if (entry.n !== undefined && typeof entry.n !== 'string') {
      throw new Lwm2mContentError(`LwM2M JSON entry ${index}: n is not a string`);
    }
    let path: string;
    try {
      path = formatLwm2mPath(parseLwm2mPath(baseName + ((entry.n as string | undefined) ?? '')));
    } catch (error) {
      throw new Lwm2mContentError(`LwM2M JSON entry ${index}: ${(error as Error).message}`);
    }
    values[path] = entryValue(entry, index);
  });
  return values;
}

function entryValue(entry: OmaJsonEntry, index: number): ResourceValue {
  if (typeof entry.v === 'number') return entry.v;
  if (typeof entry.sv === 'string') return entry.sv;
  if (typeof entry.bv === 'boolean') return entry.bv;
  if (typeof entry.ov === 'string') return entry.ov;
  throw new Lwm2mContentError(`LwM2M JSON entry ${index} has no value (v, sv, bv or ov of the right type)`);
}
