import { luxonLibrary } from './luxon-library.js';

/** The largest |epoch ms| a Date can hold (±100,000,000 days): every event time must fit. */
export const MAX_EVENT_TIME = 8.64e15;

function inRange(ms: number): number | string {
  return Math.abs(ms) > MAX_EVENT_TIME ? outOfRange(String(ms), ms) : ms;
}

function outOfRange(text: string, ms: number): string {
  return `event time ${text} is outside the representable range (±8.64e15 ms, years −271821 to 275760)${unitHint(ms)}`;
}

/** An ISO instant, or a plain description when the value is no representable instant. */
export function formatEventTime(ms: number): string {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_EVENT_TIME) return String(ms);
  return new Date(ms).toISOString();
}

/**
 * What a timestamp in the wrong unit looks like, as a hint for a reason text: microseconds or
 * nanoseconds divided down, or seconds multiplied up, land in a plausible era (1990-2100).
 */
export function unitHint(ms: number): string {
  const plausible = (x: number): boolean => x >= 631_152_000_000 && x <= 4_102_444_800_000;
  if (plausible(ms / 1000)) return `; it looks like microseconds (÷1000 = ${formatEventTime(Math.floor(ms / 1000))})`;
  if (plausible(ms / 1e6)) return `; it looks like nanoseconds (÷1e6 = ${formatEventTime(Math.floor(ms / 1e6))})`;
  if (plausible(ms * 1000)) return `; it looks like seconds (×1000 = ${formatEventTime(ms * 1000)})`;
  return '';
}

/**
 * Normalise what a source's event-time extractor returned to epoch milliseconds, or explain
 * why it cannot be used. Strings must carry an explicit offset or 'Z': a local time without
 * zone would depend on the machine's zone, which the determinism contract forbids.
 */
export function toEventTime(v: unknown): number | string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return `event time is ${v}`;
    return inRange(Math.floor(v));
  }
  if (typeof v === 'bigint') return v > BigInt(MAX_EVENT_TIME) || v < BigInt(-MAX_EVENT_TIME) ? outOfRange(String(v), Number(v)) : Number(v);
  if (v instanceof Date) {
    const ms = v.getTime();
    return Number.isNaN(ms) ? 'event time is an invalid Date' : ms;
  }
  if (typeof v === 'string') {
    const dt = luxonLibrary().DateTime.fromISO(v, { setZone: true });
    if (!dt.isValid) return `unparsable event time "${v}" (expected ISO-8601 with offset, e.g. 2026-01-05T10:00:00Z)`;
    if (!/(Z|[+-]\d\d:?\d\d)$/i.test(v.trim())) return `event time "${v}" has no UTC offset; add 'Z' or '+hh:mm'`;
    return dt.toMillis();
  }
  if (v === null || v === undefined) return 'missing event time';
  return `event time has unsupported type ${typeof v}`;
}
