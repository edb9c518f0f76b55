import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, query } from '../api-client';
import type {
  CreatedDevice,
  Device,
  DeviceOperation,
  DeviceOperationStory,
  DeviceWithPskKey,
  TimelineEntry,
} from '../api-types';
import { ErrorMessage } from '../error-message';
import { formatDuration, formatTime } from '../format';
import { ListState, Pager, usePaged } from '../paging';
import { linkTo } from '../router';
import { useCan } from '../session';
import { Secrets } from './provision-devices';

/** A device and its story: its operations, and for the one chosen, what happened, step by step. */
export function DevicePage(props: { deviceId: string; runId?: string }) {
  const [device, setDevice] = useState<Device>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    setDevice(undefined);
    api<Device>('GET', `/v1/devices/${encodeURIComponent(props.deviceId)}`)
      .then((loaded) => {
        setDevice(loaded);
        setError(undefined);
      })
      .catch((failure: unknown) => setError(failure instanceof ApiError ? failure.detail : String(failure)));
  }, [props.deviceId]);
  if (error) return <ErrorMessage>{error}</ErrorMessage>;
  if (!device) return <p class="muted">Loading…</p>;
  return (
    <section aria-labelledby="device-title">
      <header class="page-header">
        <h1 id="device-title">{device.id}</h1>
        <span class={`state ${device.online ? 'state-running' : ''}`}>
          {device.disabledAt ? 'disabled' : device.online ? 'online' : 'offline'}
        </span>
      </header>
      <dl class="facts">
        <dt>Protocol</dt>
        <dd>{device.protocol}</dd>
        <dt>Product / model</dt>
        <dd>
          {device.product} / {device.model}
        </dd>
        <dt>Software</dt>
        <dd>{device.softwareVersion ?? '—'}</dd>
        <dt>Firmware</dt>
        <dd>{device.firmwareVersion ?? '—'}</dd>
        <dt>Last seen</dt>
        <dd>{formatTime(device.lastSeenAt)}</dd>
        <dt>Tags</dt>
        <dd>{device.tags.join(', ') || '—'}</dd>
        <dt>Provisioned</dt>
        <dd>{formatTime(device.createdAt)}</dd>
      </dl>
      <DeviceActions device={device} onChanged={setDevice} />
      <Operations deviceId={device.id} runId={props.runId} />
    </section>
  );
}

/** The device lifecycle actions the API offers, for a key with the write scope. */
function DeviceActions(props: { device: Device; onChanged: (device: Device) => void }) {
  const can = useCan();
  const { device } = props;
  const [tags, setTags] = useState(device.tags.join(', '));
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const [secret, setSecret] = useState<
    Pick<CreatedDevice, 'id' | 'pskIdentity' | 'pskKey'> & { secret?: string }
  >();
  if (!can('write')) return null;
  const path = `/v1/devices/${encodeURIComponent(device.id)}`;
  const act = async (what: string, call: () => Promise<void>, confirmation?: string) => {
    if (confirmation && !window.confirm(confirmation)) return;
    setError(undefined);
    setDone(undefined);
    try {
      await call();
      setDone(what);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.detail : String(failure));
    }
  };
  return (
    <section class="panel" aria-label="Device actions">
      <form
        class="inline"
        onSubmit={(event) => {
          event.preventDefault();
          void act('Tags saved', async () => {
            const list = tags.split(/\s*,\s*/).filter(Boolean);
            props.onChanged(await api<Device>('PATCH', path, { tags: list }));
          });
        }}
      >
        <label>
          Tags <input value={tags} onInput={(event) => setTags(event.currentTarget.value)} />
        </label>
        <button type="submit">Save tags</button>
      </form>
      <div class="actions">
        {device.disabledAt ? (
          <button
            type="button"
            onClick={() =>
              act('Enabled', async () => props.onChanged(await api<Device>('POST', `${path}/enable`)))
            }
          >
            Enable
          </button>
        ) : (
          <button
            type="button"
            class="danger"
            onClick={() =>
              act(
                'Disabled',
                async () => props.onChanged(await api<Device>('POST', `${path}/disable`)),
                `Disable ${device.id}? It may not log in or register, and its running upgrade ends cancelled.`,
              )
            }
          >
            Disable
          </button>
        )}
        <button
          type="button"
          onClick={() =>
            act(
              'New secret made',
              async () => setSecret(await api<CreatedDevice>('POST', `${path}/secret`, {})),
              `Rotate the secret of ${device.id}? The old one stops working at its next login.`,
            )
          }
        >
          Rotate secret
        </button>
        {device.protocol === 'lwm2m' && (
          <button
            type="button"
            onClick={() =>
              act(
                'New pre-shared key made',
                async () => setSecret(await api<DeviceWithPskKey>('POST', `${path}/psk`, {})),
                `Give ${device.id} a new DTLS pre-shared key? Its session ends; it registers again under the new key.`,
              )
            }
          >
            New pre-shared key
          </button>
        )}
        <button
          type="button"
          onClick={() => act('Download tokens revoked', () => api('POST', `${path}/revoke-tokens`))}
        >
          Revoke download tokens
        </button>
        {device.disabledAt && (
          <button
            type="button"
            class="danger"
            onClick={() =>
              act(
                'Deleted',
                async () => {
                  await api('DELETE', path);
                  window.location.hash = linkTo('devices');
                },
                `Delete ${device.id}? Its secret and registration go; finished task rows keep its ID.`,
              )
            }
          >
            Delete
          </button>
        )}
      </div>
      {error && <ErrorMessage>{error}</ErrorMessage>}
      {done && !error && (
        <p class="success" role="status">
          {done}.
        </p>
      )}
      {secret && <Secrets devices={[secret]} />}
    </section>
  );
}

