/**
 * Jensen–Shannon divergence between two discrete distributions over the same bins, in bits:
 *
 *   JS(P, Q) = ½·KL(P ‖ M) + ½·KL(Q ‖ M),  M = ½(P + Q),  KL(A ‖ B) = Σ aᵢ log₂(aᵢ / bᵢ)
 *
 * with 0·log 0 = 0. In log base 2 it lies in [0, 1]: 0 for identical distributions, 1 for
 * distributions with disjoint support. Empty bins need no smoothing: a bin empty on one side
 * contributes only through the other side, whose mᵢ > 0; a bin empty on both sides contributes 0.
 *
 * Note: `scipy.spatial.distance.jensenshannon(p, q, base=2)` returns the Jensen–Shannon
 * DISTANCE, the square root of this divergence. Our metric is the divergence, i.e.
 * `jensenshannon(p, q, base=2) ** 2`.
 */
import { NeumaierSum } from './numeric.js';
import type { BinnedCounts } from './bins.js';

function normalise(counts: readonly number[], side: string): number[] {
  const total = new NeumaierSum();
  for (const c of counts) {
    if (!(c >= 0) || !Number.isFinite(c)) throw new RangeError(`${side} weights must be finite and non-negative`);
    total.add(c);
  }
  const sum = total.value;
  if (!(sum > 0)) throw new RangeError(`${side} distribution is empty`);
  return counts.map((c) => c / sum);
}

/**
 * Jensen–Shannon divergence (log₂, in [0, 1]) between two histograms or probability vectors
 * over the same bins; each is normalised to sum 1 first. Throws if either side sums to 0.
 */
export function jensenShannonDivergence(p: readonly number[], q: readonly number[]): number {
  if (p.length !== q.length) throw new RangeError(`bins differ: ${p.length} vs ${q.length}`);
  const pn = normalise(p, 'first');
  const qn = normalise(q, 'second');
  const left = new NeumaierSum();
  const right = new NeumaierSum();
  for (let i = 0; i < pn.length; i++) {
    const m = (pn[i] + qn[i]) / 2;
    if (pn[i] > 0) left.add(pn[i] * Math.log(pn[i] / m));
    if (qn[i] > 0) right.add(qn[i] * Math.log(qn[i] / m));
  }
  const divergence = (left.value + right.value) / (2 * Math.LN2);
  return Math.min(Math.max(divergence, 0), 1);
}

/** Jensen–Shannon divergence of binned online vs offline counts; undefined if a side is empty. */
export function jensenShannonOfCounts(counts: BinnedCounts): number | undefined {
  const online = counts.online.reduce((a, b) => a + b, 0);
  const offline = counts.offline.reduce((a, b) => a + b, 0);
  if (online === 0 || offline === 0) return undefined;
  return jensenShannonDivergence(counts.online, counts.offline);
}
