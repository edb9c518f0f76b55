/**
 * SenML JSON (content-format 110) as LwM2M 1.1 uses it (TS Core §7.4.4, RFC 8428): an array of
 * records; the name of each is the base name in force (`bn`, carried over from earlier records) plus
 * its own `n`. Values: `v` number, `vs` string, `vb` boolean, `vd` opaque (base64url), `vlo` Objlnk.
 */
import type { ResourceValue } from '../../../workflows/lwm2m/definitions';
import { formatLwm2mPath, parseLwm2mPath } from '../lwm2m-path';
import { Lwm2mContentError } from './content-error';
import { resourceType } from './object-model';

interface SenmlRecord {
  bn?: unknown;
  n?: unknown;
  v?: unknown;
  vs?: unknown;
  vb?: unknown;
  vd?: unknown;
  vlo?: unknown;
}

export function decodeSenmlJson(payload: Buffer): Record<string, ResourceValue> {
  let records: unknown;
  try {
    records = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new Lwm2mContentError('SenML JSON payload is not valid JSON');
  }
  if (!Array.isArray(records)) throw new Lwm2mContentError('SenML JSON payload is not an array of records');
  const values: Record<string, ResourceValue> = {};
  let baseName = '';
  records.forEach((entry: unknown, index) => {
    if (typeof entry !== 'object' || entry === null) {
      throw new Lwm2mContentError(`SenML record ${index} is not an object`);
    }
    const record = entry as SenmlRecord;
    if (record.bn !== undefined) {
      if (typeof record.bn !== 'string')
        throw new Lwm2mContentError(`SenML record ${index}: bn is not a string`);
      baseName = record.bn;
    }
    if (record.n !== undefined && typeof record.n !== 'string') {
      throw new Lwm2mContentError(`SenML record ${index}: n is not a string`);
    }
    const name = baseName + ((record.n as string | undefined) ?? '');
    let path: string;
    try {
      path = formatLwm2mPath(parseLwm2mPath(name));
    } catch (error) {
      throw new Lwm2mContentError(`SenML record ${index}: ${(error as Error).message}`);
    }
    values[path] = recordValue(record, index);
  });
  return values;
}

function recordValue(record: SenmlRecord, index: number): ResourceValue {
  if (typeof record.v === 'number') return record.v;
  if (typeof record.vs === 'string') return record.vs;
  if (typeof record.vb === 'boolean') return record.vb;
  if (typeof record.vlo === 'string') return record.vlo;
  if (typeof record.vd === 'string') return Buffer.from(record.vd, 'base64url').toString('base64');
  throw new Lwm2mContentError(`SenML record ${index} has no value (v, vs, vb, vd or vlo of the right type)`);
}

export function encodeSenmlJson(values: Record<string, ResourceValue>): Buffer {
  const records = Object.entries(values).map(([key, value]) => {
    const path = parseLwm2mPath(key);
    const type = path.resourceId === undefined ? 'opaque' : resourceType(path.objectId, path.resourceId);
    const n = formatLwm2mPath(path);
    if (type === 'objlnk') return { n, vlo: String(value) };
    if (type === 'opaque') return { n, vd: Buffer.from(String(value ?? ''), 'base64').toString('base64url') };
    if (typeof value === 'number') return { n, v: value };
    if (typeof value === 'boolean') return { n, vb: value };
    return { n, vs: String(value) };
  });
  return Buffer.from(JSON.stringify(records));
}
