/** One page of a keyset-paged listing; `nextCursor` is absent on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface PageRequest {
  limit: number;
  /** The last key of the previous page (as returned in `nextCursor`). */
  cursor?: string;
}

/** Callers fetch `limit + 1` rows; the extra one only tells whether another page follows. */
export function toPage<T>(rows: T[], limit: number, keyOf: (item: T) => string): Page<T> {
  if (rows.length <= limit) return { items: rows };
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return last === undefined ? { items } : { items, nextCursor: keyOf(last) };
}
