import type { Accumulator, AggValue, AggregationDef } from '../aggregation.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

class CountAcc implements Accumulator {
  constructor(
    private readonly countNulls: boolean,
    public n = 0,
  ) {}
  add(v: AggValue): void {
    if (this.countNulls || v !== null) this.n++;
  }
  remove(v: AggValue): void {
    if (this.countNulls || v !== null) this.n--;
  }
  merge(other: Accumulator): void {
    this.n += (other as CountAcc).n;
  }
  result(): AggValue {
    return this.n;
  }
  reset(): void {
    this.n = 0;
  }
  encode(w: ByteWriter): void {
    w.uint(this.n);
  }
}

/** count() counts events; count(fn) counts non-null values of fn. */
export function countAgg(ofValues: boolean): AggregationDef {
  return {
    kind: 'count',
    semver: 1,
    params: { ofValues },
    removal: 'invertible',
    resultType: 'int64',
    needsValue: ofValues,
    create: () => new CountAcc(!ofValues),
    decode: (r: ByteReader) => new CountAcc(!ofValues, r.uint()),
  };
}
