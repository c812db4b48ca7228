import { Categorized, type Accumulator, type AggValue, type AggregationDef, type MapValue } from '../aggregation.js';
import type { UserFn } from '../../dsl/nodes.js';
import { toAggValue } from '../aggregation.js';
import { OTHER } from './histogram.js';
import { mostFrequentOf } from './most-frequent.js';
import { SumAcc } from './sum.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

/** countBy, sumBy or meanBy: what each bucket reports. */
export type BucketedOp = 'count' | 'sum' | 'mean';

/** The declared categories, or a bound on the categories listed (the rest go to "other"). */
export type BucketedSpec = { readonly categories: readonly string[] } | { readonly maxCategories: number };

/**
 * The event column of a bucketed aggregation: the pair (category, number) of an event, from
 * the two user functions, or null when the category is null (the event is skipped). Without
 * a value function (countBy()) the number is null and every categorised event counts.
 */
export function categorizedColumn(by: UserFn, value: UserFn | undefined): UserFn {
  return (event: unknown): Categorized | null => {
    const c = toAggValue(by(event));
    if (c === null || typeof c === 'object') return null;
    const x = value === undefined ? null : toAggValue(value(event));
    return new Categorized(String(c), typeof x === 'number' ? x : null);
  };
}

/**
 * One compensated sum and count per bucket (SumAcc), so each bucket is a `sum` / `mean` with
 * the same fold-order arithmetic, restored from its encoding and merged alike (tiles, sessions).
 *
 * Declared categories keep one bucket each plus "other". With maxCategories every category of
 * the window has a bucket, emptied ones are dropped; the result lists the maxCategories with
 * the most values (equal counts in ascending string order, as histogram) and folds the rest
 * into "other" in ascending category order.
 */
class BucketedAcc implements Accumulator {
  constructor(
    private readonly op: BucketedOp,
    /** False for countBy without a value function: every event counts. */
    private readonly valued: boolean,
    private readonly declared: ReadonlyMap<string, number> | null,
    private readonly maxCategories: number,
    /** Declared: one per category, then "other"; maxCategories: per category held. */
    readonly fixed: SumAcc[],
    readonly held: Map<string, SumAcc>,
  ) {}

  private bucket(c: string, create: boolean): SumAcc | undefined {
    if (this.declared !== null) return this.fixed[this.declared.get(c) ?? this.fixed.length - 1];
    let b = this.held.get(c);
    if (b === undefined && create) {
      b = new SumAcc(this.op === 'mean' ? 'mean' : 'sum');
      this.held.set(c, b);
    }
    return b;
  }

  add(v: AggValue): void {
    if (!(v instanceof Categorized) || (this.valued && v.value === null)) return;
    const b = this.bucket(v.category, true)!;
    if (this.op === 'count') b.n++;
    else b.add(v.value);
  }

  remove(v: AggValue): void {
    if (!(v instanceof Categorized) || (this.valued && v.value === null)) return;
    const b = this.bucket(v.category, false);
    if (b === undefined) return;
    if (this.op === 'count') b.n--;
    else b.remove(v.value);
    if (b.n === 0 && this.declared === null) this.held.delete(v.category);
  }

  merge(other: Accumulator): void {
    const o = other as BucketedAcc;
    for (let i = 0; i < this.fixed.length; i++) this.fixed[i].merge(o.fixed[i]);
    for (const [c, b] of o.held) this.bucket(c, true)!.merge(b);
  }

  private value(b: SumAcc): number | null {
    return this.op === 'count' ? b.n : (b.result() as number | null);
  }

  result(): AggValue {
    const out: Record<string, number | null> = {};
    if (this.declared !== null) {
      for (const [c, i] of this.declared) out[c] = this.value(this.fixed[i]);
      out[OTHER] = this.value(this.fixed[this.fixed.length - 1]);
      return out as MapValue;
    }
    const top = mostFrequentOf(this.held, this.maxCategories, (b) => b.n);
    for (const c of top.values) out[c] = this.value(this.held.get(c)!);
    const rest = new SumAcc(this.op === 'mean' ? 'mean' : 'sum');
    if (this.held.size > top.values.length) {
      const listed = new Set(top.values);
      // In category order, so "other" does not depend on the order categories first came.
      const others = [...this.held.keys()].filter((c) => !listed.has(c)).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      for (const c of others) rest.merge(this.held.get(c)!);
    }
    out[OTHER] = this.value(rest);
    return out as MapValue;
  }

  encode(w: ByteWriter): void {
    for (const b of this.fixed) b.encode(w);
    if (this.declared !== null) return;
    w.uint(this.held.size);
    for (const [c, b] of this.held) {
      w.str(c);
      b.encode(w);
    }
  }
}

/**
 * countBy / sumBy / meanBy: a map of category → count (`map<int64>`) or → sum / mean
 * (`map<double>`; the sum of an empty bucket is 0, its mean null, never NaN).
 */
export function bucketedAgg(op: BucketedOp, spec: BucketedSpec, valued: boolean): AggregationDef {
  const declared = 'categories' in spec ? new Map(spec.categories.map((c, i) => [c, i] as const)) : null;
  const max = 'maxCategories' in spec ? spec.maxCategories : 0;
  const mode = op === 'mean' ? 'mean' : 'sum';
  const fixedCount = declared === null ? 0 : declared.size + 1;
  const params: Record<string, string | number | boolean> = 'categories' in spec ? { categories: JSON.stringify(spec.categories) } : { maxCategories: max };
  return {
    kind: `${op}By`,
    semver: 1,
    params,
    removal: 'invertible',
    // Counts are exact whatever the order they were folded in: a restore refolds the buffer.
    rebuildable: op === 'count',
    resultType: op === 'count' ? 'map<int64>' : 'map<double>',
    needsValue: op !== 'count' || valued,
    create: () => new BucketedAcc(op, op !== 'count' || valued, declared, max, Array.from({ length: fixedCount }, () => new SumAcc(mode)), new Map()),
    decode: (r: ByteReader) => {
      const fixed = Array.from({ length: fixedCount }, () => new SumAcc(mode, r.uint(), r.f64(), r.f64()));
      const held = new Map<string, SumAcc>();
      if (declared === null) for (let n = r.uint(); n > 0; n--) held.set(r.str(), new SumAcc(mode, r.uint(), r.f64(), r.f64()));
      return new BucketedAcc(op, op !== 'count' || valued, declared, max, fixed, held);
    },
  };
}
