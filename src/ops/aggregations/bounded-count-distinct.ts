import type { Accumulator, AggValue, AggregationDef } from '../aggregation.js';
import { HyperLogLog } from '../sketches/hyperloglog.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

/**
 * Distinct count with a declared bound: exact while at most exactUpTo distinct values are
 * held, a HyperLogLog estimate above. Added to only, the exact set is dropped for registers
 * once it passes the bound (state stays bounded). Sliding, the exact multiplicities stay,
 * since the window's buffer holds the values anyway and removals must be exact, and the
 * registers (with per-rank counts, so they can go down) are kept from the first time the
 * set passes the bound; the answer is the same function of the set either way.
 */
class BoundedDistinctAcc implements Accumulator {
  constructor(
    private readonly exactUpTo: number,
    private readonly precision: number,
    private readonly sliding: boolean,
    public counts: Map<string | number, number> | null = new Map(),
    public hll: HyperLogLog | null = null,
  ) {}

  private registersOf(values: Iterable<string | number>): HyperLogLog {
    const h = new HyperLogLog(this.precision, this.sliding);
    for (const v of values) h.insert(v);
    return h;
  }

  add(v: AggValue): void {
    if (v === null || typeof v === 'object') return;
    const counts = this.counts;
    if (counts === null) {
      this.hll!.insert(v);
      return;
    }
    const c = counts.get(v);
    counts.set(v, c === undefined ? 1 : c + 1);
    if (c !== undefined) return;
    if (this.hll !== null) this.hll.insert(v);
    else if (counts.size > this.exactUpTo) {
      this.hll = this.registersOf(counts.keys());
      if (!this.sliding) this.counts = null;
    }
  }

  remove(v: AggValue): void {
    if (v === null || typeof v === 'object' || this.counts === null) return;
    const c = this.counts.get(v);
    if (c === undefined) return;
    if (c > 1) this.counts.set(v, c - 1);
    else {
      this.counts.delete(v);
      this.hll?.delete(v);
    }
  }

  merge(other: Accumulator): void {
    const o = other as BoundedDistinctAcc;
    if (o.counts !== null) {
      for (const [v, c] of o.counts) {
        this.add(v);
        if (this.counts !== null) this.counts.set(v, this.counts.get(v)! + c - 1);
      }
      return;
    }
    if (this.counts !== null) {
      this.hll ??= this.registersOf(this.counts.keys());
      this.counts = null;
    }
    this.hll!.merge(o.hll!);
  }

  result(): AggValue {
    if (this.counts !== null && this.counts.size <= this.exactUpTo) return this.counts.size;
    return this.hll!.estimate();
  }

  encode(w: ByteWriter): void {
    if (this.counts !== null && this.counts.size <= this.exactUpTo) {
      w.uint(0);
      w.uint(this.counts.size);
      for (const [v, c] of this.counts) {
        w.scalar(v);
        w.uint(c);
      }
    } else {
      w.uint(1);
      this.hll!.encode(w);
    }
  }
}

export function boundedCountDistinctAgg(exactUpTo: number, precision: number): AggregationDef {
  return {
    kind: 'countDistinct',
    semver: 1,
    params: { exactUpTo, precision },
    removal: 'invertible',
    rebuildable: true,
    resultType: 'int64',
    needsValue: true,
    create: () => new BoundedDistinctAcc(exactUpTo, precision, false),
    createSliding: () => new BoundedDistinctAcc(exactUpTo, precision, true),
    decode: (r: ByteReader) => {
      if (r.uint() === 1) return new BoundedDistinctAcc(exactUpTo, precision, false, null, HyperLogLog.decode(precision, r));
      const n = r.uint();
      const counts = new Map<string | number, number>();
      for (let i = 0; i < n; i++) {
        const v = r.scalar();
        if (v !== null) counts.set(v, r.uint());
      }
      return new BoundedDistinctAcc(exactUpTo, precision, false, counts);
    },
  };
}
