/** A duration as users write it: '90s', '15m', '1h', '24h', '7d', '2w', or milliseconds. */
export type Duration = string | number;

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

export function parseDuration(d: Duration, what = 'duration'): number {
  if (typeof d === 'number') {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what}: ${d} is not a whole, non-negative number of milliseconds`);
    return d;
  }
  const m = /^\s*(\d+)\s*(ms|s|m|h|d|w)\s*$/.exec(d);
  if (!m) throw new Error(`${what}: cannot parse "${d}"; write e.g. '30s', '15m', '1h', '7d'`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** The shortest exact spelling, used in plans so that '24h' and '1d' hash the same. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const u = UNIT_MS[unit];
    if (ms >= u && ms % u === 0) return `${ms / u}${unit}`;
  }
  return `${ms}ms`;
}
