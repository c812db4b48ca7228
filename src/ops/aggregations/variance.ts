import type { Accumulator, AggValue, AggregationDef } from '../aggregation.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

/** Welford's online variance with exact inverse steps for removal and Chan's merge. */
class VarianceAcc implements Accumulator {
  constructor(
    private readonly out: 'variance' | 'stddev',
    private readonly sample: boolean,
    public n = 0,
    public mean = 0,
    public m2 = 0,
  ) {}
  add(v: AggValue): void {
    if (typeof v !== 'number') return;
    this.n++;
    const d = v - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (v - this.mean);
  }
  remove(v: AggValue): void {
    if (typeof v !== 'number') return;
    this.n--;
    if (this.n === 0) {
      this.mean = 0;
      this.m2 = 0;
      return;
    }
    const d = v - this.mean;
    this.mean -= d / this.n;
    this.m2 -= d * (v - this.mean);
    if (this.m2 < 0) this.m2 = 0;
  }
  merge(other: Accumulator): void {
    const o = other as VarianceAcc;
    if (o.n === 0) return;
    if (this.n === 0) {
      this.n = o.n;
      this.mean = o.mean;
      this.m2 = o.m2;
      return;
    }
    const n = this.n + o.n;
    const d = o.mean - this.mean;
    this.mean += (d * o.n) / n;
    this.m2 += o.m2 + (d * d * this.n * o.n) / n;
    this.n = n;
  }
  reset(): void {
    this.n = 0;
    this.mean = 0;
    this.m2 = 0;
  }
  result(): AggValue {
    const minN = this.sample ? 2 : 1;
    if (this.n < minN) return null;
    const variance = this.m2 / (this.sample ? this.n - 1 : this.n);
    return this.out === 'variance' ? variance : Math.sqrt(variance);
  }
  encode(w: ByteWriter): void {
    w.uint(this.n);
    w.f64(this.mean);
    w.f64(this.m2);
  }
}

/** Sample statistics (n − 1) by default, as SQL's STDDEV/VAR_SAMP; null below 2 values. */
export function varianceAgg(out: 'variance' | 'stddev', sample: boolean): AggregationDef {
  return {
    kind: out,
    semver: 1,
    params: { sample },
    removal: 'invertible',
    resultType: 'double',
    needsValue: true,
    create: () => new VarianceAcc(out, sample),
    decode: (r: ByteReader) => new VarianceAcc(out, sample, r.uint(), r.f64(), r.f64()),
  };
}
