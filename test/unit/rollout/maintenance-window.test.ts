import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { windowAt } from '../../../workflows/rollout/maintenance-window';

const at = (iso: string) => Date.parse(iso);

describe('maintenance window', () => {
  // 2026-03-02 is a Monday.
  const weeknights = {
    daysOfWeek: [1, 2, 3, 4, 5],
    start: '22:00',
    durationMinutes: 240,
    timeZone: 'Europe/Berlin',
  };

  it('opens at the local time in the zone and closes after its duration, past midnight', () => {
    // Berlin is UTC+1 in early March.
    expect(windowAt(weeknights, at('2026-03-02T20:59:00Z'))).toEqual({
      open: false,
      opensAt: at('2026-03-02T21:00:00Z'),
    });
    expect(windowAt(weeknights, at('2026-03-02T21:00:00Z'))).toEqual({
      open: true,
      closesAt: at('2026-03-03T01:00:00Z'),
    });
    expect(windowAt(weeknights, at('2026-03-03T00:30:00Z'))).toEqual({
      open: true,
      closesAt: at('2026-03-03T01:00:00Z'),
    });
  });

  it('skips the days not named: Friday night opens next on Monday', () => {
    // Friday 2026-03-06's window closes Saturday 01:00 UTC; the next one opens Monday 2026-03-09.
    expect(windowAt(weeknights, at('2026-03-07T02:00:00Z'))).toEqual({
      open: false,
      opensAt: at('2026-03-09T21:00:00Z'),
    });
    // Saturday after midnight, Friday's window is still open.
    expect(windowAt(weeknights, at('2026-03-07T00:10:00Z'))).toEqual({
      open: true,
      closesAt: at('2026-03-07T01:00:00Z'),
    });
  });

  it('follows daylight saving time: the same local opening is an hour earlier in UTC in summer', () => {
    // Berlin switches to UTC+2 on 2026-03-29.
    expect(windowAt(weeknights, at('2026-03-30T12:00:00Z'))).toEqual({
      open: false,
      opensAt: at('2026-03-30T20:00:00Z'),
    });
    const newYork = { daysOfWeek: [0], start: '02:30', durationMinutes: 60, timeZone: 'America/New_York' };
    // 2026-03-08 02:30 does not exist in New York (clocks jump 02:00 → 03:00): it opens at 03:30 EDT.
    expect(windowAt(newYork, at('2026-03-08T00:00:00Z'))).toEqual({
      open: false,
      opensAt: at('2026-03-08T07:30:00Z'),
    });
  });

  it('is open exactly when now falls within duration after the opening it reports', () => {
    fc.assert(
      fc.property(
        fc.subarray([0, 1, 2, 3, 4, 5, 6], { minLength: 1 }),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.constantFrom('UTC', 'Asia/Tokyo', 'America/Los_Angeles', 'Asia/Kolkata'),
        fc.integer({ min: at('2026-01-01T00:00:00Z'), max: at('2027-01-01T00:00:00Z') }),
        (daysOfWeek, hour, minute, durationMinutes, timeZone, now) => {
          const start = `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
          const window = { daysOfWeek, start, durationMinutes, timeZone };
          const state = windowAt(window, now);
          if (state.open) {
            expect(state.closesAt).toBeGreaterThan(now);
            expect(state.closesAt - now).toBeLessThanOrEqual(durationMinutes * 60_000);
          } else {
            expect(state.opensAt).toBeGreaterThan(now);
            expect(state.opensAt - now).toBeLessThanOrEqual(8 * 24 * 3600_000);
            expect(windowAt(window, state.opensAt).open).toBe(true);
          }
        },
      ),
    );
  });
});
