/**
 * Plain text (content-format 0): one resource value as UTF-8 text, TS Core §7.4.1. Integers and
 * floats in decimal, booleans as "0"/"1", Objlnk as "object:instance"; opaque values are not text.
 */
import type { ResourceValue } from '../../../workflows/lwm2m/definitions';
import { parseLwm2mPath } from '../lwm2m-path';
import { Lwm2mContentError } from './content-error';
import { type ResourceType, resourceType } from './object-model';

function typeOf(path: string): ResourceType {
  const parsed = parseLwm2mPath(path);
  if (parsed.resourceId === undefined) {
    throw new Lwm2mContentError(`${path}: plain text carries one resource value, not an object or instance`);
  }
  return resourceType(parsed.objectId, parsed.resourceId);
}

export function decodePlainText(payload: Buffer, path: string): ResourceValue {
  const text = payload.toString('utf8');
  const type = typeOf(path);
  switch (type) {
    case 'string':
      return text;
    case 'integer':
    case 'unsigned':
    case 'time':
      if (!/^[-+]?\d+$/.test(text.trim()))
        throw new Lwm2mContentError(`${path}: '${text}' is not an integer`);
      return Number(text);
    case 'float': {
      const value = Number(text);
      if (text.trim() === '' || !Number.isFinite(value)) {
        throw new Lwm2mContentError(`${path}: '${text}' is not a number`);
      }
      return value;
    }
    case 'boolean':
      if (text !== '0' && text !== '1')
        throw new Lwm2mContentError(`${path}: '${text}' is not a boolean (0 or 1)`);
      return text === '1';
    case 'objlnk':
      if (!/^\d+:\d+$/.test(text)) throw new Lwm2mContentError(`${path}: '${text}' is not an Objlnk`);
      return text;
    case 'opaque':
      // Clients may still send text for a resource otaflow has no definition of.
      return text;
  }
}

export function encodePlainText(value: ResourceValue): Buffer {
  if (typeof value === 'boolean') return Buffer.from(value ? '1' : '0');
  return Buffer.from(value === null ? '' : String(value), 'utf8');
}
