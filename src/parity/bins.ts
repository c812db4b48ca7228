/**
 * Shared bins for the divergence metrics (Jensen–Shannon, PSI), so online and offline values
 * are histogrammed over exactly the same cells.
 *
 * Categorical values: one bin per category in the union of both sides, ordered by UTF-16 code
 * units (deterministic, locale-independent). Categories absent from both sides never appear.
 *
 * Numeric values: bins are fitted on the offline (reference) values only, the training data
 * being the baseline the online values are judged against:
 *
 * 1. Take the reference quantiles q₀ … q_k at levels i/k (k = `binCount`, default 10), with
 *    NumPy's default linear interpolation (so q₀ = min, q_k = max).
 * 2. Group equal consecutive quantiles. A value that fills two or more quantile positions is a
 *    point mass holding ≳ 1/k of the reference; it gets a bin of its own, [v, v], through the
 *    cut pair (nextDown(v), v). Any other interior quantile becomes a single cut. A lone q₀ or
 *    q_k (the min or max) is not a cut: the end bins are open.
 * 3. With cuts c₁ < … < c_r the bins are (−∞, c₁], (c₁, c₂], …, (c_r, +∞): right-closed, and
 *    values outside the reference range (including ±Infinity) land in the end bins.
 *
 * So a continuous reference gives k bins of ~equal reference mass; a constant reference v gives
 * the three bins < v, = v, > v; a zero-inflated feature keeps its zeros apart. Reference bins
 * can still be empty (e.g. the "< v" bin, or a gap between interpolated quantiles): that is what
 * the metrics' empty-bin handling is for.
 */
import { nextDown, quantileSorted, sortedCopy } from './numeric.js';

export const DEFAULT_BIN_COUNT = 10;

export interface NumericBins {
  readonly kind: 'numeric';
  /** Strictly increasing cut points; bin i is (cuts[i−1], cuts[i]] with cuts[−1] = −∞, cuts[r] = +∞. */
  readonly cuts: readonly number[];
  /** Number of bins, cuts.length + 1. */
  readonly count: number;
  /** The requested number of quantile bins (k). */
  readonly requested: number;
}

export interface CategoricalBins {
  readonly kind: 'categorical';
  /** Sorted union of the categories seen on either side (or the most frequent of them, then otherBin); bin i is categories[i]. */
  readonly categories: readonly string[];
  readonly count: number;
  /** The label of the last bin when categories were capped (categoricalBins): the values not listed. */
  readonly otherBin?: string;
}

export type Bins = NumericBins | CategoricalBins;

/** Counts per bin for both sides, over the same bins. */
export interface BinnedCounts {
  readonly bins: Bins;
  readonly online: readonly number[];
  readonly offline: readonly number[];
}

function checkBinCount(binCount: number): void {
  if (!Number.isInteger(binCount) || binCount < 2) throw new RangeError(`bin count must be an integer >= 2, got ${binCount}`);
}

/**
 * Fits numeric bins on the reference values (NaN ignored; quantiles use finite values only).
 * Returns undefined when the reference has no finite value.
 */
export function fitNumericBins(reference: readonly number[], binCount: number = DEFAULT_BIN_COUNT): NumericBins | undefined {
  checkBinCount(binCount);
  const sorted = sortedCopy(reference.filter(Number.isFinite));
  if (sorted.length === 0) return undefined;
  const levels: number[] = [];
  for (let i = 0; i <= binCount; i++) levels.push(quantileSorted(sorted, i / binCount));

  const cuts: number[] = [];
  const push = (c: number): void => {
    if (cuts.length === 0 || c > cuts[cuts.length - 1]) cuts.push(c);
  };
  let start = 0;
  while (start <= binCount) {
    let end = start;
    while (end + 1 <= binCount && levels[end + 1] === levels[start]) end++;
    const value = levels[start];
    const members = end - start + 1;
    if (members >= 2) {
      push(nextDown(value));
      push(value);
    } else if (start !== 0 && start !== binCount) {
      push(value);
    }
    start = end + 1;
  }
  return { kind: 'numeric', cuts, count: cuts.length + 1, requested: binCount };
}

/**
 * A numeric bin as an interval of values: `lo`/`hi` are ±Infinity at the open ends, and the
 * inclusive flags say whether an edge value belongs to the bin.
 */
export interface NumericBinRange {
  readonly lo: number;
  readonly hi: number;
  readonly loInclusive: boolean;
  readonly hiInclusive: boolean;
}

