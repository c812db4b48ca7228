import type { IANAZone } from 'luxon';
import { luxonLibrary } from './luxon-library.js';

/**
 * Calendar windows in an IANA time zone: the local hour, day, ISO week (Monday start) or
 * month containing an instant, as `[start, end)` in epoch milliseconds (UTC instants).
 *
 * Windows follow the zone's civil calendar, so their length varies: a day in America/New_York
 * lasts 23 hours on the spring-forward Sunday and 25 hours on the fall-back Sunday; a month
 * lasts 28–31 days ± the DST hour. The windows of one (unit, zone) partition the time line:
 * every instant lies in exactly one window and the end of one window is the start of the next.
 *
 * Definitions (they agree with luxon's `DateTime.fromMillis(t, { zone }).startOf(unit)` /
 * `.plus({ [unit]: 1 })` in ordinary zones, and stay a partition where those do not):
 * - day / week / month: the window of local date D starts at the first instant whose local
 *   wall time reaches D 00:00 (for a week, the Monday; for a month, the 1st) and ends where
 *   the next one starts. Where DST skips midnight the day starts at the transition (01:00);
 *   where a fall-back repeats midnight (America/Havana) the day starts at the first 00:00;
 *   where clocks fall back across midnight the repeated hour stays in the later day; a date a
 *   zone skipped entirely (Pacific/Apia, 2011-12-30) has no window.
 * - hour: the instants sharing one local wall-clock hour and one UTC offset. The repeated
 *   1 AM hour of a fall-back is two windows; in a zone with a 30-minute DST shift
 *   (Australia/Lord_Howe) the hour in which the shift happens is cut at the transition.
 *
 * Pure functions of (t, unit, zone) and the tz database luxon reads through Intl (Node's ICU
 * data). That database is part of the runtime: a Node upgrade can move the windows of a zone
 * whose rules changed, as in any tz-aware system; the topology version then changes with them
 * (zone-rules.ts), so such windows are never mixed up with the old ones.
 */

export type CalendarUnit = 'hour' | 'day' | 'week' | 'month';

const UNITS: readonly CalendarUnit[] = ['hour', 'day', 'week', 'month'];
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Cache granularity: every zone's hours start on a 15-minute boundary (outside transitions). */
const BUCKET = 15 * MINUTE;
/** Entries per cache before it is cleared (the caches only save work; results never depend on them). */
const MAX_CACHED = 20_000;

const zones = new Map<string, IANAZone>();

/** Throws a clear error unless `unit` is a calendar unit and `timeZone` an IANA zone name. */
export function validateCalendarWindow(unit: string, timeZone: string): void {
  if (!(UNITS as readonly string[]).includes(unit)) {
    throw new Error(`calendar window: unit must be one of ${UNITS.join(', ')} (got ${JSON.stringify(unit)})`);
  }
  zoneFor(timeZone);
}

function zoneFor(timeZone: string): IANAZone {
  let z = zones.get(timeZone);
  if (z !== undefined) return z;
  if (typeof timeZone !== 'string' || timeZone === '' || !luxonLibrary().IANAZone.isValidZone(timeZone)) {
    throw new Error(
      `calendar window: unknown IANA time zone ${JSON.stringify(timeZone)} (use a tz database name such as "America/New_York" or "UTC")`,
    );
  }
  z = luxonLibrary().IANAZone.create(timeZone);
  zones.set(timeZone, z);
  return z;
}

/** UTC offset of the zone at instant t, in ms. */
function off(z: IANAZone, t: number): number {
  const minutes = z.offset(t);
  if (!Number.isFinite(minutes)) throw new Error(`calendar window: no UTC offset for instant ${String(t)} in ${z.name}`);
  return Math.round(minutes * MINUTE);
}

