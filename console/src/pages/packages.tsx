import { useState } from 'preact/hooks';
import { ApiError, api, query, upload } from '../api-client';
import type { Package } from '../api-types';
import { Copyable } from '../copyable';
import { ErrorMessage } from '../error-message';
import { formatTime } from '../format';
import { ListState, Pager, usePaged } from '../paging';
import { linkTo } from '../router';
import { useCan } from '../session';

export function PackagesPage() {
  const can = useCan();
  const packages = usePaged<Package>(`/v1/packages${query({ limit: 25 })}`);
  const [error, setError] = useState<string>();
  const retire = async (pkg: Package) => {
    if (!window.confirm(`Retire ${pkg.name} ${pkg.version}? No new task may use it; tasks using it go on.`))
      return;
    try {
      await api('POST', `/v1/packages/${encodeURIComponent(pkg.id)}/retire`);
      setError(undefined);
    } catch (failure) {
      setError(failure instanceof ApiError ? failure.detail : String(failure));
    }
    packages.reload();
  };
  return (
    <section aria-labelledby="packages-title">
      <header class="page-header">
        <h1 id="packages-title">Packages</h1>
      </header>
      {can('write') && <PackageUpload onUploaded={packages.reload} />}
      {error && <ErrorMessage>{error}</ErrorMessage>}
      <ListState paged={packages} empty="No package yet." />
      {packages.items.length > 0 && (
        <div class="table-scroll">
          <table data-testid="packages">
            <thead>
              <tr>
                <th scope="col">Package</th>
                <th scope="col">Kind</th>
                <th scope="col">Product / model</th>
                <th scope="col">From versions</th>
                <th scope="col">Size</th>
                <th scope="col">SHA-256</th>
                <th scope="col">Signed by</th>
                <th scope="col">Uploaded</th>
                <th scope="col">Used by</th>
                {can('write') && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {packages.items.map((pkg) => (
                <tr key={pkg.id} class={pkg.retiredAt ? 'disabled' : ''}>
                  <td>
                    {pkg.name} <strong>{pkg.version}</strong>
                    {pkg.retiredAt && ' (retired)'}
                  </td>
                  <td>{pkg.kind}</td>
                  <td>
                    {pkg.product} / {pkg.model}
                  </td>
                  <td>{pkg.supportedSourceVersions.join(', ') || 'any'}</td>
                  <td class="number">{formatBytes(pkg.size)}</td>
                  <td>
                    <Copyable text={pkg.sha256} shown={`${pkg.sha256.slice(0, 12)}…`} label="SHA-256" />
                  </td>
                  <td>{pkg.signedBy ?? 'unsigned'}</td>
                  <td>{formatTime(pkg.createdAt)}</td>
                  <td>
                    <a href={linkTo('tasks', undefined, { packageId: pkg.id })}>tasks</a>
                  </td>
                  {can('write') && (
                    <td>
                      {!pkg.retiredAt && (
                        <button type="button" onClick={() => retire(pkg)}>
                          Retire
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager paged={packages} label="Packages" />
    </section>
  );
}

const UPLOAD_FIELDS = [
  { name: 'name', label: 'Name', required: true },
  { name: 'version', label: 'Version', required: true },
  { name: 'product', label: 'Product', required: true },
  { name: 'model', label: 'Model', required: true },
  {
    name: 'supportedSourceVersions',
    label: 'Upgrades from versions (comma-separated; empty: any)',
    required: false,
  },
  { name: 'signature', label: 'Signature (base64, from a trusted release key)', required: false },
] as const;

/** Fields first, then the file (the API streams the file to the package store as it arrives). */
function PackageUpload(props: { onUploaded: () => void }) {
  const [progress, setProgress] = useState<number>();
  const [error, setError] = useState<ApiError>();
  const [uploaded, setUploaded] = useState<Package>();
  const submit = async (event: Event) => {
    event.preventDefault();
    const formElement = event.currentTarget as HTMLFormElement;
    const entered = new FormData(formElement);
    const form = new FormData();
    for (const [name, value] of entered) {
      if (name !== 'file' && typeof value === 'string' && value.trim() !== '')
        form.append(name, value.trim());
    }
    const file = entered.get('file');
    if (file) form.append('file', file);
    setError(undefined);
    setUploaded(undefined);
    setProgress(0);
    try {
      const stored = await upload<Package>('/v1/packages', form, setProgress);
      setUploaded(stored);
      formElement.reset();
      props.onUploaded();
    } catch (failure) {
      setError(failure instanceof ApiError ? failure : new ApiError(0, String(failure), []));
    } finally {
      setProgress(undefined);
    }
  };
  const fieldError = (name: string) => {
    const message = error?.fieldMessage(name);
    return (
      message && (
        <span class="field-error" id={`package-${name}-error`}>
          {message}
        </span>
      )
    );
  };
  return (
    <details class="panel" open={false}>
      <summary>Upload a package</summary>
      <form class="form-grid" onSubmit={submit} aria-label="Upload a package">
        {UPLOAD_FIELDS.map((field) => (
          <label key={field.name}>
            {field.label}
            <input
              name={field.name}
              required={field.required}
              aria-invalid={error?.fieldMessage(field.name) ? true : undefined}
              aria-describedby={`package-${field.name}-error`}
            />
            {fieldError(field.name)}
          </label>
        ))}
        <label>
          Kind
          <select name="kind">
            <option value="firmware">firmware</option>
            <option value="software">software</option>
          </select>
          {fieldError('kind')}
        </label>
        <label>
          File
          <input name="file" type="file" required aria-describedby="package-file-error" />
          {fieldError('file')}
        </label>
        <div class="form-actions">
          <button type="submit" disabled={progress !== undefined}>
            Upload
          </button>
          {progress !== undefined && (
            <progress max={1} value={progress} aria-label="Upload progress">
              {Math.round(progress * 100)} %
            </progress>
          )}
        </div>
        {error && <ErrorMessage>{error.detail}</ErrorMessage>}
        {uploaded && (
          <p class="success" role="status">
            Uploaded {uploaded.name} {uploaded.version}: SHA-256 <code>{uploaded.sha256}</code>
            {uploaded.signedBy ? `, signed by ${uploaded.signedBy}` : ', unsigned'}
          </p>
        )}
      </form>
    </details>
  );
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
