/**
 * Request rate limits of the API, in memory per process (rate-limiter-flexible): a bound on what one
 * caller can make this process do, not a fleet-wide quota. Over a limit, the answer is 429 with
 * `Retry-After` and the limit named.
 */
import type { RequestHandler, Response } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { callerOf } from './auth';
import { HttpProblem } from './problem';

export interface ApiRateLimits {
  /** Requests one API key may make per minute. */
  requestsPerKeyPerMinute: number;
  /** Refused credentials (401/403 on an API key or a download token) one client address may present per minute. */
  refusedCredentialsPerAddressPerMinute: number;
}

export const defaultApiRateLimits: ApiRateLimits = {
  requestsPerKeyPerMinute: 6_000,
  refusedCredentialsPerAddressPerMinute: 30,
};

const MINUTE_S = 60;

function tooManyRequests(res: Response, limited: RateLimiterRes, what: string): HttpProblem {
  const seconds = Math.max(1, Math.ceil(limited.msBeforeNext / 1000));
  res.set('Retry-After', String(seconds));
  return new HttpProblem(429, 'Too many requests', `${what}; retry in ${seconds} s`);
}

/** After `authenticate`: each API key's requests per minute. */
export function limitRequestsPerKey(limits: ApiRateLimits): RequestHandler {
  const limiter = new RateLimiterMemory({ points: limits.requestsPerKeyPerMinute, duration: MINUTE_S });
  return async (_req, res, next) => {
    try {
      await limiter.consume(callerOf(res).id);
    } catch (limited) {
      if (!(limited instanceof RateLimiterRes)) throw limited;
      throw tooManyRequests(
        res,
        limited,
        `this API key made over ${limits.requestsPerKeyPerMinute} requests in a minute`,
      );
    }
    next();
  };
}

/**
 * Before any credential check: a client address that presented too many refused credentials (guessed
 * API keys or download tokens) is refused for the rest of the minute without a look at the next ones.
 * One budget per address for every route it guards; `refusedStatuses` are the answers that spend it
 * on a route (401 for an API key; 401 and 403 for a download token).
 */
export function limitRefusedCredentials(
  limits: ApiRateLimits,
): (refusedStatuses: number[]) => RequestHandler {
  const points = limits.refusedCredentialsPerAddressPerMinute;
  const limiter = new RateLimiterMemory({ points, duration: MINUTE_S });
  return (refusedStatuses) => async (req, res, next) => {
    const address = req.socket.remoteAddress ?? 'unknown';
    const record = await limiter.get(address);
    if (record && record.consumedPoints >= points) {
      throw tooManyRequests(res, record, `over ${points} refused credentials from this address in a minute`);
    }
    res.on('finish', () => {
      if (refusedStatuses.includes(res.statusCode)) limiter.penalty(address).catch(() => undefined);
    });
    next();
  };
}
