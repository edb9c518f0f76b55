import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { DeviceCause, OtaflowCause, PlatformCause } from '../../../workflows/failure-causes';
import { defaultRetryCauses } from '../../../workflows/rollout/retry';
import { ApiError, api, query } from '../api-client';
import type { Group, Package, Page, Task } from '../api-types';
import { ErrorMessage } from '../error-message';
import { linkTo } from '../router';

const FAILURE_CAUSES = [
  ...Object.values(PlatformCause),
  ...Object.values(DeviceCause),
  ...Object.values(OtaflowCause),
];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

type TargetKind = 'deviceIds' | 'groupId' | 'filter';
type Section = 'rate' | 'ramp' | 'waves' | 'abort' | 'startAt' | 'maintenanceWindow' | 'retry';

/** The form's values by the request path they fill (`rollout.rate.devicesPerMinute`), as typed. */
type Values = Record<string, string>;

const INITIAL: Values = {
  'rollout.maxInProgress': '100',
  'rollout.maintenanceWindow.timeZone': Intl.DateTimeFormat().resolvedOptions().timeZone,
  'rollout.retry.maxAttempts': '3',
  'rollout.retry.initialIntervalSeconds': '60',
  'rollout.retry.backoffCoefficient': '2',
  'rollout.retry.maxIntervalSeconds': '3600',
};

/**
 * A task with every target kind and every rollout-policy field of `POST /v1/tasks`. The API does
 * the validation: its messages are shown beside the fields they name. "Preview" asks the API how many
 * devices the target matches (`POST /v1/tasks/preview`) before anything is created.
 */
