import type { Accumulator, AggValue, AggregationDef } from '../aggregation.js';
import { CompensatedSum } from '../compensated-sum.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

/** Sum and mean share one state: a compensated sum and the count of values in it. */
export class SumAcc implements Accumulator {
  readonly total: CompensatedSum;
  constructor(
    private readonly mode: 'sum' | 'mean',
    public n = 0,
    sum = 0,
    compensation = 0,
  ) {
    this.total = new CompensatedSum(sum, compensation);
  }
  add(v: AggValue): void {
    if (typeof v !== 'number') return;
    this.n++;
    this.total.add(v);
  }
  remove(v: AggValue): void {
    if (typeof v !== 'number') return;
    this.n--;
    // An empty window restarts from exact zero, so removal round-off never outlives the data.
    if (this.n === 0) this.total.reset();
    else this.total.add(-v);
  }
  merge(other: Accumulator): void {
    const o = other as SumAcc;
    this.n += o.n;
    this.total.add(o.total.sum);
    this.total.add(o.total.compensation);
  }
  reset(): void {
    this.n = 0;
    this.total.reset();
  }
  result(): AggValue {
    if (this.mode === 'sum') return this.n === 0 ? 0 : this.total.value;
    return this.n === 0 ? null : this.total.value / this.n;
  }
  encode(w: ByteWriter): void {
    w.uint(this.n);
    w.f64(this.total.sum);
    w.f64(this.total.compensation);
  }
}

export function sumAgg(mode: 'sum' | 'mean'): AggregationDef {
  return {
    kind: mode,
    semver: 1,
    params: {},
    removal: 'invertible',
    resultType: 'double',
    needsValue: true,
    create: () => new SumAcc(mode),
    decode: (r: ByteReader) => new SumAcc(mode, r.uint(), r.f64(), r.f64()),
  };
}
