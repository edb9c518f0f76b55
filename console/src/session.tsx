import { createContext } from 'preact';
import { useContext, useState } from 'preact/hooks';
import { ApiError, api, useCsrfToken } from './api-client';
import type { ConsoleSession, Scope } from './api-types';
import { ErrorMessage } from './error-message';

export const SessionContext = createContext<ConsoleSession | undefined>(undefined);

/** Whether the signed-in key may do what needs `scope`: what it may not do is not offered. */
export function useCan(): (scope: Scope) => boolean {
  const session = useContext(SessionContext);
  return (scope) => session?.scopes.includes(scope) ?? false;
}

/** Set by the server beside the (HttpOnly) session cookie: src/api/auth.ts SIGNED_IN_COOKIE. */
const SIGNED_IN_MARKER = 'otaflow_signed_in=1';

/** Forgets the session's CSRF token once the API has refused the session (it clears both cookies). */
export function forgetSession(): void {
  useCsrfToken(undefined);
}

/** The session the browser's cookie stands for, or undefined when it has none (or it ended). */
export async function currentSession(): Promise<ConsoleSession | undefined> {
  if (!document.cookie.split('; ').includes(SIGNED_IN_MARKER)) return undefined;
  try {
    return started(await api<ConsoleSession>('GET', '/v1/session'));
  } catch (error) {
    if (!(error instanceof ApiError && (error.status === 401 || error.status === 404))) throw error;
    forgetSession();
    return undefined;
  }
}

export async function signOut(): Promise<void> {
  await api('DELETE', '/v1/session');
  useCsrfToken(undefined);
}

function started(session: ConsoleSession): ConsoleSession {
  useCsrfToken(session.csrfToken);
  return session;
}

export function SignIn(props: { reason?: string; onSignedIn: (session: ConsoleSession) => void }) {
  const [apiKey, setApiKey] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      props.onSignedIn(started(await api<ConsoleSession>('POST', '/v1/session', { apiKey: apiKey.trim() })));
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.detail : String(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">otaflow</h1>
        {props.reason && <p class="notice">{props.reason}</p>}
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autocomplete="current-password"
          required
          value={apiKey}
          onInput={(event) => setApiKey(event.currentTarget.value)}
        />
        {error && <ErrorMessage>{error}</ErrorMessage>}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <p class="hint">
          The key printed by <code>npm start</code>, or one made with <code>POST /v1/api-keys</code>. The
          browser keeps only a session cookie, for 12 hours.
        </p>
      </form>
    </main>
  );
}
