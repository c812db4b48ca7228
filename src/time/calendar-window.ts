import { DateTime, IANAZone } from 'luxon';

/**
 * Calendar windows in an IANA time zone: the local hour, day, ISO week (Monday start) or
 * month containing an instant, as `[start, end)` in epoch milliseconds (UTC instants).
 *
 * Windows follow the zone's civil calendar, so their length in milliseconds varies: a day in
 * America/New_York lasts 23 hours on the spring-forward Sunday and 25 hours on the fall-back
 * Sunday; a month lasts 28–31 days ± the DST hour. The windows of one (unit, zone) partition
 * the time line: the end of one window is exactly the start of the next.
 *
 * Pure functions of (t, unit, zone) and the tz database luxon reads through Intl (the Node
 * ICU data). That database is part of the runtime: upgrading Node can move windows of a zone
 * whose rules changed, exactly like any other tz-aware system.
 */

export type CalendarUnit = 'hour' | 'day' | 'week' | 'month';

const UNITS: readonly CalendarUnit[] = ['hour', 'day', 'week', 'month'];

const validZones = new Set<string>();

/** Throws a clear error unless `unit` is a calendar unit and `timeZone` an IANA zone name. */
export function validateCalendarWindow(unit: string, timeZone: string): void {
  if (!(UNITS as readonly string[]).includes(unit)) {
    throw new Error(`calendar window: unit must be one of ${UNITS.join(', ')} (got ${JSON.stringify(unit)})`);
  }
  if (validZones.has(timeZone)) return;
  if (typeof timeZone !== 'string' || timeZone === '' || !IANAZone.isValidZone(timeZone)) {
    throw new Error(
      `calendar window: unknown IANA time zone ${JSON.stringify(timeZone)} (use a tz database name such as "America/New_York" or "UTC")`,
    );
  }
  validZones.add(timeZone);
}

function startOf(t: number, unit: CalendarUnit, zone: string): DateTime {
  const d = DateTime.fromMillis(t, { zone }).startOf(unit);
  if (!d.isValid) throw new Error(`calendar window: cannot place instant ${String(t)} in ${zone}: ${String(d.invalidReason)}`);
  return d;
}

/**
 * The start of the window after the one starting at `start`. `start.plus(1 unit)` keeps the
 * local wall time, which is wrong when the window start is not local midnight (a zone whose
 * DST change skips midnight starts that day at 01:00): snap it back to the unit's start.
 */
function nextStart(start: DateTime, unit: CalendarUnit): number {
  const next = start.plus({ [unit]: 1 }).startOf(unit).toMillis();
  if (next > start.toMillis()) return next;
  // Defensive: should a zone's rules ever make the snapped value not advance, fall back to
  // the unsnapped one, which always advances.
  return start.plus({ [unit]: 1 }).toMillis();
}

/** Last window computed per (unit, zone): consecutive events mostly fall in the same window. */
const lastWindow = new Map<string, { start: number; end: number }>();

/** The calendar window `[start, end)` (epoch ms) containing instant `t` (epoch ms). */
export function calendarWindow(t: number, unit: CalendarUnit, timeZone: string): [number, number] {
  const cacheKey = `${unit}|${timeZone}`;
  const cached = lastWindow.get(cacheKey);
  if (cached !== undefined && cached.start <= t && t < cached.end) return [cached.start, cached.end];
  validateCalendarWindow(unit, timeZone);
  if (!Number.isFinite(t)) throw new Error(`calendar window: event time must be finite (got ${String(t)})`);

  let s = startOf(t, unit, timeZone);
  let start = s.toMillis();
  // Ambiguous local midnights (a zone that falls back across 00:00) can make startOf pick the
  // later of two equal wall times; step back until the window really contains t.
  while (start > t) {
    s = startOf(start - 1, unit, timeZone);
    start = s.toMillis();
  }
  let end = nextStart(s, unit);
  // And forward, should t lie at or past the computed end.
  while (end <= t) {
    s = startOf(end, unit, timeZone);
    start = s.toMillis();
    end = nextStart(s, unit);
  }
  lastWindow.set(cacheKey, { start, end });
  return [start, end];
}
