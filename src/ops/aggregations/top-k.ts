import type { Accumulator, AggValue, AggregationDef } from '../aggregation.js';
import { insertSorted, mergeSorted, removeSorted } from '../sorted-values.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

/**
 * The k largest values, descending (topK), or the k smallest, ascending (bottomK), repeats
 * included. The values are kept ascending: added to only, just the k that can still answer;
 * sliding, all of the window's (removals must be exact; the window's buffer holds them anyway).
 */
class TopKAcc implements Accumulator {
  constructor(
    private readonly k: number,
    private readonly top: boolean,
    private readonly sliding: boolean,
    public values: number[] = [],
  ) {}

  private cap(): void {
    const extra = this.values.length - this.k;
    if (this.sliding || extra <= 0) return;
    if (this.top) this.values.splice(0, extra);
    else this.values.length = this.k;
  }

  add(v: AggValue): void {
    if (typeof v !== 'number') return;
    insertSorted(this.values, v === 0 ? 0 : v);
    this.cap();
  }

  remove(v: AggValue): void {
    if (typeof v === 'number') removeSorted(this.values, v === 0 ? 0 : v);
  }

  merge(other: Accumulator): void {
    this.values = mergeSorted(this.values, (other as TopKAcc).values);
    this.cap();
  }

  result(): AggValue {
    const n = this.values.length;
    if (!this.top) return this.values.slice(0, this.k);
    const out: number[] = [];
    for (let i = n - 1; i >= 0 && out.length < this.k; i--) out.push(this.values[i]);
    return out;
  }

  encode(w: ByteWriter): void {
    w.uint(this.values.length);
    for (const v of this.values) w.f64(v);
  }
}

export function topKAgg(kind: 'topK' | 'bottomK', k: number): AggregationDef {
  const top = kind === 'topK';
  return {
    kind,
    semver: 1,
    params: { k },
    removal: 'invertible',
    rebuildable: true,
    resultType: 'list<double>',
    needsValue: true,
    create: () => new TopKAcc(k, top, false),
    createSliding: () => new TopKAcc(k, top, true),
    decode: (r: ByteReader) => {
      const n = r.uint();
      const values: number[] = [];
      for (let i = 0; i < n; i++) values.push(r.f64());
      return new TopKAcc(k, top, false, values);
    },
  };
}
