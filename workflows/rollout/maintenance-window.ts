/**
 * The recurring maintenance window: it opens at a local time on some days of the week, in an IANA
 * time zone, and stays open `durationMinutes` (possibly past midnight). Local times are turned into
 * instants with Intl, so daylight-saving changes move the window with the wall clock.
 */
import type { MaintenanceWindow } from './definitions';

const MINUTE_MS = 60_000;

export type WindowState = { open: true; closesAt: number } | { open: false; opensAt: number };

/** Whether the window is open at `now`, and when that changes. */
export function windowAt(window: MaintenanceWindow, now: number): WindowState {
  const today = localDate(window.timeZone, now);
  // A window opened on an earlier day may still be open; a week ahead always holds the next opening.
  const openings: number[] = [];
  for (let offset = -Math.ceil(window.durationMinutes / (24 * 60)); offset <= 7; offset++) {
    const day = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
    if (!window.daysOfWeek.includes(day.getUTCDay())) continue;
    openings.push(openingOn(window, day));
  }
  for (const opensAt of openings) {
    const closesAt = opensAt + window.durationMinutes * MINUTE_MS;
    if (opensAt <= now && now < closesAt) return { open: true, closesAt };
  }
  const next = openings.find((opensAt) => opensAt > now);
  if (next === undefined) throw new Error('the maintenance window names no day of the week');
  return { open: false, opensAt: next };
}

/** The instant the window opens on the given local date (a UTC-midnight Date standing for it). */
function openingOn(window: MaintenanceWindow, day: Date): number {
  const [hours = 0, minutes = 0] = window.start.split(':').map(Number);
  const wallClock = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), hours, minutes);
  return wallClockToInstant(window.timeZone, wallClock);
}

/**
 * The instant at which the zone's clocks show `wallClock` (given as if it were UTC). The second pass
 * settles the offset across a daylight-saving change; a time the change skips (02:30 when clocks jump
 * from 02:00 to 03:00) has no instant and maps to the one an hour later, as the first pass finds it.
 */
function wallClockToInstant(timeZone: string, wallClock: number): number {
  const first = wallClock - offsetAt(timeZone, wallClock);
  const second = wallClock - offsetAt(timeZone, first);
  return second + offsetAt(timeZone, second) === wallClock ? second : first;
}

/** The zone's offset from UTC at `instant`, in ms (positive east of Greenwich). */
function offsetAt(timeZone: string, instant: number): number {
  const { year, month, day, hour, minute, second } = localDate(timeZone, instant);
  return Date.UTC(year, month - 1, day, hour, minute, second) - Math.floor(instant / 1000) * 1000;
}

function localDate(timeZone: string, instant: number) {
  const parts = formatter(timeZone).formatToParts(new Date(instant));
  const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
  return {
    year: part('year'),
    month: part('month'),
    day: part('day'),
    hour: part('hour') % 24,
    minute: part('minute'),
    second: part('second'),
  };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  return format;
}
