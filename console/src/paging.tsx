import { useCallback, useEffect, useState } from 'preact/hooks';
import { ApiError, api } from './api-client';
import type { Page } from './api-types';
import { ErrorMessage } from './error-message';

export interface Paged<Item> {
  items: Item[];
  error?: string;
  loading: boolean;
  /** Pages before this one (their cursors), for Previous. */
  pageNumber: number;
  next?: () => void;
  previous?: () => void;
  reload: () => void;
}

/**
 * One page at a time of a listing that pages by cursor: every list in the console is paged, since a
 * fleet or a task may hold 100,000 rows. `path` changes (a new filter) start again at the first page.
 */
export function usePaged<Item>(path: string): Paged<Item> {
  const [paging, setPaging] = useState({ path, cursors: [] as string[] });
  const cursors = paging.path === path ? paging.cursors : [];
  const [page, setPage] = useState<Page<Item>>({ items: [] });
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [reloads, setReloads] = useState(0);
  const cursor = cursors.at(-1);

  useEffect(() => {
    let current = true;
    setLoading(true);
    const separator = path.includes('?') ? '&' : '?';
    api<Page<Item>>('GET', cursor ? `${path}${separator}cursor=${encodeURIComponent(cursor)}` : path)
      .then((loaded) => {
        if (!current) return;
        setPage(loaded);
        setError(undefined);
      })
      .catch(
        (failure: unknown) =>
          current && setError(failure instanceof ApiError ? failure.detail : String(failure)),
      )
      .finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [path, cursor, reloads]);

  const reload = useCallback(() => setReloads((count) => count + 1), []);
  return {
    items: page.items,
    error,
    loading,
    pageNumber: cursors.length + 1,
    next: page.nextCursor
      ? () => setPaging({ path, cursors: [...cursors, page.nextCursor as string] })
      : undefined,
    previous: cursors.length > 0 ? () => setPaging({ path, cursors: cursors.slice(0, -1) }) : undefined,
    reload,
  };
}

export function Pager(props: { paged: Paged<unknown>; label: string }) {
  const { paged } = props;
  return (
    <nav class="pager" aria-label={`${props.label} pages`}>
      <button type="button" onClick={paged.previous} disabled={!paged.previous}>
        Previous
      </button>
      <span>Page {paged.pageNumber}</span>
      <button type="button" onClick={paged.next} disabled={!paged.next}>
        Next
      </button>
    </nav>
  );
}

/** What a list shows instead of rows: loading, the API's error, or that there is nothing. */
export function ListState(props: { paged: Paged<unknown>; empty: string }) {
  const { paged } = props;
  if (paged.error) return <ErrorMessage>{paged.error}</ErrorMessage>;
  if (paged.loading && paged.items.length === 0) return <p class="muted">Loading…</p>;
  if (paged.items.length === 0) return <p class="empty">{props.empty}</p>;
  return null;
}
