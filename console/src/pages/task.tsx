import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, query } from '../api-client';
import type { TaskDevice, TaskStatus } from '../api-types';
import { ErrorMessage } from '../error-message';
import { formatCount, formatTime, inOrder, ranked } from '../format';
import { useLiveTask } from '../live-task';
import { ListState, Pager, usePaged } from '../paging';
import { ProgressCharts } from '../progress-chart';
import { linkTo } from '../router';
import { useCan } from '../session';

type Action = 'pause' | 'resume' | 'cancel';

/** Which actions a task in each state accepts (the API refuses the others with 409). */
const ACTIONS_BY_STATE: Record<TaskStatus['state'], Action[]> = {
  scheduled: ['pause', 'cancel'],
  running: ['pause', 'cancel'],
  paused: ['resume', 'cancel'],
  cancelling: ['cancel'],
  completed: [],
  cancelled: [],
  aborted: [],
};

const STEPS = inOrder<TaskDevice['step']>({
  pending: true,
  retrying: true,
  'waiting-online': true,
  'querying-version': true,
  'querying-radio': true,
  'waiting-permit': true,
  downloading: true,
  updating: true,
  succeeded: true,
  failed: true,
  cancelled: true,
});
const OUTCOMES = inOrder<NonNullable<TaskDevice['outcome']>>({
  succeeded: true,
  'already-latest': true,
  failed: true,
  cancelled: true,
});

export function TaskPage(props: { taskId: string }) {
  const { taskId } = props;
  const can = useCan();
  const [task, setTask] = useState<TaskStatus>();
  const [error, setError] = useState<string>();
  const [reloads, setReloads] = useState(0);
  const live = useLiveTask(taskId);

  useEffect(() => {
    api<TaskStatus>('GET', `/v1/tasks/${encodeURIComponent(taskId)}`)
      .then((loaded) => {
        setTask(loaded);
        setError(undefined);
      })
      .catch((failure: unknown) => setError(failure instanceof ApiError ? failure.detail : String(failure)));
  }, [taskId, reloads]);

  const act = async (action: Action) => {
    if (action === 'cancel' && !window.confirm('Cancel this task? Device upgrades in progress are stopped.'))
      return;
    try {
      await api('POST', `/v1/tasks/${encodeURIComponent(taskId)}/${action}`);
      setError(undefined);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.detail : String(failure));
    }
    setReloads((count) => count + 1);
  };

  if (!task) return error ? <ErrorMessage>{error}</ErrorMessage> : <p class="muted">Loading…</p>;
  const progress = live.progress ?? task;
  const counts = progress.counts;
  return (
    <section aria-labelledby="task-title">
      <header class="page-header">
        <h1 id="task-title">{task.name ?? task.id}</h1>
        <span class={`state state-${progress.state}`} data-testid="task-state">
          {progress.state}
        </span>
        <span class={live.live ? 'live on' : 'live'}>{live.live ? 'live' : 'not live'}</span>
      </header>
      {progress.stateReason && <p class="notice">{progress.stateReason}</p>}
      {error && <ErrorMessage>{error}</ErrorMessage>}
      <dl class="facts">
        <dt>Devices</dt>
        <dd data-testid="task-device-count">{formatCount(progress.deviceCount)}</dd>
        <dt>Package</dt>
        <dd>{task.packageId}</dd>
        <dt>Created</dt>
        <dd>{formatTime(task.createdAt)}</dd>
        <dt>Finished</dt>
        <dd>{formatTime(task.finishedAt)}</dd>
      </dl>
      <div class="actions">
        {can('write') &&
          ACTIONS_BY_STATE[progress.state].map((action) => (
            <button
              type="button"
              key={action}
              class={action === 'cancel' ? 'danger' : ''}
              onClick={() => act(action)}
            >
              {action[0]?.toUpperCase()}
              {action.slice(1)}
            </button>
          ))}
        <a class="button" href={`/v1/tasks/${encodeURIComponent(taskId)}/results.csv`} download>
          Export CSV
        </a>
      </div>
      <div class="tallies">
        <Tally title="By step" tally={counts.byStep} order={STEPS} testId="by-step" />
        <Tally title="By outcome" tally={counts.byOutcome} order={OUTCOMES} testId="by-outcome" />
        <Tally title="Failure causes" tally={counts.byFailureCause} testId="by-cause" empty="No failure" />
      </div>
      <ProgressCharts samples={live.samples} rollout={task.rollout} />
      <TaskDevices
        taskId={taskId}
        changes={live.samples.length}
        causes={Object.keys(counts.byFailureCause)}
      />
    </section>
  );
}