export function NewTaskPage() {
  const [values, setValues] = useState<Values>(INITIAL);
  const [targetKind, setTargetKind] = useState<TargetKind>('filter');
  const [sections, setSections] = useState<Set<Section>>(new Set());
  const [days, setDays] = useState<Set<number>>(new Set([1, 2, 3, 4, 5]));
  const [retryCauses, setRetryCauses] = useState<Set<string>>(new Set(defaultRetryCauses));
  const [cancelInProgress, setCancelInProgress] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [preview, setPreview] = useState<{ deviceCount: number; firstDeviceIds: string[] }>();
  const [busy, setBusy] = useState(false);
  const packages = useOptions<Package>(`/v1/packages${query({ limit: 100 })}`);
  const groups = useOptions<Group>(`/v1/groups${query({ limit: 100 })}`);

  const set = (path: string, value: string) => {
    setValues({ ...values, [path]: value });
    setPreview(undefined);
  };
  const toggle = (section: Section, on: boolean) => {
    const next = new Set(sections);
    if (on) next.add(section);
    else next.delete(section);
    setSections(next);
    setPreview(undefined);
  };
  const fieldProps = (path: string) => ({ path, values, set, error });

  const body = () =>
    requestBody(values, targetKind, sections, {
      days: [...days].sort(),
      retryCauses: [...retryCauses],
      cancelInProgress,
    });
  const send = async (what: 'preview' | 'create') => {
    setBusy(true);
    setError(undefined);
    try {
      if (what === 'preview') {
        setPreview(await api('POST', '/v1/tasks/preview', body()));
      } else {
        const task = await api<Task>('POST', '/v1/tasks', body());
        window.location.hash = linkTo('tasks', task.id);
      }
    } catch (failure) {
      setPreview(undefined);
      setError(failure instanceof ApiError ? failure : new ApiError(0, String(failure), []));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="new-task-title">
      <header class="page-header">
        <h1 id="new-task-title">New task</h1>
      </header>
      <form
        class="task-form"
        onSubmit={(event) => {
          event.preventDefault();
          void send('create');
        }}
      >
        <fieldset>
          <legend>What</legend>
          <Field {...fieldProps('name')} label="Name (optional)" />
          <Field {...fieldProps('packageId')} label="Package">
            <select
              id="field-packageId"
              value={values.packageId ?? ''}
              onChange={(event) => set('packageId', event.currentTarget.value)}
            >
              <option value="">choose a package</option>
              {packages
                .filter((pkg) => !pkg.retiredAt)
                .map((pkg) => (
                  <option key={pkg.id} value={pkg.id}>
                    {pkg.product}/{pkg.model} {pkg.kind} {pkg.version} ({pkg.name})
                  </option>
                ))}
            </select>
          </Field>
        </fieldset>

        <fieldset>
          <legend>Which devices</legend>
          <div class="choices" role="radiogroup" aria-label="Target">
            {(['filter', 'groupId', 'deviceIds'] as const).map((kind) => (
              <label key={kind}>
                <input
                  type="radio"
                  name="target-kind"
                  checked={targetKind === kind}
                  onChange={() => {
                    setTargetKind(kind);
                    setPreview(undefined);
                  }}
                />{' '}
                {
                  { filter: 'Devices matching a filter', groupId: 'A group', deviceIds: 'A list of devices' }[
                    kind
                  ]
                }
              </label>
            ))}
          </div>
          {targetKind === 'filter' && (
            <>
              <p class="hint">Devices of the package's product and model that match every criterion given.</p>
              <Field {...fieldProps('target.filter.protocol')} label="Protocol">
                <select
                  id="field-target.filter.protocol"
                  value={values['target.filter.protocol'] ?? ''}
                  onChange={(event) => set('target.filter.protocol', event.currentTarget.value)}
                >
                  <option value="">any</option>
                  <option value="mqtt">MQTT</option>
                  <option value="lwm2m">LwM2M</option>
                </select>
              </Field>
              <Field {...fieldProps('target.filter.currentVersion')} label="Current version" />
              <Field {...fieldProps('target.filter.tags')} label="Tags (comma-separated, all of them)" />
            </>
          )}
          {targetKind === 'groupId' && (
            <Field {...fieldProps('target.groupId')} label="Group">
              <select
                id="field-target.groupId"
                value={values['target.groupId'] ?? ''}
                onChange={(event) => set('target.groupId', event.currentTarget.value)}
              >
                <option value="">choose a group</option>
                {groups.map((group) => (
                  <option key={group.id} value={group.id}>
                    {group.name} ({group.deviceCount} devices)
                  </option>
                ))}
              </select>
            </Field>
          )}
          {targetKind === 'deviceIds' && (
            <Field
              {...fieldProps('target.deviceIds')}
              label="Device IDs (one per line or comma-separated, in start order)"
            >
              <textarea
                id="field-target.deviceIds"
                rows={4}
                value={values['target.deviceIds'] ?? ''}
                onInput={(event) => set('target.deviceIds', event.currentTarget.value)}
              />
            </Field>
          )}
          <Field {...fieldProps('mode')} label="Mode">
            <select
              id="field-mode"
              value={values.mode ?? 'snapshot'}
              onChange={(event) => set('mode', event.currentTarget.value)}
            >
              <option value="snapshot">snapshot: the devices that match now</option>
              <option value="continuous">continuous: devices that match later join (group or filter)</option>
            </select>
          </Field>
        </fieldset>

        <fieldset>
          <legend>Rollout</legend>
          <Field
            {...fieldProps('rollout.maxInProgress')}
            label="Upgrades in progress at once, at most"
            type="number"
          />
          <Toggle section="startAt" sections={sections} toggle={toggle} label="Start later">
            <Field {...fieldProps('rollout.startAt')} label="No device starts before" type="datetime-local" />
          </Toggle>
          <Toggle section="rate" sections={sections} toggle={toggle} label="Limit the start rate">
            <Field
              {...fieldProps('rollout.rate.devicesPerMinute')}
              label="Devices started per minute, at most"
              type="number"
            />
            <Toggle section="ramp" sections={sections} toggle={toggle} label="Ramp up to it">
              <Field
                {...fieldProps('rollout.rate.ramp.initialPerMinute')}
                label="Starting at, per minute"
                type="number"
              />
              <Field {...fieldProps('rollout.rate.ramp.multiplier')} label="Multiplied by" type="number" />
              <Field {...fieldProps('rollout.rate.ramp.stepMinutes')} label="Every (minutes)" type="number" />
            </Toggle>
          </Toggle>
          <Toggle section="waves" sections={sections} toggle={toggle} label="Roll out in waves">
            <Field
              {...fieldProps('rollout.waves.sizes')}
              label="Devices per wave (comma-separated; the rest form the last)"
            />
            <Field
              {...fieldProps('rollout.waves.successPercent')}
              label="A wave starts when this % of the previous one succeeded"
              type="number"
            />
          </Toggle>
          <Toggle section="abort" sections={sections} toggle={toggle} label="Abort on failures">
            <Field
              {...fieldProps('rollout.abort.failedCount')}
              label="Failed devices, at most"
              type="number"
            />
            <Field
              {...fieldProps('rollout.abort.failedPercent')}
              label="Failed % of the finished, at most"
              type="number"
            />
            <Field
              {...fieldProps('rollout.abort.minFinished')}
              label="Judged once this many finished"
              type="number"
            />
            <label>
              <input
                type="checkbox"
                checked={cancelInProgress}
                onChange={(event) => setCancelInProgress(event.currentTarget.checked)}
              />{' '}
              Also cancel the upgrades in progress when aborting
            </label>
          </Toggle>
          <Toggle
            section="maintenanceWindow"
            sections={sections}
            toggle={toggle}
            label="Start devices only in a maintenance window"
          >
            <fieldset class="days" aria-label="Days">
              {DAYS.map((day, index) => (
                <label key={day}>
                  <input
                    type="checkbox"
                    checked={days.has(index)}
                    onChange={(event) => {
                      const next = new Set(days);
                      if (event.currentTarget.checked) next.add(index);
                      else next.delete(index);
                      setDays(next);
                    }}
                  />{' '}
                  {day}
                </label>
              ))}
              <FieldError path="rollout.maintenanceWindow.daysOfWeek" error={error} />
            </fieldset>
            <Field {...fieldProps('rollout.maintenanceWindow.start')} label="Opens at" type="time" />
            <Field
              {...fieldProps('rollout.maintenanceWindow.durationMinutes')}
              label="For (minutes)"
              type="number"
            />
            <Field {...fieldProps('rollout.maintenanceWindow.timeZone')} label="Time zone" />
          </Toggle>
          <Toggle section="retry" sections={sections} toggle={toggle} label="Retry failed devices">
            <Field
              {...fieldProps('rollout.retry.maxAttempts')}
              label="Attempts, the first included"
              type="number"
            />
            <Field
              {...fieldProps('rollout.retry.initialIntervalSeconds')}
              label="First wait (seconds)"
              type="number"
            />
            <Field
              {...fieldProps('rollout.retry.backoffCoefficient')}
              label="Each wait multiplied by"
              type="number"
            />
            <Field
              {...fieldProps('rollout.retry.maxIntervalSeconds')}
              label="Longest wait (seconds)"
              type="number"
            />
            <fieldset class="causes" aria-label="Failure causes worth another attempt">
              <legend>Failure causes worth another attempt</legend>
              {FAILURE_CAUSES.map((cause) => (
                <label key={cause}>
                  <input
                    type="checkbox"
                    checked={retryCauses.has(cause)}
                    onChange={(event) => {
                      const next = new Set(retryCauses);
                      if (event.currentTarget.checked) next.add(cause);
                      else next.delete(cause);
                      setRetryCauses(next);
                    }}
                  />{' '}
                  {cause}
                </label>
              ))}
              <FieldError path="rollout.retry.causes" error={error} />
            </fieldset>
          </Toggle>
        </fieldset>

        {error && <ErrorMessage>{error.detail}</ErrorMessage>}
        {preview && (
          <p class="success" role="status" data-testid="preview">
            This task would upgrade {preview.deviceCount.toLocaleString()} device
            {preview.deviceCount === 1 ? '' : 's'}
            {preview.firstDeviceIds.length > 0 && `, starting with ${preview.firstDeviceIds.join(', ')}`}.
          </p>
        )}
        <div class="form-actions">
          <button type="button" disabled={busy} onClick={() => void send('preview')}>
            Preview
          </button>
          <button type="submit" disabled={busy}>
            Create and start
          </button>
        </div>
      </form>
    </section>
  );
}

/** The first page of a listing, for a form's choices. */
function useOptions<Item>(path: string): Item[] {
  const [items, setItems] = useState<Item[]>([]);
  useEffect(() => {
    api<Page<Item>>('GET', path).then(
      (page) => setItems(page.items),
      () => setItems([]),
    );
  }, [path]);
  return items;
}

function Field(props: {
  path: string;
  label: string;
  values: Values;
  set: (path: string, value: string) => void;
  error?: ApiError;
  type?: 'text' | 'number' | 'time' | 'datetime-local';
  children?: ComponentChildren;
}) {
  const id = `field-${props.path}`;
  const message = fieldMessage(props.error, props.path);
  return (
    <label for={id} class="field">
      {props.label}
      {props.children ?? (
        <Input
          id={id}
          type={props.type ?? 'text'}
          value={props.values[props.path] ?? ''}
          invalid={Boolean(message)}
          onValue={(value) => props.set(props.path, value)}
        />
      )}
      {message && <span class="field-error">{message}</span>}
    </label>
  );
}

function Input(props: {
  id: string;
  type: 'text' | 'number' | 'time' | 'datetime-local';
  value: string;
  invalid: boolean;
  onValue: (value: string) => void;
}) {
  const common = {
    id: props.id,
    value: props.value,
    'aria-invalid': props.invalid || undefined,
    onInput: (event: { currentTarget: HTMLInputElement }) => props.onValue(event.currentTarget.value),
  };
  if (props.type === 'number') return <input type="number" step="any" {...common} />;
  if (props.type === 'time') return <input type="time" {...common} />;
  if (props.type === 'datetime-local') return <input type="datetime-local" {...common} />;
  return <input type="text" {...common} />;
}

function FieldError(props: { path: string; error?: ApiError }) {
  const message = fieldMessage(props.error, props.path);
  return message ? <span class="field-error">{message}</span> : null;
}

/** The API's message for a field, or for an element of it (`target.deviceIds.3`: that device). */
function fieldMessage(error: ApiError | undefined, path: string): string | undefined {
  if (!error) return undefined;
  const exact = error.fieldMessage(path);
  if (exact) return exact;
  const inside = error.fields.filter((field) => field.path.startsWith(`${path}.`));
  return inside.length > 0
    ? inside.map((field) => `${field.path.slice(path.length + 1)}: ${field.message}`).join('; ')
    : undefined;
}

function Toggle(props: {
  section: Section;
  sections: Set<Section>;
  toggle: (section: Section, on: boolean) => void;
  label: string;
  children: ComponentChildren;
}) {
  const on = props.sections.has(props.section);
  return (
    <div class="toggle">
      <label>
        <input
          type="checkbox"
          checked={on}
          onChange={(event) => props.toggle(props.section, event.currentTarget.checked)}
        />{' '}
        {props.label}
      </label>
      {on && <div class="toggle-body">{props.children}</div>}
    </div>
  );
}

/** Typed values become the request's JSON: blanks are left out, numbers stay numbers, lists split. */
function requestBody(
  values: Values,
  targetKind: TargetKind,
  sections: Set<Section>,
  choices: { days: number[]; retryCauses: string[]; cancelInProgress: boolean },
): unknown {
  const text = (path: string) => values[path]?.trim() || undefined;
  const number = (path: string) => {
    const typed = text(path);
    return typed === undefined ? undefined : Number(typed);
  };
  const list = (path: string) =>
    text(path)
      ?.split(/[\s,]+/)
      .filter(Boolean);
  const target =
    targetKind === 'deviceIds'
      ? { deviceIds: list('target.deviceIds') ?? [] }
      : targetKind === 'groupId'
        ? { groupId: text('target.groupId') ?? '' }
        : {
            filter: {
              protocol: text('target.filter.protocol'),
              currentVersion: text('target.filter.currentVersion'),
              tags: list('target.filter.tags'),
            },
          };
  const on = (section: Section) => sections.has(section);
  const startAt = text('rollout.startAt');
  return {
    name: text('name'),
    packageId: text('packageId') ?? '',
    target,
    mode: text('mode') ?? 'snapshot',
    rollout: {
      maxInProgress: number('rollout.maxInProgress'),
      startAt: on('startAt') && startAt ? new Date(startAt).toISOString() : undefined,
      rate: on('rate')
        ? {
            devicesPerMinute: number('rollout.rate.devicesPerMinute'),
            ramp: on('ramp')
              ? {
                  initialPerMinute: number('rollout.rate.ramp.initialPerMinute'),
                  multiplier: number('rollout.rate.ramp.multiplier'),
                  stepMinutes: number('rollout.rate.ramp.stepMinutes'),
                }
              : undefined,
          }
        : undefined,
      waves: on('waves')
        ? {
            sizes: list('rollout.waves.sizes')?.map(Number) ?? [],
            successPercent: number('rollout.waves.successPercent'),
          }
        : undefined,
      abort: on('abort')
        ? {
            failedCount: number('rollout.abort.failedCount'),
            failedPercent: number('rollout.abort.failedPercent'),
            minFinished: number('rollout.abort.minFinished'),
            cancelInProgress: choices.cancelInProgress,
          }
        : undefined,
      maintenanceWindow: on('maintenanceWindow')
        ? {
            daysOfWeek: choices.days,
            start: text('rollout.maintenanceWindow.start'),
            durationMinutes: number('rollout.maintenanceWindow.durationMinutes'),
            timeZone: text('rollout.maintenanceWindow.timeZone'),
          }
        : undefined,
      retry: on('retry')
        ? {
            maxAttempts: number('rollout.retry.maxAttempts'),
            initialIntervalSeconds: number('rollout.retry.initialIntervalSeconds'),
            backoffCoefficient: number('rollout.retry.backoffCoefficient'),
            maxIntervalSeconds: number('rollout.retry.maxIntervalSeconds'),
            causes: choices.retryCauses,
          }
        : undefined,
    },
  };
}
