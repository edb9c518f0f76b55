/**
 * What the Temporal server was asked to do during a phase, from its Prometheus metrics (the dev
 * server started with `--metrics-port`): requests by service and operation (`service_requests`:
 * the frontend's are the SDK's and clients' calls; history and matching's are the server's own) and
 * persistence operations (`persistence_requests`, SQLite here). Counts, unlike CPU times, do not
 * depend on how loaded or stolen-from the host was, so otaflow's phase and the ceiling's compare
 * exactly.
 */

/** `service_requests` as `<service> <operation>`, `persistence_requests` as `persistence <operation>`. */
export type RequestCounts = Record<string, number>;

const COUNTERS: Record<string, (labels: Record<string, string>) => string | undefined> = {
  service_requests: (labels) => labels.operation && `${labels.service_name ?? '?'} ${labels.operation}`,
  persistence_requests: (labels) => labels.operation && `persistence ${labels.operation}`,
};

export async function scrapeTemporalRequests(metricsUrl: string): Promise<RequestCounts> {
  const response = await fetch(metricsUrl);
  if (!response.ok) throw new Error(`${metricsUrl} answered ${response.status}`);
  return parseRequestCounts(await response.text());
}

/** Sums the counters above by key over their other labels (namespace, task queue …). */
export function parseRequestCounts(exposition: string): RequestCounts {
  const counts: RequestCounts = {};
  for (const line of exposition.split('\n')) {
    const match = /^([a-z_]+)\{(.*)\} ([0-9.e+]+)$/.exec(line);
    const keyOf = match?.[1] === undefined ? undefined : COUNTERS[match[1]];
    if (!match || !keyOf) continue;
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map(([, name, value]) => [name, value]),
    );
    const key = keyOf(labels);
    if (key) counts[key] = (counts[key] ?? 0) + Number(match[3]);
  }
  return counts;
}

/** Requests per unit (upgrade) between two scrapes, those of at least 0.01 per unit, largest first. */
export function requestsPerUnit(before: RequestCounts, after: RequestCounts, units: number): RequestCounts {
  return Object.fromEntries(
    Object.entries(after)
      .map(([key, count]) => [key, Math.round((100 * (count - (before[key] ?? 0))) / units) / 100] as const)
      .filter(([, perUnit]) => perUnit >= 0.01)
      .sort((a, b) => b[1] - a[1]),
  );
}

/** Where two phases' requests per unit differ most: `key: a vs b`, the largest differences first. */
export function largestDifferences(a: RequestCounts, b: RequestCounts, count: number): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys]
    .map((key) => ({ key, a: a[key] ?? 0, b: b[key] ?? 0 }))
    .sort((x, y) => Math.abs(y.a - y.b) - Math.abs(x.a - x.b))
    .slice(0, count)
    .map(({ key, a: ofA, b: ofB }) => `${key}: ${ofA} vs ${ofB}`);
}

/** Starts counting a phase's requests; the function it returns ends the phase: requests per unit, or null. */
export async function countTemporalRequests(stack: {
  temporalRequests(): Promise<RequestCounts | null>;
}): Promise<(units: number) => Promise<RequestCounts | null>> {
  const before = await stack.temporalRequests();
  return async (units) => {
    const after = await stack.temporalRequests();
    return before && after ? requestsPerUnit(before, after, units) : null;
  };
}

/** Requests per upgrade in otaflow's upgrade phase and in the ceiling's run of the same scenario. */
export interface PhaseRequests {
  upgrade: RequestCounts | null;
  ceiling: RequestCounts | null;
}
