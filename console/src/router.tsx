import { useEffect, useState } from 'preact/hooks';

/**
 * Pages live in the URL's fragment (`#/tasks/<id>`, `#/tasks?packageId=<id>`): the server serves one
 * page at `/`, and every other path stays the API's.
 */
export interface Route {
  /** The first segment: `tasks`, `devices`, … */
  section: string;
  /** The second segment, decoded: a task's or a device's ID. */
  id?: string;
  params: URLSearchParams;
}

export function routeOf(hash: string): Route {
  const [pathPart = '', search = ''] = hash.replace(/^#\/?/, '').split('?');
  const [section = '', id] = pathPart.split('/');
  return {
    section: section || 'tasks',
    id: id ? decodeURIComponent(id) : undefined,
    params: new URLSearchParams(search),
  };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => routeOf(window.location.hash));
  useEffect(() => {
    const follow = () => setRoute(routeOf(window.location.hash));
    window.addEventListener('hashchange', follow);
    return () => window.removeEventListener('hashchange', follow);
  }, []);
  return route;
}

export function linkTo(section: string, id?: string, params?: Record<string, string>): string {
  const search = params ? new URLSearchParams(params).toString() : '';
  return `#/${section}${id ? `/${encodeURIComponent(id)}` : ''}${search ? `?${search}` : ''}`;
}
