export { formatDuration } from '../../src/duration-text';

/** Instants in the operator's own time zone and locale; a missing one as a dash. */
export function formatTime(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}

export function formatCount(count: number): string {
  return count.toLocaleString();
}

/** A tally's entries, largest first: failure causes are read by rank. */
export function ranked(tally: Record<string, number>): [string, number][] {
  return Object.entries(tally).sort(([, a], [, b]) => b - a);
}

/** A record's keys in display order: the compiler checks the record names every value of the type. */
export function inOrder<Value extends string>(order: Record<Value, true>): Value[] {
  return Object.keys(order) as Value[];
}
