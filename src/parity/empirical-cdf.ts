/**
 * Empirical CDFs of the online and offline values of a numeric feature, evaluated on one
 * shared grid (quantiles of the pooled values), for the report's CDF overlay: the largest
 * vertical gap between the two curves is the KS statistic.
 */

export interface CdfOverlay {
  /** Increasing evaluation points. */
  readonly x: readonly number[];
  /** Share of online / offline values ≤ x[i]. */
  readonly online: readonly number[];
  readonly offline: readonly number[];
}

/** Number of values in sorted `xs` that are ≤ v. */
function countAtMost(xs: Float64Array, v: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Null when either side has no finite value. */
export function cdfOverlay(online: readonly number[], offline: readonly number[], points = 64): CdfOverlay | null {
  const a = Float64Array.from(online.filter(Number.isFinite)).sort();
  const b = Float64Array.from(offline.filter(Number.isFinite)).sort();
  if (a.length === 0 || b.length === 0) return null;
  const pooled = new Float64Array(a.length + b.length);
  pooled.set(a);
  pooled.set(b, a.length);
  pooled.sort();
  const x: number[] = [];
  for (let i = 0; i < points; i++) {
    const v = pooled[Math.round((i * (pooled.length - 1)) / (points - 1))];
    if (x.length === 0 || v > x[x.length - 1]) x.push(v);
  }
  return { x, online: x.map((v) => countAtMost(a, v) / a.length), offline: x.map((v) => countAtMost(b, v) / b.length) };
}