function Tally(props: {
  title: string;
  tally: Record<string, number>;
  order?: string[];
  testId: string;
  empty?: string;
}) {
  const entries = props.order
    ? props.order.filter((key) => props.tally[key]).map((key) => [key, props.tally[key] ?? 0] as const)
    : ranked(props.tally);
  const total = entries.reduce((sum, [, count]) => sum + count, 0);
  return (
    <section class="tally" data-testid={props.testId}>
      <h2>{props.title}</h2>
      {entries.length === 0 ? (
        <p class="empty">{props.empty ?? 'Nothing yet'}</p>
      ) : (
        <ul>
          {entries.map(([key, count]) => (
            <li key={key}>
              <span class="tally-key">{key}</span>
              <meter min={0} max={total} value={count} />
              <span class="number">{formatCount(count)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** The task's devices, paged and filtered; read again (at most every 3 s) while the task moves. */
function TaskDevices(props: { taskId: string; changes: number; causes: string[] }) {
  const [step, setStep] = useState('');
  const [outcome, setOutcome] = useState('');
  const [failureCause, setFailureCause] = useState('');
  const devices = usePaged<TaskDevice>(
    `/v1/tasks/${encodeURIComponent(props.taskId)}/devices${query({ limit: 25, step, outcome, failureCause })}`,
  );
  const { reload } = devices;
  useEffect(() => {
    const timer = setTimeout(reload, 3000);
    return () => clearTimeout(timer);
  }, [props.changes, reload]);
  return (
    <section aria-labelledby="task-devices-title">
      <header class="page-header">
        <h2 id="task-devices-title">Devices</h2>
        <label>
          Step{' '}
          <select value={step} onChange={(event) => setStep(event.currentTarget.value)}>
            <option value="">any</option>
            {STEPS.map((name) => (
              <option key={name}>{name}</option>
            ))}
          </select>
        </label>
        <label>
          Outcome{' '}
          <select value={outcome} onChange={(event) => setOutcome(event.currentTarget.value)}>
            <option value="">any</option>
            {OUTCOMES.map((name) => (
              <option key={name}>{name}</option>
            ))}
          </select>
        </label>
        <label>
          Failure cause{' '}
          <select value={failureCause} onChange={(event) => setFailureCause(event.currentTarget.value)}>
            <option value="">any</option>
            {props.causes.map((cause) => (
              <option key={cause}>{cause}</option>
            ))}
          </select>
        </label>
      </header>
      <ListState paged={devices} empty="No device matches." />
      {devices.items.length > 0 && (
        <div class="table-scroll">
          <table data-testid="task-devices">
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Step</th>
                <th scope="col">Outcome</th>
                <th scope="col">Failure cause</th>
                <th scope="col">From → to</th>
                <th scope="col">Attempts</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {devices.items.map((device) => (
                <tr key={device.deviceId}>
                  <td>
                    <a href={linkTo('devices', device.deviceId)}>{device.deviceId}</a>
                  </td>
                  <td>{device.step}</td>
                  <td>{device.outcome ?? '—'}</td>
                  <td>{device.failureCause ?? ''}</td>
                  <td>
                    {device.fromVersion ?? '?'} → {device.toVersion}
                  </td>
                  <td class="number">{device.attempts}</td>
                  <td>{formatTime(device.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager paged={devices} label="Task devices" />
    </section>
  );
}
