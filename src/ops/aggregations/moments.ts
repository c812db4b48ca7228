import type { Accumulator, AggValue, AggregationDef } from '../aggregation.js';
import { insertSorted, removeSorted } from '../sorted-values.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

/**
 * A removal refolds the held values once M2 has fallen below this share of its peak since the
 * last refold: removal round-off is relative to the largest spread the state has held, so
 * without it a window that held large deviations and then only small ones (or equal values)
 * would answer from the leftovers. 1e-2 keeps that amplification of M4's round-off under 1e4.
 */
const REFOLD_BELOW = 1e-2;

/**
 * Central moments up to the fourth in one pass (Pébay 2008, "Formulas for robust, one-pass
 * parallel computation of covariances and arbitrary-order statistical moments"): updates that
 * never subtract large raw power sums, their exact algebraic inverses for removal, and Pébay's
 * pairwise merge. A sliding accumulator also keeps its values sorted, to refold them in that
 * canonical order when removals have cancelled most of the spread (REFOLD_BELOW); the window's
 * buffer holds the values anyway, and they are restored from it, not from the head.
 */
class MomentsAcc implements Accumulator {
  constructor(
    private readonly out: 'skewness' | 'kurtosis',
    private readonly sample: boolean,
    /** Sliding only: the values held, ascending. */
    public values: number[] | null,
    public n = 0,
    public mean = 0,
    public m2 = 0,
    public m3 = 0,
    public m4 = 0,
    public peak = 0,
  ) {}
  private fold(v: number): void {
    const n1 = this.n;
    const n = ++this.n;
    const d = v - this.mean;
    const dn = d / n;
    const dn2 = dn * dn;
    const term1 = d * dn * n1;
    this.mean += dn;
    this.m4 += term1 * dn2 * (n * n - 3 * n + 3) + 6 * dn2 * this.m2 - 4 * dn * this.m3;
    this.m3 += term1 * dn * (n - 2) - 3 * dn * this.m2;
    this.m2 += term1;
    if (this.m2 > this.peak) this.peak = this.m2;
  }
  reset(): void {
    this.clearMoments();
    if (this.values !== null) this.values.length = 0;
  }
  private clearMoments(): void {
    this.n = 0;
    this.mean = this.m2 = this.m3 = this.m4 = this.peak = 0;
  }
  add(v: AggValue): void {
    if (typeof v !== 'number') return;
    const x = v === 0 ? 0 : v;
    this.fold(x);
    if (this.values !== null) insertSorted(this.values, x);
  }
  remove(v: AggValue): void {
    if (typeof v !== 'number') return;
    if (this.values !== null && !removeSorted(this.values, v === 0 ? 0 : v)) return;
    const n = this.n;
    if (n <= 1) return this.clearMoments();
    // Undo fold(v) on the state of n − 1 values: the same terms, computed from the earlier mean.
    const mean1 = this.mean - (v - this.mean) / (n - 1);
    const d = v - mean1;
    const dn = d / n;
    const dn2 = dn * dn;
    const term1 = d * dn * (n - 1);
    const m2 = this.m2 - term1;
    const m3 = this.m3 - term1 * dn * (n - 2) + 3 * dn * m2;
    this.m4 = this.m4 - term1 * dn2 * (n * n - 3 * n + 3) - 6 * dn2 * m2 + 4 * dn * m3;
    this.m3 = m3;
    this.m2 = m2;
    this.mean = mean1;
    this.n = n - 1;
    if (this.values !== null && this.m2 < this.peak * REFOLD_BELOW) {
      this.clearMoments();
      for (const x of this.values) this.fold(x);
    }
  }
  merge(other: Accumulator): void {
    const o = other as MomentsAcc;
    if (o.n === 0) return;
    if (this.n === 0) {
      this.n = o.n;
      this.mean = o.mean;
      this.m2 = o.m2;
      this.m3 = o.m3;
      this.m4 = o.m4;
      this.peak = o.peak;
      return;
    }
    const na = this.n;
    const nb = o.n;
    const n = na + nb;
    const d = o.mean - this.mean;
    const d2 = d * d;
    this.m4 +=
      o.m4 + (d2 * d2 * na * nb * (na * na - na * nb + nb * nb)) / (n * n * n) + (6 * d2 * (na * na * o.m2 + nb * nb * this.m2)) / (n * n) + (4 * d * (na * o.m3 - nb * this.m3)) / n;
    this.m3 += o.m3 + (d2 * d * na * nb * (na - nb)) / (n * n) + (3 * d * (na * o.m2 - nb * this.m2)) / n;
    this.m2 += o.m2 + (d2 * na * nb) / n;
    this.mean += (d * nb) / n;
    this.n = n;
    if (this.m2 > this.peak) this.peak = this.m2;
  }
  result(): AggValue {
    const n = this.n;
    if (n === 0 || (this.sample && n < (this.out === 'skewness' ? 3 : 4))) return null;
    // No spread beyond round-off of the mean (equal values): undefined, as scipy's nan.
    const floor = Math.abs(this.mean) * Number.EPSILON * 64;
    if (this.m2 <= 0 || this.m2 / n <= floor * floor) return null;
    if (this.out === 'skewness') {
      const g1 = (Math.sqrt(n) * this.m3) / this.m2 ** 1.5;
      return this.sample ? (g1 * Math.sqrt(n * (n - 1))) / (n - 2) : g1;
    }
    const g2 = (n * this.m4) / (this.m2 * this.m2) - 3;
    return this.sample ? (((n + 1) * g2 + 6) * (n - 1)) / ((n - 2) * (n - 3)) : g2;
  }
  encode(w: ByteWriter): void {
    w.uint(this.n);
    w.f64(this.mean);
    w.f64(this.m2);
    w.f64(this.m3);
    w.f64(this.m4);
    w.f64(this.peak);
  }
}

/**
 * Skewness and excess kurtosis. Sample-adjusted by default (G1, G2: pandas' skew() and kurt(),
 * scipy.stats.skew / kurtosis with bias=False), null below 3 / 4 values; `population` gives
 * the biased g1, g2 (scipy's defaults). Null when the values do not spread.
 */
export function momentsAgg(out: 'skewness' | 'kurtosis', sample: boolean): AggregationDef {
  const decode = (r: ByteReader, values: number[] | null): MomentsAcc => new MomentsAcc(out, sample, values, r.uint(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64());
  return {
    kind: out,
    semver: 1,
    params: { sample },
    removal: 'invertible',
    resultType: 'double',
    needsValue: true,
    create: () => new MomentsAcc(out, sample, null),
    createSliding: () => new MomentsAcc(out, sample, []),
    decode: (r: ByteReader) => decode(r, null),
    decodeSliding: (r: ByteReader, held: readonly AggValue[]) => {
      const values: number[] = [];
      for (const v of held) if (typeof v === 'number') values.push(v === 0 ? 0 : v);
      return decode(r, values.sort((a, b) => a - b));
    },
  };
}
