import { DateTime } from 'luxon';

/**
 * Normalise what a source's event-time extractor returned to epoch milliseconds, or explain
 * why it cannot be used. Strings must carry an explicit offset or 'Z': a local time without
 * zone would depend on the machine's zone, which the determinism contract forbids.
 */
export function toEventTime(v: unknown): number | string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return `event time is ${v}`;
    return Math.floor(v);
  }
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) {
    const ms = v.getTime();
    return Number.isNaN(ms) ? 'event time is an invalid Date' : ms;
  }
  if (typeof v === 'string') {
    const dt = DateTime.fromISO(v, { setZone: true });
    if (!dt.isValid) return `unparsable event time "${v}" (expected ISO-8601 with offset, e.g. 2026-01-05T10:00:00Z)`;
    if (!/(Z|[+-]\d\d:?\d\d)$/i.test(v.trim())) return `event time "${v}" has no UTC offset; add 'Z' or '+hh:mm'`;
    return dt.toMillis();
  }
  if (v === null || v === undefined) return 'missing event time';
  return `event time has unsupported type ${typeof v}`;
}
