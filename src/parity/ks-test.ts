/**
 * Two-sample Kolmogorov–Smirnov test (two-sided), matching `scipy.stats.ks_2samp` with
 * `alternative='two-sided'`.
 *
 * Statistic: D = sup_x |F₁(x) − F₂(x)| with right-continuous empirical CDFs, evaluated at every
 * distinct observed value after both samples are sorted, so tied values (within and across
 * samples) are handled exactly: the CDFs jump by the full multiplicity at once.
 *
 * p-value, `method`:
 * - `'exact'`: the permutation distribution of D under H₀ (all C(n₁+n₂, n₁) orderings equally
 *   likely, which assumes continuous data). D is expressed as h/lcm(n₁, n₂) with integer h and
 *   the proportion of lattice paths from (0,0) to (n₁,n₂) that touch the band |x/n₁ − y/n₂| ≥ D
 *   is counted. Equal sizes: the reflection formula 2·Σ (−1)^(k−1) C(2n, n−kh)/C(2n, n),
 *   evaluated Horner-style as a nested product so that nothing cancels. Unequal sizes: Hodges'
 *   (1958) "inside" recursion over lattice columns, rewritten (Viehmann 2021) to accumulate the
 *   probability of leaving the band directly and rescaled per cell so nothing overflows. If the
 *   recursion produces a value outside [0, 1] the asymptotic method is used instead (as SciPy).
 * - `'asymp'`: P(D_m > d) for the one-sample two-sided distribution with the effective size
 *   m = round(n₁n₂/(n₁+n₂)) (round half to even), i.e. SciPy's `kstwo.sf(d, round(en))` — not the
 *   bare Kolmogorov limit `kstwobign.sf(√en·d)`, which is noticeably anti-conservative for
 *   moderate n. Both are exported from kolmogorov-distribution.ts.
 * - `'auto'` (default): exact when max(n₁, n₂) ≤ 10000, otherwise asymptotic (SciPy's rule).
 *   An explicit `'exact'` switches to asymptotic when lcm(n₁, n₂) would not fit an int32.
 *
 * With `'exact'` the reported statistic is h/lcm, the rational the probability was computed for
 * (SciPy does the same); it differs from the float difference of CDFs by at most an ulp.
 *
 * Inputs must not contain NaN (null handling belongs to the caller); ±Infinity is fine.
 */
import { kstwoSf } from './kolmogorov-distribution.js';
import { gcd, roundHalfEven, sortedCopy } from './numeric.js';

export type KsMethod = 'auto' | 'exact' | 'asymp';

export interface KsOptions {
  /** p-value method, default 'auto' (see module comment). */
  readonly method?: KsMethod;
}

export interface KsResult {
  /** D = max |F_online − F_offline| (or the exact rational h/lcm on the exact path). */
  readonly statistic: number;
  /** Two-sided p-value in [0, 1]. */
  readonly pValue: number;
  /** The method that produced the p-value. */
  readonly method: 'exact' | 'asymp';
  /** Observation at which the largest CDF gap occurs (SciPy's `statistic_location`). */
  readonly statisticLocation: number;
  /** +1 if F₁ − F₂ is largest there (sample 1 lags to the left), −1 if F₂ − F₁ is. */
  readonly statisticSign: 1 | -1;
  /** Sample sizes, always reported. */
  readonly n1: number;
  readonly n2: number;
}

/** 'auto' uses the exact distribution when both samples have at most this many values. */
export const KS_MAX_AUTO_EXACT_N = 10000;
const INT32_MAX = 2147483647;

interface Gap {
  statistic: number;
  location: number;
  sign: 1 | -1;
}

/**
 * The largest positive and negative CDF gaps, located as SciPy does: it evaluates the gap at
 * every element of concat(sorted1, sorted2) and takes the first arg-max/arg-min, i.e. the smallest
 * qualifying value present in sample 1, or failing that the smallest present in sample 2.
 */
function cdfGap(a: Float64Array, b: Float64Array): Gap {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let maxDiff = -Infinity;
  let maxInA: number | undefined;
  let maxInB: number | undefined;
  let minDiff = Infinity;
  let minInA: number | undefined;
  let minInB: number | undefined;
  while (i < n1 || j < n2) {
    const value = j >= n2 || (i < n1 && a[i] <= b[j]) ? a[i] : b[j];
    const inA = i < n1 && a[i] === value;
    const inB = j < n2 && b[j] === value;
    while (i < n1 && a[i] === value) i++;
    while (j < n2 && b[j] === value) j++;
    const diff = i / n1 - j / n2;
    if (diff > maxDiff) {
      maxDiff = diff;
      maxInA = inA ? value : undefined;
      maxInB = inB ? value : undefined;
    } else if (diff === maxDiff) {
      if (inA && maxInA === undefined) maxInA = value;
      if (inB && maxInB === undefined) maxInB = value;
    }
    if (diff < minDiff) {
      minDiff = diff;
      minInA = inA ? value : undefined;
      minInB = inB ? value : undefined;
    } else if (diff === minDiff) {
      if (inA && minInA === undefined) minInA = value;
      if (inB && minInB === undefined) minInB = value;
    }
  }
  const minS = Math.min(Math.max(-minDiff, 0), 1);
  const maxS = maxDiff;
  if (minS > maxS) return { statistic: minS, location: (minInA ?? minInB) as number, sign: -1 };
  return { statistic: maxS, location: (maxInA ?? maxInB) as number, sign: 1 };
}

