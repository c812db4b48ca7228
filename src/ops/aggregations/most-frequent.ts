import type { Accumulator, AggValue, AggregationDef } from '../aggregation.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

/** a ranks before b: more frequent, then the smaller string (UTF-16 code unit order). */
const ranksBefore = (ca: number, a: string, cb: number, b: string): boolean => ca > cb || (ca === cb && a < b);

/**
 * The k most frequent values with their counts, most frequent first, equal counts in
 * ascending order: one pass keeping the best k in order, O(distinct × k), no sort of the map.
 * `countOf` reads the count of an entry that holds more than its count (a bucket's state).
 */
export function mostFrequentOf<T = number>(counts: ReadonlyMap<string, T>, k: number, countOf?: (entry: T) => number): { values: string[]; counts: number[] } {
  const best: string[] = [];
  const bestCounts: number[] = [];
  for (const [v, entry] of counts) {
    const c = countOf === undefined ? (entry as number) : countOf(entry);
    if (best.length === k && !ranksBefore(c, v, bestCounts[k - 1], best[k - 1])) continue;
    let i = best.length === k ? k - 1 : best.length;
    while (i > 0 && ranksBefore(c, v, bestCounts[i - 1], best[i - 1])) {
      if (i < k) {
        best[i] = best[i - 1];
        bestCounts[i] = bestCounts[i - 1];
      }
      i--;
    }
    best[i] = v;
    bestCounts[i] = c;
  }
  return { values: best, counts: bestCounts };
}

/**
 * The k most frequent string values, most frequent first; equal counts in ascending string
 * order (JavaScript's code-unit order, = Python's for BMP text), so the answer is a function of
 * the counts alone. Exact counts per distinct value: state grows with the distinct values.
 */
class MostFrequentAcc implements Accumulator {
  constructor(
    private readonly k: number,
    public counts = new Map<string, number>(),
  ) {}

  add(v: AggValue): void {
    if (typeof v !== 'string') return;
    this.counts.set(v, (this.counts.get(v) ?? 0) + 1);
  }

  remove(v: AggValue): void {
    if (typeof v !== 'string') return;
    const c = this.counts.get(v);
    if (c === undefined) return;
    if (c <= 1) this.counts.delete(v);
    else this.counts.set(v, c - 1);
  }

  merge(other: Accumulator): void {
    for (const [v, c] of (other as MostFrequentAcc).counts) this.counts.set(v, (this.counts.get(v) ?? 0) + c);
  }

  result(): AggValue {
    return mostFrequentOf(this.counts, this.k).values;
  }

  encode(w: ByteWriter): void {
    w.uint(this.counts.size);
    for (const [v, c] of this.counts) {
      w.str(v);
      w.uint(c);
    }
  }
}

export function mostFrequentAgg(k: number): AggregationDef {
  return {
    kind: 'mostFrequent',
    semver: 1,
    params: { k },
    removal: 'invertible',
    rebuildable: true,
    resultType: 'list<string>',
    needsValue: true,
    create: () => new MostFrequentAcc(k),
    decode: (r: ByteReader) => {
      const n = r.uint();
      const counts = new Map<string, number>();
      for (let i = 0; i < n; i++) counts.set(r.str(), r.uint());
      return new MostFrequentAcc(k, counts);
    },
  };
}