function Operations(props: { deviceId: string; runId?: string }) {
  const operations = usePaged<DeviceOperation>(
    `/v1/devices/${encodeURIComponent(props.deviceId)}/operations${query({ limit: 10 })}`,
  );
  const chosen = props.runId ?? operations.items[0]?.runId;
  return (
    <>
      <h2>Operations</h2>
      <ListState paged={operations} empty="No operation yet: this device has not been in a task." />
      {operations.items.length > 0 && (
        <div class="table-scroll">
          <table data-testid="operations">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Package</th>
                <th scope="col">Task</th>
                <th scope="col">Status</th>
                <th scope="col">Ended in</th>
              </tr>
            </thead>
            <tbody>
              {operations.items.map((operation) => (
                <tr key={operation.runId} aria-current={operation.runId === chosen ? 'true' : undefined}>
                  <td>
                    <a href={linkTo('devices', props.deviceId, { run: operation.runId })}>
                      {formatTime(operation.startedAt)}
                    </a>
                  </td>
                  <td>{operation.packageVersion ?? '—'}</td>
                  <td>
                    {operation.taskId ? (
                      <a href={linkTo('tasks', operation.taskId)}>{operation.taskId}</a>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>{operation.status}</td>
                  <td>{operation.failureCause ?? operation.step ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager paged={operations} label="Operations" />
      {chosen && <Story deviceId={props.deviceId} runId={chosen} />}
    </>
  );
}

const KIND_LABELS: Record<TimelineEntry['kind'], string> = {
  start: 'start',
  step: 'step',
  command: 'sent',
  platform: 'otaflow',
  report: 'device',
  wait: 'wait',
  error: 'error',
  end: 'end',
};

function Story(props: { deviceId: string; runId: string }) {
  const [story, setStory] = useState<DeviceOperationStory>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    setStory(undefined);
    api<DeviceOperationStory>(
      'GET',
      `/v1/devices/${encodeURIComponent(props.deviceId)}/operations/${encodeURIComponent(props.runId)}`,
    )
      .then((loaded) => {
        setStory(loaded);
        setError(undefined);
      })
      .catch((failure: unknown) => setError(failure instanceof ApiError ? failure.detail : String(failure)));
  }, [props.deviceId, props.runId]);
  if (error) return <ErrorMessage>{error}</ErrorMessage>;
  if (!story) return <p class="muted">Reading the operation's history…</p>;
  const { operation, failure } = story;
  return (
    <section class="story" aria-labelledby="story-title" data-testid="story">
      <header class="page-header">
        <h2 id="story-title">
          Story of the upgrade to {operation.packageVersion ?? '?'} started {formatTime(operation.startedAt)}
        </h2>
        {operation.temporalUiUrl && (
          <a href={operation.temporalUiUrl} target="_blank" rel="noreferrer">
            Open in the Temporal UI
          </a>
        )}
      </header>
      {failure && (
        <div class="failure" role="note" data-testid="failure">
          <p class="failure-cause">{failure.cause}</p>
          <p>{failure.description}</p>
          <p>
            <strong>What to do:</strong> {failure.solution}
          </p>
        </div>
      )}
      <ol class="timeline">
        {story.timeline.map((entry, index) => (
          <li key={`${entry.at}-${index}`} class={`timeline-${entry.kind}`}>
            <time dateTime={entry.at}>{new Date(entry.at).toLocaleTimeString()}</time>
            <span class="timeline-kind">{KIND_LABELS[entry.kind]}</span>
            <span class="timeline-text">
              {entry.text}
              {entry.detail && <span class="muted"> — {entry.detail}</span>}
              {entry.durationMs !== undefined && entry.kind !== 'wait' && (
                <span class="muted"> ({formatDuration(entry.durationMs)})</span>
              )}
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}
