/**
 * Whether an endpoint may register, cheaply for the ones that may not. Every Register used to cost a
 * database query, so a stream of Registers under made-up endpoint names (UDP source addresses are
 * easy to forge, so a per-address limit does not hold) cost the database one query each. Now:
 *   - an endpoint found unknown is refused from memory for a minute;
 *   - lookups that find an endpoint unknown spend a budget per second; once it is spent, endpoints
 *     not remembered as unknown are answered 5.03 (try again later) without a query for the rest of
 *     that second. Made-up names cost the database at most that budget, while a fleet of provisioned
 *     devices registering at once after an outage spends none of it.
 * A known endpoint is looked up at each Register (whose registration is written anyway), so a device
 * disabled through the API is refused at once.
 */
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { Lwm2mDeviceSecurity } from '../devices/lwm2m-registry';

/** An admitted endpoint comes with how it must prove who it is. */
export type Admission = Lwm2mDeviceSecurity | 'unknown endpoint' | 'busy';

export interface EndpointAdmissionLimits {
  /** Database lookups per second that may find an endpoint unknown. */
  unknownLookupsPerSecond: number;
  /** How long an unknown endpoint is remembered. */
  rememberUnknownMs: number;
  /** Unknown endpoints remembered. */
  remembered: number;
}

export const defaultEndpointAdmissionLimits: EndpointAdmissionLimits = {
  unknownLookupsPerSecond: 50,
  rememberUnknownMs: 60_000,
  remembered: 200_000,
};

export function createEndpointAdmission(
  lwm2mDevice: (endpoint: string) => Promise<Lwm2mDeviceSecurity | undefined>,
  limits: EndpointAdmissionLimits = defaultEndpointAdmissionLimits,
): (endpoint: string) => Promise<Admission> {
  const unknown = new LRUCache<string, true>({ max: limits.remembered, ttl: limits.rememberUnknownMs });
  const points = limits.unknownLookupsPerSecond;
  const unknownLookups = new RateLimiterMemory({ points, duration: 1 });
  const BUDGET = 'unknown endpoint lookups';
  return async (endpoint) => {
    if (unknown.has(endpoint)) return 'unknown endpoint';
    const spent = await unknownLookups.get(BUDGET);
    if (spent && spent.consumedPoints >= points) return 'busy';
    const device = await lwm2mDevice(endpoint);
    if (device) return device;
    unknown.set(endpoint, true);
    await unknownLookups.penalty(BUDGET);
    return 'unknown endpoint';
  };
}
