/**
 * How the parity reports (terminal and HTML) write numbers, feature values and bin ranges: one
 * style for both, counts with thousands separators, measured values to 4 significant digits,
 * and never so few digits that two different values read the same.
 */
import { formatCount, formatPercent } from '../io/number-format.js';
import { numericBinRanges, type Bins } from './bins.js';
import type { ParityValue } from './parity-log.js';
import type { DifferenceQuantiles, FeatureType } from './row-compare.js';

// Counts and shares as every human-facing output writes them.
export { formatCount, formatPercent };

/**
 * A measured number to `digits` significant digits: thousands separators below 1e9, exponent
 * notation above it and below 1e-3 (0.000123 → "1.23e-4").
 */
export function formatNumber(x: number, digits = 4): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '-∞';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e9) return x.toExponential(digits - 1).replace(/\.?0+e/, 'e').replace('e+', 'e');
  return Number(x.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 20 });
}

/** A difference with its sign: "+3", "-0.5", "0". */
export const formatSigned = (x: number, digits = 4): string => (x > 0 ? `+${formatNumber(x, digits)}` : formatNumber(x, digits));

/** Quantiles of online − offline: "p1 -3, p5 0, p50 +1, p95 +12, p99 +40". */
export function formatDifferenceQuantiles(q: DifferenceQuantiles): string {
  return (['p1', 'p5', 'p50', 'p95', 'p99'] as const).map((k) => `${k} ${formatSigned(q[k])}`).join(', ');
}

/**
 * Numbers written with the fewest significant digits (at least `min`) that keep distinct values
 * distinct, so two bin edges or an online and offline value never read alike.
 */
export function formatDistinct(xs: readonly number[], min = 4, write: (x: number, digits: number) => string = formatNumber): string[] {
  for (let digits = min; digits < 17; digits++) {
    const out = xs.map((x) => write(x, digits));
    if (xs.every((x, i) => xs.every((y, j) => x === y || out[i] !== out[j]))) return out;
  }
  return xs.map((x) => write(x, 17));
}

/** A served or recomputed value: integers exact, floats as {@link formatNumber}, null as "null". */
export function formatValue(v: ParityValue, type: FeatureType, digits = 4): string {
  if (v === null) return 'null';
  if (typeof v !== 'number') return String(v);
  return type === 'integer' && Number.isInteger(v) ? formatCount(v) : formatNumber(v, digits);
}

/** An online/offline pair, with enough digits that two different numbers never look equal. */
export function formatValuePair(online: ParityValue, offline: ParityValue, type: FeatureType): [string, string] {
  if (typeof online === 'number' && typeof offline === 'number' && !(type === 'integer' && Number.isInteger(online) && Number.isInteger(offline))) {
    const [a, b] = formatDistinct([online, offline]);
    return [a, b];
  }
  return [formatValue(online, type), formatValue(offline, type)];
}

/** A bin's short label (an axis) and its exact range (a tooltip). */
export interface BinLabel {
  readonly short: string;
  readonly exact: string;
}

/**
 * Labels of a feature's bins. Integer features name the integers a bin holds ("1", "2–4",
 * "≥ 9"); float features the value range ("≤ 9.5", "9.5–14.8", "0" for a point mass, "> 840"),
 * rounded no further than keeps the edges apart; categorical features the category.
 */
export function binLabels(bins: Bins, type: FeatureType): BinLabel[] {
  if (bins.kind === 'categorical') return bins.categories.map((c) => ({ short: c.length > 16 ? `${c.slice(0, 15)}…` : c, exact: c }));
  const ranges = numericBinRanges(bins);
  if (type === 'integer') {
    return ranges.map((r) => {
      const first = r.lo === -Infinity ? -Infinity : r.loInclusive ? Math.ceil(r.lo) : Math.floor(r.lo) + 1;
      const last = r.hi === Infinity ? Infinity : r.hiInclusive ? Math.floor(r.hi) : Math.ceil(r.hi) - 1;
      const short =
        first > last ? 'none' : first === -Infinity ? `≤ ${formatCount(last)}` : last === Infinity ? `≥ ${formatCount(first)}` : first === last ? formatCount(first) : `${formatCount(first)}–${formatCount(last)}`;
      return { short, exact: first > last ? 'no integer' : first === last ? `= ${first}` : `${first === -Infinity ? '−∞' : first} to ${last === Infinity ? '∞' : last}` };
    });
  }
  const edges = [...new Set(ranges.flatMap((r) => [r.lo, r.hi]).filter(Number.isFinite))].sort((a, b) => a - b);
  const written = new Map(formatDistinct(edges).map((s, i) => [edges[i], s]));
  const w = (x: number): string => written.get(x) ?? formatNumber(x);
  return ranges.map((r) => {
    const exact = r.lo === r.hi ? `= ${r.lo}` : `${r.loInclusive ? '[' : '('}${r.lo === -Infinity ? '−∞' : r.lo}, ${r.hi === Infinity ? '∞' : r.hi}${r.hiInclusive ? ']' : ')'}`;
    if (r.lo === r.hi) return { short: w(r.lo), exact };
    if (r.lo === -Infinity) return { short: `${r.hiInclusive ? '≤' : '<'} ${w(r.hi)}`, exact };
    if (r.hi === Infinity) return { short: `${r.loInclusive ? '≥' : '>'} ${w(r.lo)}`, exact };
    return { short: `${w(r.lo)}–${w(r.hi)}`, exact };
  });
}
