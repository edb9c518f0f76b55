/**
 * The start rate: starts are counted in one-minute windows from the rollout's first start, and each
 * window allows `ratePerMinute` of them, so the task starts a batch per window instead of keeping a
 * timer per device.
 */
import type { RolloutPolicy } from './definitions';

export const RATE_WINDOW_MS = 60_000;

type Rate = NonNullable<RolloutPolicy['rate']>;

/** Starts counted in the current window; `windowIndex` counts windows from the first start. */
export interface RateWindow {
  windowIndex: number;
  started: number;
}

/**
 * Starts allowed in the given minute of the rollout. A ramp begins at `initialPerMinute` and is
 * multiplied every `stepMinutes` until it reaches `devicesPerMinute`; at least one device a minute.
 */
export function ratePerMinute(rate: Rate, minute: number): number {
  const { devicesPerMinute, ramp } = rate;
  if (!ramp) return Math.max(1, Math.floor(devicesPerMinute));
  const steps = Math.floor(minute / ramp.stepMinutes);
  const ramped = ramp.initialPerMinute * ramp.multiplier ** steps;
  return Math.max(1, Math.floor(Math.min(devicesPerMinute, ramped)));
}

export interface RateBudget {
  /** Starts still allowed now (Infinity without a rate). */
  allowed: number;
  window: RateWindow;
  /** When the next window opens, if the rate is what holds starts back. */
  nextWindowAt?: number;
}

/** `firstStartAt` undefined: nothing started yet, the first window begins now. */
export function rateBudget(
  rate: Rate | undefined,
  window: RateWindow,
  firstStartAt: number | undefined,
  now: number,
): RateBudget {
  if (!rate) return { allowed: Number.POSITIVE_INFINITY, window };
  const since = firstStartAt ?? now;
  const windowIndex = Math.floor((now - since) / RATE_WINDOW_MS);
  const current = windowIndex === window.windowIndex ? window : { windowIndex, started: 0 };
  const allowed = Math.max(0, ratePerMinute(rate, windowIndex) - current.started);
  return { allowed, window: current, nextWindowAt: since + (windowIndex + 1) * RATE_WINDOW_MS };
}
