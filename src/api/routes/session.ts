import { randomBytes } from 'node:crypto';
import express, { type RequestHandler, Router } from 'express';
import { deleteConsoleSession, insertConsoleSession } from '../../db/console-sessions';
import type { Database } from '../../db/database';
import type { Logger } from '../../logger';
import { auditChanges } from '../audit';
import {
  apiKeyCallers,
  type Caller,
  callerOf,
  clearSessionCookies,
  hashApiKey,
  SESSION_COOKIE,
  SIGNED_IN_COOKIE,
  sessionOf,
} from '../auth';
import { notFound } from '../problem';
import { SignInRequest } from '../schemas';
import { parseInput } from '../validate';

/** How long a console session lasts: an operator's shift; signing in again opens a new one. */
export const SESSION_HOURS = 12;

/**
 * The console's sign-in: an API key exchanged for a session cookie, HttpOnly (no script reads it) and
 * SameSite=Strict (no other site's page sends it), Secure over HTTPS. The browser then needs no key in
 * its pages, and its EventSource (which sends no headers) reaches the task event stream. Every change
 * made with the cookie carries the session's CSRF token as well (src/api/auth.ts).
 *
 * `signIn` is mounted before the API's key check (it is where a key comes in); `sessionRouter`, behind it.
 */
export function signIn(deps: { db: Database; bootstrapKey: string; logger: Logger }): RequestHandler[] {
  const callerOfKey = apiKeyCallers(deps);
  return [
    express.json({ limit: '4kb' }),
    async (req, res, next) => {
      const { apiKey } = parseInput(SignInRequest, req.body, 'body');
      res.locals.signInKeyHash = hashApiKey(apiKey);
      res.locals.apiKey = await callerOfKey(res.locals.signInKeyHash, res);
      next();
    },
    // A sign-in is in the audit log, under the key it was made with.
    auditChanges(deps),
    async (req, res) => {
      const caller = callerOf(res);
      const keyHash = res.locals.signInKeyHash as string;
      const sessionId = randomBytes(32).toString('base64url');
      const now = new Date();
      const session = {
        keyHash,
        csrfToken: randomBytes(32).toString('base64url'),
        expiresAt: new Date(now.getTime() + SESSION_HOURS * 3_600_000),
      };
      await insertConsoleSession(deps.db, { ...session, idHash: hashApiKey(sessionId), createdAt: now });
      const cookie = {
        sameSite: 'strict',
        secure: req.secure,
        path: '/',
        expires: session.expiresAt,
      } as const;
      res.cookie(SESSION_COOKIE, sessionId, { ...cookie, httpOnly: true });
      res.cookie(SIGNED_IN_COOKIE, '1', cookie);
      res.status(201).json(sessionBody(caller, session));
    },
  ];
}

/** `GET /v1/session`: the request's own session; `DELETE`: signs it out. */
export function sessionRouter(deps: { db: Database }): Router {
  const router = Router({ caseSensitive: true });
  router.get('/', (_req, res) => {
    const session = sessionOf(res);
    if (!session) throw notFound('this request came with an API key, not a console session');
    res.json(sessionBody(callerOf(res), session));
  });
  router.delete('/', async (_req, res) => {
    const session = sessionOf(res);
    if (!session) throw notFound('this request came with an API key, not a console session');
    await deleteConsoleSession(deps.db, session.idHash);
    clearSessionCookies(res);
    res.status(204).end();
  });
  return router;
}

function sessionBody(caller: Caller, session: { csrfToken: string; expiresAt: Date }) {
  return {
    keyId: caller.id,
    scopes: caller.scopes,
    csrfToken: session.csrfToken,
    expiresAt: session.expiresAt.toISOString(),
  };
}
