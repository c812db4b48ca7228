import type { Accumulator, AggValue, AggregationDef, MapValue } from '../aggregation.js';
import { lowerBound } from '../sorted-values.js';
import { mostFrequentOf } from './most-frequent.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

/** The bucket of values outside the declared bins or categories, or past maxCategories. */
export const OTHER = 'other';

/**
 * How values become buckets, and which buckets the result lists: declared numeric bins
 * `[e0, e1)`, …, `[en−1, en)`; declared categories; or the `maxCategories` most frequent
 * categories of the window (ties in ascending string order). The result always lists every
 * declared bucket (zeros included) and `other` last, so a map's keys depend on the
 * declaration only; with maxCategories, on the counts only.
 */
export type HistogramSpec = { readonly bins: readonly number[] } | { readonly categories: readonly string[] } | { readonly maxCategories: number };

const binLabel = (lo: number, hi: number): string => `[${lo},${hi})`;

/** Counts per bucket; a function of the values held, never of their order. */
class HistogramAcc implements Accumulator {
  constructor(
    private readonly spec: HistogramSpec,
    private readonly labels: readonly string[] | null,
    public counts = new Map<string, number>(),
    public total = 0,
  ) {}

  private bucket(v: AggValue): string | null {
    const spec = this.spec;
    if ('bins' in spec) {
      if (typeof v !== 'number') return null;
      const edges = spec.bins;
      // i = how many edges are ≤ v: v is in bin i − 1 when e0 ≤ v < e_last.
      const lb = lowerBound(edges, v);
      const i = edges[lb] === v ? lb + 1 : lb;
      return i > 0 && i < edges.length ? this.labels![i - 1] : OTHER;
    }
    if (typeof v !== 'string') return null;
    if ('categories' in spec) return spec.categories.includes(v) ? v : OTHER;
    return v;
  }

  add(v: AggValue): void {
    const b = this.bucket(v);
    if (b === null) return;
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.total++;
  }

  remove(v: AggValue): void {
    const b = this.bucket(v);
    if (b === null) return;
    const c = this.counts.get(b);
    if (c === undefined) return;
    if (c <= 1) this.counts.delete(b);
    else this.counts.set(b, c - 1);
    this.total--;
  }

  merge(other: Accumulator): void {
    const o = other as HistogramAcc;
    for (const [b, c] of o.counts) this.counts.set(b, (this.counts.get(b) ?? 0) + c);
    this.total += o.total;
  }

  result(): AggValue {
    const out: Record<string, number> = {};
    if (this.labels !== null) {
      for (const label of this.labels) out[label] = this.counts.get(label) ?? 0;
      out[OTHER] = this.counts.get(OTHER) ?? 0;
      return out as MapValue;
    }
    const top = mostFrequentOf(this.counts, (this.spec as { maxCategories: number }).maxCategories);
    let listed = 0;
    top.values.forEach((cat, i) => {
      out[cat] = top.counts[i];
      listed += top.counts[i];
    });
    out[OTHER] = this.total - listed;
    return out as MapValue;
  }

  encode(w: ByteWriter): void {
    w.uint(this.counts.size);
    for (const [b, c] of this.counts) {
      w.str(b);
      w.uint(c);
    }
  }
}

/** A histogram as a map of bucket → count (`map<int64>`). */
export function histogramAgg(spec: HistogramSpec): AggregationDef {
  const labels = 'bins' in spec ? spec.bins.slice(1).map((hi, i) => binLabel(spec.bins[i], hi)) : 'categories' in spec ? spec.categories : null;
  const params: Record<string, string | number> = 'bins' in spec ? { bins: spec.bins.join(',') } : 'categories' in spec ? { categories: JSON.stringify(spec.categories) } : { maxCategories: spec.maxCategories };
  return {
    kind: 'histogram',
    semver: 1,
    params,
    removal: 'invertible',
    rebuildable: true,
    resultType: 'map<int64>',
    needsValue: true,
    create: () => new HistogramAcc(spec, labels),
    decode: (r: ByteReader) => {
      const n = r.uint();
      const counts = new Map<string, number>();
      let total = 0;
      for (let i = 0; i < n; i++) {
        const b = r.str();
        const c = r.uint();
        counts.set(b, c);
        total += c;
      }
      return new HistogramAcc(spec, labels, counts, total);
    },
  };
}
