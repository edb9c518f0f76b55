import { randomBytes } from 'node:crypto';

/**
 * A unique ID that sorts by creation time (to the millisecond), so keyset paging by ID lists records
 * oldest first.
 */
export function newId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}
