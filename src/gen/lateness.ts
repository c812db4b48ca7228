/**
 * Measures out-of-order arrival: for each record in arrival order, how far its event time lies
 * behind the largest event time seen before it — in the whole stream and on the same key.
 */

export interface LatenessBuckets {
  /** event_time >= max seen so far (or first). */
  inOrder: number;
  /** behind by (0, 1 s). */
  underSecond: number;
  /** behind by [1 s, 1 min). */
  underMinute: number;
  /** behind by [1 min, 1 h). */
  minutes: number;
  /** behind by >= 1 h. */
  hours: number;
  /** Largest lag observed, ms. */
  maxLagMs: number;
}

export interface LatenessProfile {
  total: number;
  stream: LatenessBuckets;
  perKey: LatenessBuckets;
}

function emptyBuckets(): LatenessBuckets {
  return { inOrder: 0, underSecond: 0, underMinute: 0, minutes: 0, hours: 0, maxLagMs: 0 };
}

function bucket(b: LatenessBuckets, lag: number): void {
  if (lag <= 0) b.inOrder++;
  else if (lag < 1000) b.underSecond++;
  else if (lag < 60_000) b.underMinute++;
  else if (lag < 3_600_000) b.minutes++;
  else b.hours++;
  if (lag > b.maxLagMs) b.maxLagMs = lag;
}

export function measureLateness<T>(
  records: Iterable<T>,
  eventTime: (r: T) => number,
  key: (r: T) => string,
): LatenessProfile {
  const stream = emptyBuckets();
  const perKey = emptyBuckets();
  const keyMax = new Map<string, number>();
  let streamMax = -Infinity;
  let total = 0;
  for (const r of records) {
    total++;
    const t = eventTime(r);
    const k = key(r);
    bucket(stream, total === 1 ? 0 : streamMax - t);
    const km = keyMax.get(k);
    bucket(perKey, km === undefined ? 0 : km - t);
    if (t > streamMax) streamMax = t;
    if (km === undefined || t > km) keyMax.set(k, t);
  }
  return { total, stream, perKey };
}

/** Shares (fractions of total) of a bucket set, for reports and assertions. */
export function latenessShares(b: LatenessBuckets, total: number): Record<Exclude<keyof LatenessBuckets, 'maxLagMs'>, number> {
  const d = total > 0 ? total : 1;
  return {
    inOrder: b.inOrder / d,
    underSecond: b.underSecond / d,
    underMinute: b.underMinute / d,
    minutes: b.minutes / d,
    hours: b.hours / d,
  };
}
