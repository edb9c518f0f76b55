import { createHash } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Database } from '../db/database';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  findIdempotencyRecord,
  purgeExpiredIdempotencyKeys,
  releaseIdempotencyKey,
} from '../db/idempotency';
import type { SecretBox } from '../devices/secrets';
import type { Logger } from '../logger';
import { callerOf } from './auth';
import { conflict, invalidInput, unprocessable } from './problem';
import { IdempotencyKeyHeader } from './schemas';

/** The creates that take an `Idempotency-Key` (express paths; the OpenAPI document lists the same). */
export const idempotentCreates = [
  '/v1/devices',
  '/v1/devices/bulk',
  '/v1/groups',
  '/v1/tasks',
  '/v1/webhooks',
  '/v1/api-keys',
  '/v1/packages',
] as const;

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
/** A key is remembered this long after its first use; then it may be used again for anything. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;
/** A first request still unanswered after this long died with its process: its key is free again. */
const ABANDONED_AFTER_MS = 60 * 60 * 1000;
const PURGE_EVERY_MS = 10 * 60 * 1000;
const FIRST_TRY = 0;

/**
 * `Idempotency-Key` on creates (draft-ietf-httpapi-idempotency-key-header): the first successful
 * answer (status, body, Location) is stored per API key and replayed, with `Idempotent-Replayed: true`,
 * for a repeat of the same request. The body is stored sealed with the device-secret key: creates
 * answer with secrets shown once (a device's secret, a new API key, a webhook's signing secret). The same key with another method, path or body is refused (422);
 * a repeat while the first is still running is refused (409). Error answers are not stored: the key is
 * freed, so a corrected retry may use it. Mount it after `authenticate` and the JSON body parser.
 */
export function idempotency(deps: { db: Database; secrets: SecretBox; logger: Logger }): RequestHandler {
  const { db } = deps;
  let lastPurge = 0;
  return async (req, res, next) => {
    const key = req.get(IDEMPOTENCY_KEY_HEADER);
    if (key === undefined) {
      next();
      return;
    }
    if (!IdempotencyKeyHeader.safeParse(key).success) {
      throw invalidInput(`the ${IDEMPOTENCY_KEY_HEADER} header must be 1 to 255 characters`, [
        { path: IDEMPOTENCY_KEY_HEADER, message: '1 to 255 characters' },
      ]);
    }
    if (Date.now() - lastPurge > PURGE_EVERY_MS) {
      lastPurge = Date.now();
      await purgeExpiredIdempotencyKeys(db, IDEMPOTENCY_KEY_TTL_MS);
    }
    const apiKeyId = callerOf(res).id;
    const path = req.baseUrl + req.path;
    const claim = { apiKeyId, key, method: req.method, path, requestHash: fingerprint(req, path) };
    const limits = { expireAfterMs: IDEMPOTENCY_KEY_TTL_MS, abandonAfterMs: ABANDONED_AFTER_MS };

    for (let attempt = FIRST_TRY; ; attempt++) {
      if (await claimIdempotencyKey(db, claim, limits)) break;
      const record = await findIdempotencyRecord(db, apiKeyId, key);
      // Released by its failed first request between the two queries: claim again.
      if (!record && attempt === FIRST_TRY) continue;
      if (
        record &&
        (record.method !== claim.method || record.path !== path || record.requestHash !== claim.requestHash)
      ) {
        throw unprocessable(`this ${IDEMPOTENCY_KEY_HEADER} was used for a different request`, [
          {
            path: IDEMPOTENCY_KEY_HEADER,
            message: `already used for another request (${record.method} ${record.path}, or another body)`,
          },
        ]);
      }
      if (!record?.response) {
        res.set('Retry-After', '1');
        throw conflict(`a request with this ${IDEMPOTENCY_KEY_HEADER} is still in progress`, [
          { path: IDEMPOTENCY_KEY_HEADER, message: 'the first request with this key has not finished' },
        ]);
      }
      const { status, sealedBody, location } = record.response;
      // A replayed upload's body is not read: the connection cannot be reused after it.
      if (!req.readableEnded && req.is('multipart/form-data')) res.set('Connection', 'close');
      if (location) res.location(location);
      res
        .status(status)
        .set('Idempotent-Replayed', 'true')
        .json(JSON.parse(deps.secrets.decrypt(sealedBody)));
      return;
    }

    const send = res.json.bind(res);
    let settled = false;
    res.json = (body: unknown) => {
      if (settled) return send(body);
      settled = true;
      const status = res.statusCode;
      const recorded =
        status >= 200 && status < 300
          ? completeIdempotencyKey(db, apiKeyId, key, {
              status,
              sealedBody: deps.secrets.encrypt(JSON.stringify(body)),
              location: res.get('location'),
            })
          : releaseIdempotencyKey(db, apiKeyId, key);
      // The work is done either way: its answer goes out even if the key could not be recorded.
      recorded
        .catch((error: unknown) =>
          deps.logger.error({ err: error, path }, 'could not record an idempotency key'),
        )
        .finally(() => send(body));
      return res;
    };
    res.on('close', () => {
      if (settled) return;
      settled = true;
      releaseIdempotencyKey(db, apiKeyId, key).catch((error: unknown) =>
        deps.logger.error({ err: error, path }, 'could not release an idempotency key'),
      );
    });
    next();
  };
}

/**
 * What makes a repeat "the same request": method, path and the JSON body as parsed (so whitespace and
 * encoding do not matter, key order does). A package upload is streamed, never buffered, so its
 * fingerprint is method and path only: a repeat of an upload with the same key replays the first answer.
 */
function fingerprint(req: Request, path: string): string {
  const body = req.is('multipart/form-data') ? '' : JSON.stringify(req.body ?? null);
  return createHash('sha256').update(`${req.method} ${path}\n${body}`).digest('hex');
}
