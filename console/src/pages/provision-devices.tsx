import Papa from 'papaparse';
import { useState } from 'preact/hooks';
import { ApiError, api } from '../api-client';
import type { CreatedDevice } from '../api-types';
import { Copyable } from '../copyable';

/** The columns a CSV import reads; `tags` holds several, separated by `;`. */
const CSV_COLUMNS = ['id', 'protocol', 'product', 'model', 'tags', 'lwm2mSecurity', 'pskIdentity'] as const;

/**
 * Provisioning: one device from a form, or many from a CSV file (`POST /v1/devices/bulk`, all or
 * none). The secrets the API generates are shown this once, to copy before leaving the page.
 */
export function ProvisionDevices(props: { onProvisioned: () => void }) {
  const [created, setCreated] = useState<CreatedDevice[]>([]);
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);

  const provision = async (devices: Record<string, unknown>[]) => {
    setBusy(true);
    setError(undefined);
    setCreated([]);
    try {
      if (devices.length === 1) setCreated([await api<CreatedDevice>('POST', '/v1/devices', devices[0])]);
      else setCreated((await api<{ items: CreatedDevice[] }>('POST', '/v1/devices/bulk', { devices })).items);
      props.onProvisioned();
    } catch (failure) {
      setError(failure instanceof ApiError ? failure : new ApiError(0, String(failure), []));
    } finally {
      setBusy(false);
    }
  };

  const submitOne = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const text = (name: string) => String(form.get(name) ?? '').trim() || undefined;
    void provision([
      {
        id: text('id'),
        protocol: text('protocol'),
        product: text('product'),
        model: text('model'),
        tags: text('tags')?.split(/\s*,\s*/),
      },
    ]);
  };

  const importCsv = (file: File) => {
    Papa.parse<Record<string, string>>(file, {
      header: true,
      skipEmptyLines: true,
      transformHeader: (header) => header.trim(),
      complete: (parsed) => {
        const unknown = (parsed.meta.fields ?? []).filter(
          (field) => !(CSV_COLUMNS as readonly string[]).includes(field),
        );
        if (unknown.length > 0) {
          setError(
            new ApiError(
              0,
              `unknown CSV columns: ${unknown.join(', ')} (known: ${CSV_COLUMNS.join(', ')})`,
              [],
            ),
          );
          return;
        }
        void provision(parsed.data.map(deviceOfRow));
      },
      error: (failure) => setError(new ApiError(0, `the CSV file cannot be read: ${failure.message}`, [])),
    });
  };

  return (
    <details class="panel">
      <summary>Provision devices</summary>
      <form class="form-grid" aria-label="Provision one device" onSubmit={submitOne}>
        <label>
          Device ID
          <input name="id" required />
          <FieldMessage error={error} path="id" />
        </label>
        <label>
          Protocol
          <select name="protocol">
            <option value="mqtt">MQTT</option>
            <option value="lwm2m">LwM2M</option>
          </select>
        </label>
        <label>
          Product
          <input name="product" required />
          <FieldMessage error={error} path="product" />
        </label>
        <label>
          Model
          <input name="model" required />
          <FieldMessage error={error} path="model" />
        </label>
        <label>
          Tags (comma-separated)
          <input name="tags" />
          <FieldMessage error={error} path="tags" />
        </label>
        <div class="form-actions">
          <button type="submit" disabled={busy}>
            Provision
          </button>
        </div>
      </form>
      <p class="hint">
        Or import a CSV file with the columns {CSV_COLUMNS.join(', ')} (tags separated by <code>;</code>): all
        of its devices are provisioned, or none.
      </p>
      <label>
        CSV file{' '}
        <input
          type="file"
          accept=".csv,text/csv"
          disabled={busy}
          onChange={(event) => {
            const file = event.currentTarget.files?.[0];
            if (file) importCsv(file);
            event.currentTarget.value = '';
          }}
        />
      </label>
      {error && (
        <div class="error" role="alert">
          <p>{error.detail}</p>
          {error.fields.some((field) => field.path.startsWith('devices.')) && (
            <ul>
              {error.fields.map((field) => (
                <li key={field.path}>
                  {rowOf(field.path)}: {field.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {created.length > 0 && <Secrets devices={created} />}
    </details>
  );
}

function deviceOfRow(row: Record<string, string>): Record<string, unknown> {
  const value = (column: string) => row[column]?.trim() || undefined;
  return {
    id: value('id'),
    protocol: value('protocol'),
    product: value('product'),
    model: value('model'),
    tags: value('tags')?.split(/\s*;\s*/),
    lwm2mSecurity: value('lwm2mSecurity'),
    pskIdentity: value('pskIdentity'),
  };
}

/** `devices.3.id` → `row 5 (id)`: the CSV's line, its header being line 1. */
function rowOf(path: string): string {
  const match = /^devices\.(\d+)\.?(.*)$/.exec(path);
  if (!match) return path;
  return `row ${Number(match[1]) + 2}${match[2] ? ` (${match[2]})` : ''}`;
}

function FieldMessage(props: { error?: ApiError; path: string }) {
  const message = props.error?.fieldMessage(props.path);
  return message ? <span class="field-error">{message}</span> : null;
}

/** Shown once: the API never shows a device's secret again. */
export function Secrets(props: {
  devices: (Pick<CreatedDevice, 'id' | 'pskIdentity' | 'pskKey'> & { secret?: string })[];
}) {
  const csv = [
    'id,secret,pskIdentity,pskKey',
    ...props.devices.map((device) =>
      [device.id, device.secret ?? '', device.pskIdentity ?? '', device.pskKey ?? ''].join(','),
    ),
  ].join('\n');
  return (
    <div class="secrets" role="status">
      <p>
        <strong>Copy these secrets now: they are shown this once.</strong>{' '}
        <Copyable
          text={csv}
          shown={`${props.devices.length} device${props.devices.length === 1 ? '' : 's'}`}
          label="all as CSV"
        />
      </p>
      <div class="table-scroll">
        <table data-testid="secrets">
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Secret</th>
              <th scope="col">PSK identity / key</th>
            </tr>
          </thead>
          <tbody>
            {props.devices.map((device) => (
              <tr key={device.id}>
                <td>{device.id}</td>
                <td>
                  {device.secret ? <Copyable text={device.secret} label={`secret of ${device.id}`} /> : '—'}
                </td>
                <td>
                  {device.pskKey ? (
                    <>
                      {device.pskIdentity} <Copyable text={device.pskKey} label={`PSK of ${device.id}`} />
                    </>
                  ) : (
                    '—'
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
