import 'uplot/dist/uPlot.min.css';
import './console.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { SIGNED_OUT_EVENT } from './api-client';
import type { ConsoleSession } from './api-types';
import { ErrorMessage } from './error-message';
import { CellsPage } from './pages/cells';
import { DevicePage } from './pages/device';
import { DevicesPage } from './pages/devices';
import { NewTaskPage } from './pages/new-task';
import { PackagesPage } from './pages/packages';
import { TaskPage } from './pages/task';
import { TasksPage } from './pages/tasks';
import { WebhooksPage } from './pages/webhooks';
import { linkTo, type Route, useRoute } from './router';
import { currentSession, forgetSession, SessionContext, SignIn, signOut } from './session';

const SECTIONS = [
  { section: 'tasks', label: 'Tasks' },
  { section: 'devices', label: 'Devices' },
  { section: 'packages', label: 'Packages' },
  { section: 'cells', label: 'Cells' },
  { section: 'webhooks', label: 'Webhooks' },
];

function App() {
  const [session, setSession] = useState<ConsoleSession | undefined | 'loading'>('loading');
  const [signedOutReason, setSignedOutReason] = useState<string>();
  const [startError, setStartError] = useState<string>();
  const route = useRoute();

  useEffect(() => {
    currentSession().then(setSession, (error: unknown) => setStartError(String(error)));
    const ended = () => {
      forgetSession();
      setSignedOutReason('Your session ended, or its API key was revoked: sign in again.');
      setSession(undefined);
    };
    window.addEventListener(SIGNED_OUT_EVENT, ended);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, ended);
  }, []);

  if (startError) return <ErrorMessage>{startError}</ErrorMessage>;
  if (session === 'loading') return <p class="muted">Loading…</p>;
  if (!session)
    return (
      <SignIn
        reason={signedOutReason}
        onSignedIn={(started) => {
          setSignedOutReason(undefined);
          setSession(started);
        }}
      />
    );
  return (
    <SessionContext.Provider value={session}>
      <header class="top">
        <a class="brand" href={linkTo('tasks')}>
          otaflow
        </a>
        <nav aria-label="Sections">
          {SECTIONS.map(({ section, label }) => (
            <a
              key={section}
              href={linkTo(section)}
              aria-current={route.section === section ? 'page' : undefined}
            >
              {label}
            </a>
          ))}
        </nav>
        <span class="who" title={`scopes: ${session.scopes.join(', ')}`}>
          key {session.keyId} ({session.scopes.join(', ')})
        </span>
        <button type="button" onClick={() => signOut().then(() => setSession(undefined))}>
          Sign out
        </button>
      </header>
      <main>
        <Page route={route} />
      </main>
    </SessionContext.Provider>
  );
}

function Page({ route }: { route: Route }) {
  if (route.section === 'tasks' && route.id === 'new') return <NewTaskPage />;
  if (route.section === 'tasks')
    return route.id ? (
      <TaskPage taskId={route.id} />
    ) : (
      <TasksPage packageId={route.params.get('packageId') ?? undefined} />
    );
  if (route.section === 'packages') return <PackagesPage />;
  if (route.section === 'cells') return <CellsPage />;
  if (route.section === 'webhooks') return <WebhooksPage />;
  if (route.section === 'devices')
    return route.id ? (
      <DevicePage deviceId={route.id} runId={route.params.get('run') ?? undefined} />
    ) : (
      <DevicesPage />
    );
  return <p class="empty">No such page: {route.section}</p>;
}

const root = document.getElementById('app');
if (root) render(<App />, root);