/**
 * The bins as intervals of the reference's own values, for people: a point-mass bin
 * (nextDown(v), v] reads [v, v] and the bin below it (a, nextDown(v)] reads (a, v), so no
 * edge is a nextDown value (such as −4.9e−324 below a mass at 0). The intervals are the same
 * sets of numbers as the cuts define.
 */
export function numericBinRanges(bins: NumericBins): NumericBinRange[] {
  const c = bins.cuts;
  return Array.from({ length: bins.count }, (_, i) => {
    const lower = i === 0 ? -Infinity : c[i - 1];
    const upper = i === c.length ? Infinity : c[i];
    if (i > 0 && i < c.length && lower === nextDown(upper)) return { lo: upper, hi: upper, loInclusive: true, hiInclusive: true };
    const belowPoint = i + 1 < c.length && upper === nextDown(c[i + 1]);
    return { lo: lower, hi: belowPoint ? c[i + 1] : upper, loInclusive: false, hiInclusive: !belowPoint && upper !== Infinity };
  });
}

/** Bin index of a numeric value: the number of cuts strictly below it. NaN is rejected. */
export function numericBinIndex(bins: NumericBins, value: number): number {
  if (Number.isNaN(value)) throw new RangeError('cannot bin NaN');
  const cuts = bins.cuts;
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cuts[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Histogram of numeric values over fitted bins (NaN values are skipped). */
export function countNumeric(bins: NumericBins, values: readonly number[]): number[] {
  const counts = new Array<number>(bins.count).fill(0);
  for (const v of values) if (!Number.isNaN(v)) counts[numericBinIndex(bins, v)]++;
  return counts;
}

/** UTF-16 code-unit order, independent of locale. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Bins of a categorical feature at most: more categories than this are mostly sparse (a
 * chi-square needs about 5 expected values per bin) and made reports of megabytes for features
 * with many distinct values (ids, lists and maps of values).
 */
export const MAX_CATEGORICAL_BINS = 50;

/**
 * Categorical bins over the union of the categories on both sides, in code-unit order. Past
 * maxBins categories, the maxBins − 1 most frequent over both sides are kept (equal counts in
 * code-unit order) and the rest share a last bin, `otherBin`.
 */
export function categoricalBins(online: readonly string[], offline: readonly string[], maxBins: number = MAX_CATEGORICAL_BINS): CategoricalBins {
  const counts = new Map<string, number>();
  for (const v of online) counts.set(v, (counts.get(v) ?? 0) + 1);
  for (const v of offline) counts.set(v, (counts.get(v) ?? 0) + 1);
  if (counts.size <= maxBins) {
    const categories = [...counts.keys()].sort(compareCodeUnits);
    return { kind: 'categorical', categories, count: categories.length };
  }
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || compareCodeUnits(a[0], b[0]));
  const kept = ranked.slice(0, maxBins - 1).map(([c]) => c).sort(compareCodeUnits);
  let otherBin = `(${counts.size - kept.length} other values)`;
  while (counts.has(otherBin)) otherBin = `${otherBin}*`; // never the name of a real value
  return { kind: 'categorical', categories: [...kept, otherBin], count: kept.length + 1, otherBin };
}

/** Histogram of categorical values; a value outside the bins goes to the other bin, or is an error without one. */
export function countCategorical(bins: CategoricalBins, values: readonly string[]): number[] {
  const index = new Map<string, number>();
  bins.categories.forEach((c, i) => index.set(c, i));
  const other = bins.otherBin === undefined ? undefined : bins.count - 1;
  const counts = new Array<number>(bins.count).fill(0);
  for (const v of values) {
    const i = index.get(v) ?? other;
    if (i === undefined) throw new RangeError(`category ${JSON.stringify(v)} is not in the bins`);
    counts[i]++;
  }
  return counts;
}

/** Bins fitted on `offline` and both sides counted; undefined if offline has no finite value. */
export function binNumeric(online: readonly number[], offline: readonly number[], binCount: number = DEFAULT_BIN_COUNT): BinnedCounts | undefined {
  const bins = fitNumericBins(offline, binCount);
  if (bins === undefined) return undefined;
  return { bins, online: countNumeric(bins, online), offline: countNumeric(bins, offline) };
}

/** Categorical bins over the union, and both sides counted. */
export function binCategorical(online: readonly string[], offline: readonly string[], maxBins: number = MAX_CATEGORICAL_BINS): BinnedCounts {
  const bins = categoricalBins(online, offline, maxBins);
  return { bins, online: countCategorical(bins, online), offline: countCategorical(bins, offline) };
}
