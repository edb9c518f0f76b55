/**
 * Resource values in their binary representation (TLV, and opaque), per OMA LwM2M TS Core
 * appendix C: big-endian two's-complement integers of 1, 2, 4 or 8 bytes, IEEE-754 floats of 4 or
 * 8 bytes, one-byte booleans, UTF-8 strings, Objlnk as two 16-bit ids. Opaque values travel through
 * otaflow as base64 text.
 */
import type { ResourceValue } from '../../../workflows/lwm2m/definitions';
import { Lwm2mContentError } from './content-error';
import type { ResourceType } from './object-model';

export function decodeBinaryValue(type: ResourceType, bytes: Buffer, path: string): ResourceValue {
  switch (type) {
    case 'string':
      return bytes.toString('utf8');
    case 'integer':
    case 'time':
      return decodeInteger(bytes, path, true);
    case 'unsigned':
      return decodeInteger(bytes, path, false);
    case 'float':
      if (bytes.length === 4) return bytes.readFloatBE(0);
      if (bytes.length === 8) return bytes.readDoubleBE(0);
      throw new Lwm2mContentError(`${path}: a float must be 4 or 8 bytes, got ${bytes.length}`);
    case 'boolean':
      if (bytes.length === 1 && (bytes[0] === 0 || bytes[0] === 1)) return bytes[0] === 1;
      throw new Lwm2mContentError(`${path}: a boolean must be one byte 0 or 1`);
    case 'objlnk':
      if (bytes.length !== 4)
        throw new Lwm2mContentError(`${path}: an Objlnk must be 4 bytes, got ${bytes.length}`);
      return `${bytes.readUInt16BE(0)}:${bytes.readUInt16BE(2)}`;
    case 'opaque':
      return bytes.toString('base64');
  }
}

function decodeInteger(bytes: Buffer, path: string, signed: boolean): number {
  switch (bytes.length) {
    case 1:
      return signed ? bytes.readInt8(0) : bytes.readUInt8(0);
    case 2:
      return signed ? bytes.readInt16BE(0) : bytes.readUInt16BE(0);
    case 4:
      return signed ? bytes.readInt32BE(0) : bytes.readUInt32BE(0);
    case 8: {
      const value = signed ? bytes.readBigInt64BE(0) : bytes.readBigUInt64BE(0);
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new Lwm2mContentError(`${path}: integer ${value} is beyond what otaflow represents exactly`);
      }
      return Number(value);
    }
    default:
      throw new Lwm2mContentError(`${path}: an integer must be 1, 2, 4 or 8 bytes, got ${bytes.length}`);
  }
}

export function encodeBinaryValue(type: ResourceType, value: ResourceValue, path: string): Buffer {
  switch (type) {
    case 'string':
      return Buffer.from(String(value), 'utf8');
    case 'integer':
    case 'time':
    case 'unsigned':
      return encodeInteger(requireInteger(value, path));
    case 'float': {
      const buffer = Buffer.alloc(8);
      buffer.writeDoubleBE(requireNumber(value, path));
      return buffer;
    }
    case 'boolean':
      if (typeof value !== 'boolean')
        throw new Lwm2mContentError(`${path}: expected a boolean, got ${value}`);
      return Buffer.of(value ? 1 : 0);
    case 'objlnk': {
      const match = /^(\d+):(\d+)$/.exec(String(value));
      if (!match) throw new Lwm2mContentError(`${path}: an Objlnk is 'object:instance', got '${value}'`);
      const buffer = Buffer.alloc(4);
      buffer.writeUInt16BE(Number(match[1]), 0);
      buffer.writeUInt16BE(Number(match[2]), 2);
      return buffer;
    }
    case 'opaque':
      return Buffer.from(String(value ?? ''), 'base64');
  }
}

function requireNumber(value: ResourceValue, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Lwm2mContentError(`${path}: expected a number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function requireInteger(value: ResourceValue, path: string): number {
  const number = requireNumber(value, path);
  if (!Number.isSafeInteger(number))
    throw new Lwm2mContentError(`${path}: expected an integer, got ${number}`);
  return number;
}

/** The shortest of 1, 2, 4 or 8 bytes that holds the value, as the TS recommends. */
function encodeInteger(value: number): Buffer {
  if (value >= -0x80 && value <= 0x7f) return Buffer.of(value & 0xff);
  if (value >= -0x8000 && value <= 0x7fff) {
    const buffer = Buffer.alloc(2);
    buffer.writeInt16BE(value);
    return buffer;
  }
  if (value >= -0x80000000 && value <= 0x7fffffff) {
    const buffer = Buffer.alloc(4);
    buffer.writeInt32BE(value);
    return buffer;
  }
  const buffer = Buffer.alloc(8);
  buffer.writeBigInt64BE(BigInt(value));
  return buffer;
}
