/**
 * The console's one way to call otaflow's API: same origin, the session cookie, the session's CSRF
 * token on every change, and the API's problem documents turned into errors that name the field.
 */

export interface FieldError {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly fields: FieldError[],
  ) {
    super(detail);
  }

  /** The message for one field of a form, by its path in the request (`rollout.maxInProgress`). */
  fieldMessage(path: string): string | undefined {
    return this.fields.find((field) => field.path === path || field.path === `body.${path}`)?.message;
  }
}

/** Sent when the API answers 401: the session ended or its key was revoked. */
export const SIGNED_OUT_EVENT = 'otaflow:signed-out';

let csrfToken: string | undefined;

export function useCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

export async function api<Result>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown) {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'otaflow cannot be reached: check that it is running and the network', []);
  }
  if (response.status === 401 && path !== '/v1/session') window.dispatchEvent(new Event(SIGNED_OUT_EVENT));
  if (!response.ok) throw await apiErrorOf(response);
  if (response.status === 204) return undefined as Result;
  return (await response.json()) as Result;
}

/**
 * A multipart upload with its progress (fetch reports none for a request body): `onProgress` gets the
 * share sent, 0 to 1. The file streams from disk; the browser never holds it in memory.
 */
export function upload<Result>(
  path: string,
  form: FormData,
  onProgress: (share: number) => void,
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', path);
    request.setRequestHeader('accept', 'application/json');
    if (csrfToken) request.setRequestHeader('x-csrf-token', csrfToken);
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    request.onerror = () =>
      reject(new ApiError(0, 'the upload was cut off: check the connection and try again', []));
    request.onload = () => {
      const answer = new Response(request.responseText, {
        status: request.status,
        statusText: request.statusText,
      });
      if (request.status === 401) window.dispatchEvent(new Event(SIGNED_OUT_EVENT));
      if (answer.ok) resolve(answer.json() as Promise<Result>);
      else apiErrorOf(answer).then(reject);
    };
    request.send(form);
  });
}

async function apiErrorOf(response: Response): Promise<ApiError> {
  const problem = (await response.json().catch(() => ({}))) as { detail?: string; errors?: FieldError[] };
  return new ApiError(
    response.status,
    problem.detail ?? `otaflow answered ${response.status} ${response.statusText}`,
    problem.errors ?? [],
  );
}

/** A query string from the filled-in values only. */
export function query(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}
