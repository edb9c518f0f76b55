/**
 * OMA LwM2M TLV (content-format 11542; 1542 in pre-release 1.0 clients), TS Core §6.4.3 / 1.1
 * §7.4.3. Each element: a type byte (bits 7–6 kind, bit 5 16-bit id, bits 4–3 length width, bits
 * 2–0 short length), the id, the length, the value. Values carry no type; the object model gives it.
 */
import type { ResourceValue } from '../../../workflows/lwm2m/definitions';
import { formatLwm2mPath, type Lwm2mPath, parseLwm2mPath } from '../lwm2m-path';
import { Lwm2mContentError } from './content-error';
import { isMultipleResource, resourceType } from './object-model';
import { decodeBinaryValue, encodeBinaryValue } from './resource-values';

export type TlvElement =
  | { kind: 'object-instance'; id: number; children: TlvElement[] }
  | { kind: 'multiple-resource'; id: number; children: TlvElement[] }
  | { kind: 'resource-instance'; id: number; value: Buffer }
  | { kind: 'resource'; id: number; value: Buffer };

const KINDS = ['object-instance', 'resource-instance', 'multiple-resource', 'resource'] as const;

export function parseTlv(payload: Buffer): TlvElement[] {
  const elements: TlvElement[] = [];
  let offset = 0;
  while (offset < payload.length) {
    const start = offset;
    const need = (bytes: number, what: string) => {
      if (offset + bytes > payload.length) {
        throw new Lwm2mContentError(
          `TLV truncated: the element at byte ${start} needs ${bytes} more byte(s) for its ${what}, ${payload.length - offset} left`,
        );
      }
    };
    const typeByte = payload[offset] as number;
    offset += 1;
    const kind = KINDS[typeByte >> 6] as TlvElement['kind'];
    const idBytes = typeByte & 0x20 ? 2 : 1;
    need(idBytes, 'identifier');
    const id = idBytes === 2 ? payload.readUInt16BE(offset) : (payload[offset] as number);
    offset += idBytes;
    const lengthBytes = (typeByte >> 3) & 0x03;
    let length = typeByte & 0x07;
    if (lengthBytes > 0) {
      need(lengthBytes, 'length');
      length = payload.readUIntBE(offset, lengthBytes);
      offset += lengthBytes;
    }
    need(length, 'value');
    const value = payload.subarray(offset, offset + length);
    offset += length;
    if (kind === 'object-instance' || kind === 'multiple-resource') {
      elements.push({ kind, id, children: parseTlv(value) });
    } else {
      elements.push({ kind, id, value });
    }
  }
  return elements;
}

export function serializeTlv(elements: TlvElement[]): Buffer {
  return Buffer.concat(
    elements.map((element) => {
      const value = 'children' in element ? serializeTlv(element.children) : element.value;
      const idBytes = element.id > 0xff ? 2 : 1;
      const lengthBytes = value.length <= 7 ? 0 : value.length <= 0xff ? 1 : value.length <= 0xffff ? 2 : 3;
      if (value.length > 0xffffff) throw new Lwm2mContentError('TLV value longer than 16 MiB');
      let typeByte = KINDS.indexOf(element.kind) << 6;
      if (idBytes === 2) typeByte |= 0x20;
      typeByte |= lengthBytes === 0 ? value.length : lengthBytes << 3;
      const header = Buffer.alloc(1 + idBytes + lengthBytes);
      header[0] = typeByte;
      header.writeUIntBE(element.id, 1, idBytes);
      if (lengthBytes > 0) header.writeUIntBE(value.length, 1 + idBytes, lengthBytes);
      return Buffer.concat([header, value]);
    }),
  );
}

/**
 * The resource values in a TLV payload answering a request on `requestPath` (an object, an
 * instance, a resource or a resource instance), keyed by full path. Multiple-instance resources
 * give one entry per resource instance (`/3/0/6/1`).
 */
export function decodeTlv(payload: Buffer, requestPath: string): Record<string, ResourceValue> {
  const base = parseLwm2mPath(requestPath);
  const values: Record<string, ResourceValue> = {};
  const visit = (element: TlvElement, at: Lwm2mPath) => {
    switch (element.kind) {
      case 'object-instance':
        for (const child of element.children) visit(child, { objectId: at.objectId, instanceId: element.id });
        return;
      case 'multiple-resource':
        for (const child of element.children) visit(child, { ...at, resourceId: element.id });
        return;
      case 'resource': {
        const path = { ...at, instanceId: at.instanceId ?? 0, resourceId: element.id };
        const key = formatLwm2mPath(path);
        values[key] = decodeBinaryValue(resourceType(at.objectId, element.id), element.value, key);
        return;
      }
      case 'resource-instance': {
        if (at.resourceId === undefined) {
          throw new Lwm2mContentError(
            `TLV resource instance ${element.id} outside a resource (request ${requestPath})`,
          );
        }
        const key = formatLwm2mPath({
          ...at,
          instanceId: at.instanceId ?? 0,
          resourceInstanceId: element.id,
        });
        values[key] = decodeBinaryValue(resourceType(at.objectId, at.resourceId), element.value, key);
        return;
      }
    }
  };
  const top: Lwm2mPath = {
    objectId: base.objectId,
    instanceId: base.instanceId,
    resourceId: base.resourceId,
  };
  for (const element of parseTlv(payload)) {
    if (element.kind === 'resource' || element.kind === 'multiple-resource') {
      visit(element, { objectId: top.objectId, instanceId: top.instanceId });
    } else {
      visit(element, top);
    }
  }
  return values;
}

/**
 * TLV for values of resources of one object instance, keyed by resource path (`/5/0/1`) or, for
 * multiple-instance resources, resource-instance path (`/3/0/6/0`).
 */
export function encodeTlv(values: Record<string, ResourceValue>): Buffer {
  const elements: TlvElement[] = [];
  const multiples = new Map<number, TlvElement & { kind: 'multiple-resource' }>();
  for (const [key, value] of Object.entries(values)) {
    const path = parseLwm2mPath(key);
    if (path.resourceId === undefined) throw new Lwm2mContentError(`${key}: TLV values belong to resources`);
    const bytes = encodeBinaryValue(resourceType(path.objectId, path.resourceId), value, key);
    if (path.resourceInstanceId === undefined && !isMultipleResource(path.objectId, path.resourceId)) {
      elements.push({ kind: 'resource', id: path.resourceId, value: bytes });
      continue;
    }
    let multiple = multiples.get(path.resourceId);
    if (!multiple) {
      multiple = { kind: 'multiple-resource', id: path.resourceId, children: [] };
      multiples.set(path.resourceId, multiple);
      elements.push(multiple);
    }
    multiple.children.push({ kind: 'resource-instance', id: path.resourceInstanceId ?? 0, value: bytes });
  }
  return serializeTlv(elements);
}

/** TLV for a whole object: the values grouped into Object Instance elements, as a read of `/3` answers. */
export function encodeTlvObject(values: Record<string, ResourceValue>): Buffer {
  const instances = new Map<number, Record<string, ResourceValue>>();
  for (const [key, value] of Object.entries(values)) {
    const instanceId = parseLwm2mPath(key).instanceId ?? 0;
    instances.set(instanceId, { ...instances.get(instanceId), [key]: value });
  }
  return serializeTlv(
    [...instances].map(([id, resources]) => ({
      kind: 'object-instance',
      id,
      children: parseTlv(encodeTlv(resources)),
    })),
  );
}
