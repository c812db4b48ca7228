/**
 * Pearson chi-square test of homogeneity for a categorical feature: are online and offline
 * values drawn from the same category distribution? The 2×k contingency table has one row per
 * side and one column per category; categories empty on both sides are dropped (their expected
 * count would be 0). Matches `scipy.stats.chi2_contingency(table, correction=False)`:
 *
 *   Eᵢⱼ = rowᵢ · colⱼ / N,  X² = Σ (Oᵢⱼ − Eᵢⱼ)² / Eᵢⱼ,  dof = k − 1,  p = Q((k−1)/2, X²/2)
 *
 * with Q the regularized upper incomplete gamma function (incomplete-gamma.ts). With a single
 * category (dof 0) the statistic is 0 and p = 1, as in SciPy. No Yates correction: it only
 * applies to dof = 1 and makes the 2-category case inconsistent with the rest.
 *
 * Cramér's V = √(X² / N) (for a 2×k table min(r, c) − 1 = 1) is reported as an effect size: with
 * large samples even a negligible shift has a tiny p-value, so the alert rule also requires V
 * to exceed a floor (feature-report.ts).
 */
import { chiSquareSurvival } from './incomplete-gamma.js';
import { NeumaierSum } from './numeric.js';
import { compareCodeUnits } from './bins.js';

export interface ChiSquareResult {
  /** Pearson X². */
  readonly statistic: number;
  /** Degrees of freedom, k − 1 for k non-empty categories. */
  readonly dof: number;
  readonly pValue: number;
  /** Cramér's V = √(X²/N), in [0, 1]. */
  readonly cramersV: number;
  /** The categories kept (non-empty on at least one side), in table column order. */
  readonly categories: readonly string[];
  /** Observed counts per kept category. */
  readonly online: readonly number[];
  readonly offline: readonly number[];
  /** Sample sizes (row totals), always reported. */
  readonly nOnline: number;
  readonly nOffline: number;
}

/**
 * Chi-square test on per-category counts (same order on both sides; `categories` names the
 * columns, defaulting to their indices). Returns undefined when a side has no values at all,
 * where the test is undefined.
 */
export function chiSquareHomogeneity(
  onlineCounts: readonly number[],
  offlineCounts: readonly number[],
  categories?: readonly string[],
): ChiSquareResult | undefined {
  if (onlineCounts.length !== offlineCounts.length) throw new RangeError(`category counts differ: ${onlineCounts.length} vs ${offlineCounts.length}`);
  const names = categories ?? onlineCounts.map((_, i) => String(i));
  if (names.length !== onlineCounts.length) throw new RangeError('one category name per column is required');
  const kept: number[] = [];
  for (let j = 0; j < onlineCounts.length; j++) {
    const a = onlineCounts[j];
    const b = offlineCounts[j];
    if (!(a >= 0 && b >= 0 && Number.isFinite(a) && Number.isFinite(b))) throw new RangeError('counts must be finite and non-negative');
    if (a + b > 0) kept.push(j);
  }
  const online = kept.map((j) => onlineCounts[j]);
  const offline = kept.map((j) => offlineCounts[j]);
  const nOnline = online.reduce((x, y) => x + y, 0);
  const nOffline = offline.reduce((x, y) => x + y, 0);
  if (nOnline === 0 || nOffline === 0) return undefined;
  const total = nOnline + nOffline;
  const dof = kept.length - 1;
  let statistic = 0;
  let pValue = 1;
  if (dof > 0) {
    const sum = new NeumaierSum();
    for (let j = 0; j < kept.length; j++) {
      const column = online[j] + offline[j];
      const expectedOnline = (nOnline * column) / total;
      const expectedOffline = (nOffline * column) / total;
      sum.add((online[j] - expectedOnline) ** 2 / expectedOnline);
      sum.add((offline[j] - expectedOffline) ** 2 / expectedOffline);
    }
    statistic = sum.value;
    pValue = chiSquareSurvival(statistic, dof);
  }
  return {
    statistic,
    dof,
    pValue,
    cramersV: Math.min(Math.sqrt(statistic / total), 1),
    categories: kept.map((j) => names[j]),
    online,
    offline,
    nOnline,
    nOffline,
  };
}

/** Chi-square test straight from categorical values (categories: sorted union of both sides). */
export function chiSquareOfValues(online: readonly string[], offline: readonly string[]): ChiSquareResult | undefined {
  const categories = [...new Set([...online, ...offline])].sort(compareCodeUnits);
  const index = new Map(categories.map((c, i) => [c, i] as const));
  const a = new Array<number>(categories.length).fill(0);
  const b = new Array<number>(categories.length).fill(0);
  for (const v of online) a[index.get(v) as number]++;
  for (const v of offline) b[index.get(v) as number]++;
  return chiSquareHomogeneity(a, b, categories);
}
