import type { Accumulator, AggValue, AggregationDef } from '../aggregation.js';
import { BucketCounts, LogBuckets } from '../sketches/dd-sketch.js';
import { insertSorted, mergeSorted, removeSorted } from '../sorted-values.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

export interface QuantileParams {
  /** One or more quantiles (ascending); a list result when `list`. */
  readonly qs: readonly number[];
  readonly list: boolean;
  /** Exact while the window holds at most this many values. */
  readonly exactUpTo: number;
  /** Relative error of the sketch beyond exactUpTo. */
  readonly relativeError: number;
}

/**
 * numpy's default ('linear') quantile of n ascending values, given the value of each rank:
 * rank h = (n − 1)q, interpolated between ⌊h⌋ and ⌈h⌉ the way numpy does (from the upper
 * value when the fraction is ≥ 0.5, so the result stays within its two neighbours).
 */
export function linearQuantile(n: number, q: number, at: (lo: number, hi: number) => readonly [number, number]): number {
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  const [a, b] = at(lo, hi);
  const t = h - lo;
  const d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/**
 * Exact values (ascending) while there are at most exactUpTo of them; past that, DDSketch
 * bucket counts, which are a function of the set of values, never of the order they came in.
 * A sliding accumulator (a lookback window's) keeps the values however many, since the
 * window's buffer holds them anyway and removals must be exact; past exactUpTo it answers
 * from their buckets, which is what the sketch of the same values would answer.
 */
class QuantileAcc implements Accumulator {
  constructor(
    private readonly p: QuantileParams,
    private readonly buckets: LogBuckets,
    private readonly sliding: boolean,
    public n = 0,
    public values: number[] | null = [],
    public sketch: BucketCounts | null = null,
  ) {}

  private toSketch(): BucketCounts {
    if (this.sketch === null) {
      this.sketch = new BucketCounts();
      for (const v of this.values ?? []) this.sketch.add(this.buckets.key(v));
      this.values = null;
    }
    return this.sketch;
  }

  add(v: AggValue): void {
    if (typeof v !== 'number') return;
    const x = v === 0 ? 0 : v; // −0 and 0 are one value, or restores could order them differently
    this.n++;
    if (this.values !== null) {
      insertSorted(this.values, x);
      if (!this.sliding && this.n > this.p.exactUpTo) this.toSketch();
    } else this.sketch!.add(this.buckets.key(x));
  }

  remove(v: AggValue): void {
    if (typeof v !== 'number' || this.values === null) return;
    if (removeSorted(this.values, v === 0 ? 0 : v)) this.n--;
  }

  merge(other: Accumulator): void {
    const o = other as QuantileAcc;
    if (o.n === 0) return;
    if (this.values !== null && o.values !== null && (this.sliding || this.n + o.n <= this.p.exactUpTo)) {
      this.values = mergeSorted(this.values, o.values);
    } else {
      const mine = this.toSketch();
      if (o.sketch !== null) mine.merge(o.sketch);
      else for (const v of o.values!) mine.add(this.buckets.key(v));
    }
    this.n += o.n;
  }

  private quantile(q: number): number {
    const { buckets, values, sketch } = this;
    const exact = this.n <= this.p.exactUpTo;
    return linearQuantile(this.n, q, (lo, hi) => {
      if (values !== null) {
        return exact ? [values[lo], values[hi]] : [buckets.value(buckets.key(values[lo])), buckets.value(buckets.key(values[hi]))];
      }
      const [a, b] = sketch!.keysAtRanks([lo, hi]);
      return [buckets.value(a), buckets.value(b)];
    });
  }

  result(): AggValue {
    if (this.n === 0) return null;
    return this.p.list ? this.p.qs.map((q) => this.quantile(q)) : this.quantile(this.p.qs[0]);
  }

  encode(w: ByteWriter): void {
    w.uint(this.n);
    if (this.values !== null) {
      w.uint(0);
      w.uint(this.values.length);
      for (const v of this.values) w.f64(v);
    } else {
      w.uint(1);
      this.sketch!.encode(w);
    }
  }
}

/** quantile(q) (a number) or quantiles([q...]) (a list, in the order given). */
export function quantileAgg(p: QuantileParams): AggregationDef {
  const buckets = new LogBuckets(p.relativeError);
  return {
    kind: p.list ? 'quantiles' : 'quantile',
    semver: 1,
    params: { ...(p.list ? { qs: p.qs.join(',') } : { q: p.qs[0] }), exactUpTo: p.exactUpTo, relativeError: p.relativeError },
    removal: 'invertible',
    rebuildable: true,
    resultType: p.list ? 'list<double>' : 'double',
    needsValue: true,
    create: () => new QuantileAcc(p, buckets, false),
    createSliding: () => new QuantileAcc(p, buckets, true),
    decode: (r: ByteReader) => {
      const n = r.uint();
      if (r.uint() === 1) return new QuantileAcc(p, buckets, false, n, null, BucketCounts.decode(r));
      const len = r.uint();
      const values: number[] = [];
      for (let i = 0; i < len; i++) values.push(r.f64());
      return new QuantileAcc(p, buckets, false, n, values);
    },
  };
}
