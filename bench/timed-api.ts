/** A JSON client of otaflow's REST API that keeps every request's latency, by route. */
export interface TimedApi {
  get<T>(path: string, route: string): Promise<T>;
  post<T>(path: string, body: unknown, route: string): Promise<T>;
  postForm<T>(path: string, form: FormData, route: string): Promise<T>;
  latenciesMs: Map<string, number[]>;
}

export function createTimedApi(baseUrl: string, apiKey: string): TimedApi {
  const latenciesMs = new Map<string, number[]>();
  async function send<T>(path: string, init: RequestInit, route: string): Promise<T> {
    const started = performance.now();
    const response = await fetch(`${baseUrl}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${apiKey}`, ...init.headers },
    });
    const text = await response.text();
    const elapsed = performance.now() - started;
    if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${text}`);
    const samples = latenciesMs.get(route) ?? [];
    samples.push(elapsed);
    latenciesMs.set(route, samples);
    return (text ? JSON.parse(text) : undefined) as T;
  }
  return {
    latenciesMs,
    get: (path, route) => send(path, {}, route),
    post: (path, body, route) =>
      send(
        path,
        { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } },
        route,
      ),
    postForm: (path, form, route) => send(path, { method: 'POST', body: form }, route),
  };
}

/** Runs `work` for every item, at most `concurrency` at a time. */
export async function inParallel<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item);
      }
    }),
  );
}
