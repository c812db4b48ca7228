/** The units a duration string may end with. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd' | 'w';

type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';

/**
 * A duration as users write it: a whole number and a unit ('90s', '15m', '1h', '24h', '7d',
 * '2w', '250ms', also '1 h'), or milliseconds. Typed so that the editor rejects what
 * parseDuration would reject at run time ('5 min', '1.5h', '-5m', '7days'). The leading-digit
 * pattern rules out a sign, which `${bigint}` alone allows. The type and the parser differ only
 * at the edges: the parser also takes leading zeros and extra spaces (CLI values), and the type
 * lets a hex or binary literal through ('0x10m'), which the parser refuses.
 */
export type Duration = number | (`${Digit}${string}` & (`${bigint}${DurationUnit}` | `${bigint} ${DurationUnit}`));

const UNIT_MS: Readonly<Record<DurationUnit, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Milliseconds of a duration; takes any string too (CLI flags), and says what it cannot parse. */
export function parseDuration(d: string | number, what = 'duration'): number {
  if (typeof d === 'number') {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what}: ${d} is not a whole, non-negative number of milliseconds`);
    return d;
  }
  const m = /^\s*(\d+)\s*(ms|s|m|h|d|w)\s*$/.exec(d);
  if (!m) throw new Error(`${what}: cannot parse "${d}"; write e.g. '30s', '15m', '1h', '7d'`);
  return Number(m[1]) * UNIT_MS[m[2] as DurationUnit];
}

/** The shortest exact spelling, used in plans so that '24h' and '1d' hash the same. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const u = UNIT_MS[unit];
    if (ms >= u && ms % u === 0) return `${ms / u}${unit}`;
  }
  return `${ms}ms`;
}
