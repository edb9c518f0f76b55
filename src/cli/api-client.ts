/** A small JSON client of otaflow's REST API for the CLI; errors carry the API's problem detail. */
export interface ApiClient {
  get<T>(path: string): Promise<T>;
  post<T = unknown>(path: string, body: unknown): Promise<T>;
  postForm<T = unknown>(path: string, form: FormData): Promise<T>;
}

export function createApiClient(baseUrl: string, apiKey?: string): ApiClient {
  const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  async function send<T>(path: string, init: RequestInit): Promise<T> {
    const response = await fetch(`${baseUrl}${path}`, { ...init, headers: { ...headers, ...init.headers } });
    const text = await response.text();
    if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }
  return {
    get: (path) => send(path, {}),
    post: (path, body) =>
      send(path, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      }),
    postForm: (path, form) => send(path, { method: 'POST', body: form }),
  };
}
