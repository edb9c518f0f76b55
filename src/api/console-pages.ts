import { Router } from 'express';
import { type ConsoleAssets, consoleAssets } from '../console/console-bundle';
import type { Logger } from '../logger';
import { HttpProblem } from './problem';

/**
 * The console's page and its two assets, at `/`, `/console.js` and `/console.css`. Everything the
 * page loads or calls is this origin's: the content security policy says so, and forbids framing.
 * The page itself needs no key: what it shows comes from the API, behind the session cookie.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // The page is small and changes with each release: always asked again, answered 304 when unchanged.
  'cache-control': 'no-cache',
};

const PATHS: Record<string, string> = {
  '/': 'index.html',
  '/console.js': 'console.js',
  '/console.css': 'console.css',
};

export function consolePages(log: Logger): Router {
  let loading: Promise<ConsoleAssets> | undefined;
  const assets = () => {
    loading ??= consoleAssets().catch((error: unknown) => {
      loading = undefined;
      log.error({ err: error }, 'cannot bundle the console');
      throw new HttpProblem(
        500,
        'Internal server error',
        'the console could not be built: see the server log',
      );
    });
    return loading;
  };
  const router = Router({ caseSensitive: true, strict: true });
  router.get(Object.keys(PATHS), async (req, res) => {
    const asset = (await assets()).get(PATHS[req.path] as string);
    if (!asset) throw new HttpProblem(500, 'Internal server error', `the console has no ${req.path}`);
    res.set({ ...SECURITY_HEADERS, 'content-type': asset.contentType }).send(asset.body);
  });
  return router;
}