/**
 * P(D_{n,n} ≥ h/n) for two samples of equal size n:
 * 2·Σ_{k≥1} (−1)^(k−1) C(2n, n − kh)/C(2n, n), each ratio written as a product of h factors and
 * the alternating sum nested as A₀(1 − A₁(1 − A₂(1 − …))) so it never subtracts large terms.
 */
function probOutsideSquare(n: number, h: number): number {
  let p = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let ratio = 1;
    for (let j = 0; j < h; j++) ratio = ((n - k * h - j) * ratio) / (n + k * h + j + 1);
    p = ratio * (1 - p);
  }
  return 2 * p;
}

/**
 * P(D_{m,n} ≥ h/lcm) for unequal sizes: walk the lattice columns x = 1..m keeping only the band
 * of cells with |n·x − m·y|/g < h, where each cell holds the probability that a random path to
 * it has already left the band (Viehmann's form of Hodges' inside method); cells outside the
 * band hold 1. Only a sliding window of one column is kept.
 */
function probOutsideBand(m0: number, n0: number, g: number, h: number): number {
  const m = Math.max(m0, n0);
  const n = Math.min(m0, n0);
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  for (let j = minj; j < maxj; j++) A[j] = 0;
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (A[jj + minj - lastminj] * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) A.fill(1, maxj - minj, maxj - minj + (lastlen - curlen));
  }
  return A[maxj - minj - 1];
}

/** Exact two-sided p-value, or undefined when the recursion is numerically unusable. */
function exactPValue(n1: number, n2: number, h: number, g: number): number | undefined {
  if (h === 0) return 1;
  const p = n1 === n2 ? probOutsideSquare(n1, h) : probOutsideBand(n1, n2, g, h);
  if (!(p >= 0 && p <= 1)) return undefined;
  return p;
}

/**
 * Asymptotic two-sided p-value: kstwo.sf(d, round(n₁n₂/(n₁+n₂))). The effective size is at
 * least 1 (for n₁ = n₂ = 1 it rounds to 0, where SciPy returns NaN).
 */
export function ksAsymptoticPValue(d: number, n1: number, n2: number): number {
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const effective = roundHalfEven((m * n) / (m + n));
  return kstwoSf(Math.max(effective, 1), d);
}

/**
 * Two-sample, two-sided KS test of `sample1` against `sample2` (e.g. online vs offline values of
 * one feature). Throws on an empty sample or NaN; the caller reports "not computable" instead.
 */
export function ksTwoSample(sample1: readonly number[], sample2: readonly number[], options: KsOptions = {}): KsResult {
  const requested = options.method ?? 'auto';
  if (requested !== 'auto' && requested !== 'exact' && requested !== 'asymp') {
    throw new RangeError(`unknown KS method ${String(requested)}`);
  }
  const n1 = sample1.length;
  const n2 = sample2.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('KS test needs two non-empty samples');
  if (sample1.some(Number.isNaN) || sample2.some(Number.isNaN)) throw new RangeError('KS test samples must not contain NaN');
  const a = sortedCopy(sample1);
  const b = sortedCopy(sample2);
  const gap = cdfGap(a, b);
  let d = gap.statistic;

  const g = gcd(n1, n2);
  let method: 'exact' | 'asymp';
  if (requested === 'auto') method = Math.max(n1, n2) <= KS_MAX_AUTO_EXACT_N ? 'exact' : 'asymp';
  else if (requested === 'exact') method = n1 / g >= INT32_MAX / (n2 / g) ? 'asymp' : 'exact';
  else method = 'asymp';

  let pValue = Number.NaN;
  if (method === 'exact') {
    const lcm = (n1 / g) * n2;
    const h = roundHalfEven(d * lcm);
    d = h / lcm;
    const p = exactPValue(n1, n2, h, g);
    if (p === undefined) method = 'asymp';
    else pValue = p;
  }
  if (method === 'asymp') pValue = ksAsymptoticPValue(d, n1, n2);
  pValue = Math.min(Math.max(pValue, 0), 1);
  return { statistic: d, pValue, method, statisticLocation: gap.location, statisticSign: gap.sign, n1, n2 };
}
