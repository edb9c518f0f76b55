import { useEffect, useState } from 'preact/hooks';
import { ApiError, api } from '../api-client';
import { ErrorMessage } from '../error-message';
import { formatCount } from '../format';

interface VersionCount {
  product: string;
  model: string;
  kind: 'firmware' | 'software';
  version: string | null;
  count: number;
}

const PALETTE = ['#0969da', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0550ae', '#57606a'];

/**
 * The fleet's version distribution per product and model (`GET /v1/fleet/versions`): one bar per
 * product, model and kind, a segment per version, most common first; what is not reported yet is grey.
 */
export function VersionChart() {
  const [counts, setCounts] = useState<VersionCount[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api<{ items: VersionCount[] }>('GET', '/v1/fleet/versions').then(
      (answer) => setCounts(answer.items),
      (failure: unknown) => setError(failure instanceof ApiError ? failure.detail : String(failure)),
    );
  }, []);
  if (error) return <ErrorMessage>{error}</ErrorMessage>;
  if (!counts) return null;
  const bars = new Map<string, VersionCount[]>();
  for (const count of counts) {
    // A kind no device of the model reports (all null) tells nothing: left out.
    const key = `${count.product} / ${count.model} ${count.kind}`;
    bars.set(key, [...(bars.get(key) ?? []), count]);
  }
  const shown = [...bars].filter(([, versions]) => versions.some((version) => version.version !== null));
  if (shown.length === 0) return <p class="empty">No device has reported a version yet.</p>;
  return (
    <figure class="versions" aria-label="Versions per product" data-testid="versions">
      {shown.map(([key, versions]) => {
        const total = versions.reduce((sum, version) => sum + version.count, 0);
        return (
          <div key={key} class="version-bar">
            <span class="version-key">{key}</span>
            <div class="bar" role="img" aria-label={versions.map(describe).join(', ')}>
              {versions.map((version, index) => (
                <span
                  key={version.version ?? 'unreported'}
                  title={describe(version)}
                  style={{
                    width: `${(100 * version.count) / total}%`,
                    background: version.version === null ? '#8c959f' : PALETTE[index % PALETTE.length],
                  }}
                />
              ))}
            </div>
            <span class="version-legend">{versions.map(describe).join(' · ')}</span>
          </div>
        );
      })}
    </figure>
  );
}

function describe(version: VersionCount): string {
  return `${version.version ?? 'not reported'}: ${formatCount(version.count)}`;
}