/** The first instant in (lo, hi] whose offset differs from off(lo); requires off(lo) ≠ off(hi). */
function firstChange(z: IANAZone, lo: number, hi: number): number {
  const o = off(z, lo);
  while (hi - lo > 1) {
    const mid = Math.floor(lo + (hi - lo) / 2);
    if (off(z, mid) === o) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * The first instant whose local wall time is ≥ `wall` (a local date-time written as if it were
 * UTC ms). Walks the constant-offset segments of the ±15 h around it (offsets range from −12 h
 * to +14 h), assuming at most one offset change per hour (true of every zone in the tz database
 * in practice; checked for 1990–2030 on a set of awkward zones).
 */
function firstInstantAtWall(z: IANAZone, wall: number): number {
  let memo = boundaries.get(z.name);
  if (memo === undefined) {
    memo = new Map();
    boundaries.set(z.name, memo);
  }
  let instant = memo.get(wall);
  if (instant === undefined) {
    instant = scanForWall(z, wall);
    if (memo.size >= MAX_CACHED) memo.clear();
    memo.set(wall, instant);
  }
  return instant;
}

/** Memo of firstInstantAtWall per zone: one scan per window boundary. */
const boundaries = new Map<string, Map<number, number>>();

function scanForWall(z: IANAZone, wall: number): number {
  const hi = wall + 15 * HOUR;
  let a = wall - 15 * HOUR;
  let oa = off(z, a);
  let next = a + HOUR;
  while (a < hi) {
    const e = Math.min(next, hi);
    const oe = off(z, e);
    const b = oe === oa ? e : firstChange(z, a, e); // [a, b) has offset oa
    const c = Math.max(a, wall - oa); // earliest i in [a, ∞) with i + oa ≥ wall
    if (c < b) return c;
    if (b < e) {
      a = b;
      oa = off(z, b);
    } else {
      a = e;
      oa = oe;
      next = e + HOUR;
    }
  }
  throw new Error(`calendar window: local time ${new Date(wall).toISOString().slice(0, 19)} not reached in ${z.name}`);
}

/** Start (as wall ms) of the unit containing wall time `wall`, and of the next unit. */
function unitOfWall(wall: number, unit: Exclude<CalendarUnit, 'hour'>): [number, number] {
  const dayStart = Math.floor(wall / DAY) * DAY;
  switch (unit) {
    case 'day':
      return [dayStart, dayStart + DAY];
    case 'week': {
      const monday = dayStart - ((new Date(dayStart).getUTCDay() + 6) % 7) * DAY;
      return [monday, monday + 7 * DAY];
    }
    case 'month': {
      const d = new Date(dayStart);
      return [Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)];
    }
  }
}

function nextWall(wall: number, unit: Exclude<CalendarUnit, 'hour'>): number {
  return unitOfWall(wall, unit)[1];
}

function hourWindow(z: IANAZone, t: number): [number, number] {
  const o = off(z, t);
  const wall = t + o;
  let start = Math.floor(wall / HOUR) * HOUR - o;
  let end = start + HOUR;
  // Cut at an offset change inside the hour (the cell is "this wall hour at this offset").
  if (off(z, start) !== o) start = firstChange(z, start, t);
  if (off(z, end - 1) !== o) end = firstChange(z, t, end - 1);
  return [start, end];
}

function dateWindow(z: IANAZone, t: number, unit: Exclude<CalendarUnit, 'hour'>): [number, number] {
  let [wall, next] = unitOfWall(t + off(z, t), unit);
  let start = firstInstantAtWall(z, wall);
  let end = firstInstantAtWall(z, next);
  // A fall-back across midnight can show a local date below one already reached: the
  // instant then belongs to the later window (whose start is ≤ t). Empty windows (a skipped
  // date) are stepped over the same way.
  while (end <= t) {
    wall = next;
    next = nextWall(wall, unit);
    start = end;
    end = firstInstantAtWall(z, next);
  }
  return [start, end];
}

/** Recent windows per (unit, zone), by 15-minute bucket of t; only buckets lying inside one window. */
const caches = new Map<string, { last: [number, number]; buckets: Map<number, [number, number]> }>();

/** The calendar window `[start, end)` (epoch ms) containing instant `t` (epoch ms). */
export function calendarWindow(t: number, unit: CalendarUnit, timeZone: string): [number, number] {
  const cacheKey = `${unit}|${timeZone}`;
  let cache = caches.get(cacheKey);
  if (cache !== undefined) {
    const [s, e] = cache.last;
    if (s <= t && t < e) return [s, e];
    const hit = cache.buckets.get(Math.floor(t / BUCKET));
    if (hit !== undefined) {
      cache.last = hit;
      return [hit[0], hit[1]];
    }
  }
  validateCalendarWindow(unit, timeZone);
  if (!Number.isFinite(t)) throw new Error(`calendar window: event time must be finite (got ${String(t)})`);
  const z = zoneFor(timeZone);
  const w = unit === 'hour' ? hourWindow(z, t) : dateWindow(z, t, unit);
  if (!(w[0] <= t && t < w[1])) throw new Error(`calendar window: internal error placing ${String(t)} in ${unit} of ${timeZone}`);

  if (cache === undefined) {
    cache = { last: w, buckets: new Map() };
    caches.set(cacheKey, cache);
  }
  cache.last = w;
  if (cache.buckets.size >= MAX_CACHED) cache.buckets.clear();
  const b = Math.floor(t / BUCKET);
  if (w[0] <= b * BUCKET && (b + 1) * BUCKET <= w[1]) cache.buckets.set(b, w);
  return [w[0], w[1]];
}
