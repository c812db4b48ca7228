/**
 * Population Stability Index between online (actual) and offline (expected, reference)
 * histograms over the same bins:
 *
 *   PSI = Σᵢ (aᵢ − eᵢ) · ln(aᵢ / eᵢ)
 *
 * where aᵢ, eᵢ are the bin proportions (count / side total). Natural log, as in the usual rule
 * of thumb: < 0.1 no material shift, 0.1–0.2 moderate, > 0.2 significant. PSI is symmetric in
 * the two sides and is the symmetrised KL divergence (Jeffreys divergence) of the histograms.
 *
 * Empty bins: ln(a/0) is infinite, so every proportion is floored at ε = {@link PSI_EPSILON}
 * = 1e-4 (0.01 %) before the sum, without renormalising: pᵢ ← max(pᵢ, ε). With ε = 1e-4 an
 * entirely new bin holding 5 % of online values adds (0.05 − 1e-4)·ln(500) ≈ 0.31 — enough to
 * fail the 0.2 threshold on its own, while a stray value or two in an empty bin of a sample of
 * a thousand adds < 0.005. (Common choices range 1e-6 … 1e-3; smaller ε makes new categories
 * dominate, larger ε hides them.)
 */
import { NeumaierSum } from './numeric.js';
import type { BinnedCounts } from './bins.js';

/** Proportion floor applied to every bin before the PSI sum. */
export const PSI_EPSILON = 1e-4;

export interface PsiOptions {
  /** Proportion floor for empty (or nearly empty) bins; default {@link PSI_EPSILON}. */
  readonly epsilon?: number;
}

function proportions(counts: readonly number[], side: string, epsilon: number): number[] {
  const total = new NeumaierSum();
  for (const c of counts) {
    if (!(c >= 0) || !Number.isFinite(c)) throw new RangeError(`${side} counts must be finite and non-negative`);
    total.add(c);
  }
  const sum = total.value;
  if (!(sum > 0)) throw new RangeError(`${side} histogram is empty`);
  return counts.map((c) => Math.max(c / sum, epsilon));
}

/**
 * PSI of `actual` (online) against `expected` (offline reference) histograms over the same
 * bins. Throws if either side is empty.
 */
export function populationStabilityIndex(actual: readonly number[], expected: readonly number[], options: PsiOptions = {}): number {
  const epsilon = options.epsilon ?? PSI_EPSILON;
  if (!(epsilon > 0 && epsilon < 1)) throw new RangeError(`PSI epsilon must be in (0, 1), got ${epsilon}`);
  if (actual.length !== expected.length) throw new RangeError(`bins differ: ${actual.length} vs ${expected.length}`);
  const a = proportions(actual, 'actual', epsilon);
  const e = proportions(expected, 'expected', epsilon);
  const sum = new NeumaierSum();
  for (let i = 0; i < a.length; i++) sum.add((a[i] - e[i]) * Math.log(a[i] / e[i]));
  return Math.max(sum.value, 0);
}

/** PSI of binned online vs offline counts; undefined if a side is empty. */
export function psiOfCounts(counts: BinnedCounts, options: PsiOptions = {}): number | undefined {
  const online = counts.online.reduce((x, y) => x + y, 0);
  const offline = counts.offline.reduce((x, y) => x + y, 0);
  if (online === 0 || offline === 0) return undefined;
  return populationStabilityIndex(counts.online, counts.offline, options);
}
