import type { Accumulator, AggValue, AggregationDef } from '../aggregation.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

/**
 * Exact distinct count with multiplicities, so a value leaving a sliding window is only
 * forgotten when its last occurrence leaves. Map order is insertion order, which is itself
 * fixed by processing order, so the encoding is deterministic. Each count sits in a box of its
 * own, so a value already counted costs one lookup to count again or to remove, not a lookup
 * and a set (a quarter of the time a replay of flight-delays spent in this class).
 */
class CountDistinctAcc implements Accumulator {
  constructor(public counts = new Map<string | number, { n: number }>()) {}
  add(v: AggValue): void {
    if (v === null || typeof v === 'object') return;
    const c = this.counts.get(v);
    if (c !== undefined) c.n++;
    else this.counts.set(v, { n: 1 });
  }
  remove(v: AggValue): void {
    if (v === null || typeof v === 'object') return;
    const c = this.counts.get(v);
    if (c === undefined) return;
    if (c.n <= 1) this.counts.delete(v);
    else c.n--;
  }
  merge(other: Accumulator): void {
    for (const [v, c] of (other as CountDistinctAcc).counts) {
      const mine = this.counts.get(v);
      if (mine !== undefined) mine.n += c.n;
      else this.counts.set(v, { n: c.n });
    }
  }
  result(): AggValue {
    return this.counts.size;
  }
  reset(): void {
    this.counts.clear();
  }
  encode(w: ByteWriter): void {
    w.uint(this.counts.size);
    for (const [v, c] of this.counts) {
      w.scalar(v);
      w.uint(c.n);
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
      const counts = new Map<string | number, { n: number }>();
      for (let i = 0; i < n; i++) {
        const v = r.scalar();
        if (v !== null) counts.set(v, { n: r.uint() });
      }
      return new CountDistinctAcc(counts);
    },
  };
}
