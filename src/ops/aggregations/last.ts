import type { Accumulator, AggValue, AggregationDef, ColumnType } from '../aggregation.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

/** The non-null value with the greatest (event time, apply sequence). */
class LastAcc implements Accumulator {
  constructor(
    public n = 0,
    public value: number | string | null = null,
    public t = -Infinity,
    public seq = -1,
  ) {}
  add(v: AggValue, t: number, seq: number): void {
    if (v === null || typeof v === 'object') return;
    this.n++;
    if (t > this.t || (t === this.t && seq > this.seq)) {
      this.value = v;
      this.t = t;
      this.seq = seq;
    }
  }
  remove(v: AggValue): void {
    // Front removal in a lookback window: the newest survives unless the window empties.
    if (v === null) return;
    this.n--;
    if (this.n === 0) {
      this.value = null;
      this.t = -Infinity;
      this.seq = -1;
    }
  }
  merge(other: Accumulator): void {
    const o = other as LastAcc;
    const n = this.n + o.n;
    if (o.n > 0) this.add(o.value, o.t, o.seq);
    this.n = n;
  }
  result(): AggValue {
    return this.value;
  }
  encode(w: ByteWriter): void {
    w.uint(this.n);
    w.scalar(this.value);
    w.f64(this.t);
    w.f64(this.seq);
  }
}

export function lastAgg(resultType: ColumnType): AggregationDef {
  return {
    kind: 'last',
    semver: 1,
    params: { type: resultType },
    removal: 'front',
    resultType,
    needsValue: true,
    create: () => new LastAcc(),
    decode: (r: ByteReader) => new LastAcc(r.uint(), r.scalar(), r.f64(), r.f64()),
  };
}
