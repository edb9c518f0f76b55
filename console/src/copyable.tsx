import { useState } from 'preact/hooks';

/** A value shown short, copied whole (a hash, a secret shown once). */
export function Copyable(props: { text: string; shown?: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <span class="copyable">
      <code title={props.text}>{props.shown ?? props.text}</code>{' '}
      <button
        type="button"
        class="small"
        aria-label={`Copy ${props.label}`}
        onClick={() =>
          navigator.clipboard.writeText(props.text).then(
            () => setCopied(true),
            () => setCopied(false),
          )
        }
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </span>
  );
}
