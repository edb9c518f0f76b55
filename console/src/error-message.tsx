import type { ComponentChildren } from 'preact';

/** What went wrong, in the API's own words, announced to screen readers as it appears. */
export function ErrorMessage(props: { children: ComponentChildren }) {
  return (
    <p class="error" role="alert">
      {props.children}
    </p>
  );
}
