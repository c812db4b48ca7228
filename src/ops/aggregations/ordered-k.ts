import type { Accumulator, AggValue, AggregationDef, ColumnType } from '../aggregation.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

/** (t1, s1) before (t2, s2): event time, then apply sequence (the canonical order). */
const before = (t1: number, s1: number, t2: number, s2: number): boolean => t1 < t2 || (t1 === t2 && s1 < s2);

/**
 * The first k (oldest first) or last k (newest first) non-null values by (event time, apply
 * sequence); `first` is the first one, as a scalar. Added to only, it keeps those k events,
 * sorted. Sliding, it keeps the window's non-null values in order, since they leave from the
 * front; out-of-order adds make the window rebuild it, and a restore rebuilds it from the
 * window's buffer.
 */
class OrderedKAcc implements Accumulator {
  constructor(
    private readonly k: number,
    private readonly last: boolean,
    private readonly sliding: boolean,
    /** first(): the one value or null, not a list. */
    private readonly scalar = false,
    public values: Array<number | string> = [],
    public times: number[] = [],
    public seqs: number[] = [],
    public head = 0,
  ) {}

  add(v: AggValue, t: number, seq: number): void {
    if (v === null || typeof v === 'object') return;
    const { values, times, seqs } = this;
    if (this.sliding) {
      values.push(v);
      times.push(t);
      seqs.push(seq);
      return;
    }
    let i = values.length;
    while (i > 0 && before(t, seq, times[i - 1], seqs[i - 1])) i--;
    values.splice(i, 0, v);
    times.splice(i, 0, t);
    seqs.splice(i, 0, seq);
    if (values.length > this.k) {
      const drop = this.last ? 0 : values.length - 1;
      values.splice(drop, 1);
      times.splice(drop, 1);
      seqs.splice(drop, 1);
    }
  }

  remove(v: AggValue, _t: number, seq: number): void {
    if (v === null || typeof v === 'object' || this.head >= this.seqs.length || this.seqs[this.head] !== seq) return;
    this.head++;
    if (this.head > 64 && this.head * 2 > this.values.length) {
      this.values = this.values.slice(this.head);
      this.times = this.times.slice(this.head);
      this.seqs = this.seqs.slice(this.head);
      this.head = 0;
    }
  }

  merge(other: Accumulator): void {
    const o = other as OrderedKAcc;
    for (let i = o.head; i < o.values.length; i++) this.add(o.values[i], o.times[i], o.seqs[i]);
  }

  result(): AggValue {
    const n = this.values.length;
    if (this.scalar) return this.head < n ? this.values[this.head] : null;
    if (!this.last) return this.values.slice(this.head, Math.min(n, this.head + this.k)) as number[] | string[];
    const out: Array<number | string> = [];
    for (let i = n - 1; i >= this.head && out.length < this.k; i--) out.push(this.values[i]);
    return out as number[] | string[];
  }

  encode(w: ByteWriter): void {
    w.uint(this.values.length - this.head);
    for (let i = this.head; i < this.values.length; i++) {
      w.scalar(this.values[i]);
      w.f64(this.times[i]);
      w.f64(this.seqs[i]);
    }
  }
}

/** firstK (oldest first), lastK (newest first) and first of a number or string value. */
export function orderedKAgg(kind: 'firstK' | 'lastK' | 'first', k: number, elements: 'double' | 'string'): AggregationDef {
  const last = kind === 'lastK';
  const scalar = kind === 'first';
  const resultType: ColumnType = scalar ? elements : elements === 'string' ? 'list<string>' : 'list<double>';
  return {
    kind,
    semver: 1,
    params: scalar ? { type: elements } : { k, type: elements },
    removal: 'front',
    rebuildable: true,
    resultType,
    needsValue: true,
    create: () => new OrderedKAcc(k, last, false, scalar),
    createSliding: () => new OrderedKAcc(k, last, true, scalar),
    decode: (r: ByteReader) => {
      const n = r.uint();
      const acc = new OrderedKAcc(k, last, false, scalar);
      for (let i = 0; i < n; i++) {
        const v = r.scalar();
        const t = r.f64();
        const seq = r.f64();
        if (v === null) continue; // never stored: nulls are skipped on add
        acc.values.push(v);
        acc.times.push(t);
        acc.seqs.push(seq);
      }
      return acc;
    },
  };
}
