import type { Accumulator, AggValue, AggregationDef } from '../aggregation.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

/**
 * Exact distinct count with multiplicities, so a value leaving a sliding window is only
 * forgotten when its last occurrence leaves. Map order is insertion order, which is itself
 * fixed by processing order, so the encoding is deterministic.
 */
class CountDistinctAcc implements Accumulator {
  constructor(public counts = new Map<string | number, number>()) {}
  add(v: AggValue): void {
    if (v === null || typeof v === 'object') return;
    const c = this.counts.get(v);
    this.counts.set(v, c === undefined ? 1 : c + 1);
  }
  remove(v: AggValue): void {
    if (v === null || typeof v === 'object') return;
    const c = this.counts.get(v);
    if (c === undefined) return;
    if (c <= 1) this.counts.delete(v);
    else this.counts.set(v, c - 1);
  }
  merge(other: Accumulator): void {
    for (const [v, c] of (other as CountDistinctAcc).counts) this.counts.set(v, (this.counts.get(v) ?? 0) + c);
  }
  result(): AggValue {
    return this.counts.size;
  }
  encode(w: ByteWriter): void {
    w.uint(this.counts.size);
    for (const [v, c] of this.counts) {
      w.scalar(v);
      w.uint(c);
    }
  }
}

export function countDistinctAgg(): AggregationDef {
  return {
    kind: 'countDistinct',
    semver: 1,
    params: {},
    removal: 'invertible',
    resultType: 'int64',
    needsValue: true,
    create: () => new CountDistinctAcc(),
    decode: (r: ByteReader) => {
      const n = r.uint();
      const counts = new Map<string | number, number>();
      for (let i = 0; i < n; i++) {
        const v = r.scalar();
        if (v !== null) counts.set(v, r.uint());
      }
      return new CountDistinctAcc(counts);
    },
  };
}
