/** Small statistics over samples, as the report states them. */

export function median(values: number[]): number | null {
  return percentile(values, 50);
}

/** Nearest-rank percentile; null for no samples. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? null;
}

/**
 * Completions per second over the run's steady part: only the events between the 10th and the 90th
 * percentile count (the ramp-up while tasks start and the stragglers' tail say little about sustained
 * speed). They are binned into windows long enough to hold about 20 events each (1 s at 20/s and
 * more, so slow runs are not rounded to whole events per second); the median window's rate.
 */
export function steadyRatePerSecond(timesMs: number[]): number | null {
  if (timesMs.length < 10) return null;
  const sorted = [...timesMs].sort((a, b) => a - b);
  const low = Math.floor(sorted.length * 0.1);
  const high = Math.floor(sorted.length * 0.9);
  const from = sorted[low] ?? 0;
  const spanMs = Math.max(1, (sorted[high] ?? 0) - from);
  const meanPerMs = (high - low) / spanMs;
  const windowMs = Math.max(1000, Math.ceil(20 / meanPerMs / 1000) * 1000);
  const windows = Math.max(1, Math.floor(spanMs / windowMs));
  const counts = new Array<number>(windows).fill(0);
  for (const t of sorted.slice(low, high)) {
    const window = Math.floor((t - from) / windowMs);
    if (window < windows) counts[window] = (counts[window] ?? 0) + 1;
  }
  const rate = median(counts);
  return rate === null ? null : round((rate * 1000) / windowMs);
}

/** Events per minute between the 10th and 90th percentile event (whole span when there are few). */
export function ratePerMinute(timesMs: number[]): number | null {
  if (timesMs.length < 2) return null;
  const sorted = [...timesMs].sort((a, b) => a - b);
  const low = sorted.length >= 10 ? Math.floor(sorted.length * 0.1) : 0;
  const high = sorted.length >= 10 ? Math.floor(sorted.length * 0.9) : sorted.length - 1;
  const spanMs = (sorted[high] ?? 0) - (sorted[low] ?? 0);
  if (spanMs <= 0) return null;
  return ((high - low) / spanMs) * 60_000;
}

export function round(value: number | null, digits = 2): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
