import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RATE_WINDOW_MS, rateBudget, ratePerMinute } from '../../../workflows/rollout/rate';

const MINUTE = RATE_WINDOW_MS;

describe('ratePerMinute', () => {
  it('holds a flat rate', () => {
    expect([0, 1, 50].map((minute) => ratePerMinute({ devicesPerMinute: 20 }, minute))).toEqual([20, 20, 20]);
  });

  it('ramps up by the multiplier every step until the rate', () => {
    const rate = { devicesPerMinute: 40, ramp: { initialPerMinute: 5, multiplier: 2, stepMinutes: 2 } };
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].map((minute) => ratePerMinute(rate, minute))).toEqual([
      5, 5, 10, 10, 20, 20, 40, 40, 40,
    ]);
  });

  it('never exceeds the rate, never falls below one device a minute, and never decreases', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 0.1, max: 1000, noNaN: true }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 10_000 }),
        (devicesPerMinute, initialPerMinute, multiplier, stepMinutes, minute) => {
          const rate = { devicesPerMinute, ramp: { initialPerMinute, multiplier, stepMinutes } };
          const now = ratePerMinute(rate, minute);
          expect(now).toBeGreaterThanOrEqual(1);
          expect(now).toBeLessThanOrEqual(devicesPerMinute);
          expect(ratePerMinute(rate, minute + 1)).toBeGreaterThanOrEqual(now);
        },
      ),
    );
  });
});

describe('rateBudget', () => {
  const rate = { devicesPerMinute: 10 };

  it('allows everything without a rate', () => {
    expect(rateBudget(undefined, { windowIndex: 0, started: 5 }, 0, 0).allowed).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it("counts the current minute's starts and opens a fresh window each minute from the first start", () => {
    const start = 1_000_000;
    const inWindow = rateBudget(rate, { windowIndex: 0, started: 7 }, start, start + 30_000);
    expect(inWindow).toEqual({
      allowed: 3,
      window: { windowIndex: 0, started: 7 },
      nextWindowAt: start + MINUTE,
    });
    const next = rateBudget(rate, { windowIndex: 0, started: 10 }, start, start + MINUTE + 1);
    expect(next).toEqual({
      allowed: 10,
      window: { windowIndex: 1, started: 0 },
      nextWindowAt: start + 2 * MINUTE,
    });
  });

  it('begins the first window now when nothing has started yet', () => {
    expect(rateBudget(rate, { windowIndex: 0, started: 0 }, undefined, 5_000)).toMatchObject({
      allowed: 10,
      nextWindowAt: 5_000 + MINUTE,
    });
  });
});
