import type { Accumulator, AggValue, AggregationDef } from '../aggregation.js';
import type { ByteReader, ByteWriter } from '../../state/codec.js';

/**
 * Sliding min/max as a monotonic deque: amortised O(1) per event when adds arrive in
 * (time, seq) order and removals take the oldest element, which is how a lookback window
 * moves. Out-of-order inserts make the window rebuild the accumulator from its buffer.
 */
class ExtremeAcc implements Accumulator {
  constructor(
    private readonly isMax: boolean,
    public values: number[] = [],
    public seqs: number[] = [],
    public head = 0,
  ) {}
  private dominated(back: number, v: number): boolean {
    return this.isMax ? back <= v : back >= v;
  }
  add(v: AggValue, _t: number, seq: number): void {
    if (typeof v !== 'number') return;
    while (this.values.length > this.head && this.dominated(this.values[this.values.length - 1], v)) {
      this.values.pop();
      this.seqs.pop();
    }
    this.values.push(v);
    this.seqs.push(seq);
  }
  remove(v: AggValue, _t: number, seq: number): void {
    if (typeof v !== 'number') return;
    if (this.head < this.seqs.length && this.seqs[this.head] === seq) {
      this.head++;
      if (this.head > 64 && this.head * 2 > this.values.length) {
        this.values = this.values.slice(this.head);
        this.seqs = this.seqs.slice(this.head);
        this.head = 0;
      }
    }
  }
  merge(other: Accumulator): void {
    const r = other.result();
    const mine = this.result();
    if (typeof r !== 'number') return;
    const best = mine === null ? r : this.isMax ? Math.max(mine as number, r) : Math.min(mine as number, r);
    // A merged extreme is final: session windows never remove after merging.
    this.values = [best];
    this.seqs = [-1];
    this.head = 0;
  }
  result(): AggValue {
    return this.head < this.values.length ? this.values[this.head] : null;
  }
  reset(): void {
    this.values.length = 0;
    this.seqs.length = 0;
    this.head = 0;
  }
  encode(w: ByteWriter): void {
    const n = this.values.length - this.head;
    w.uint(n);
    for (let i = this.head; i < this.values.length; i++) {
      w.f64(this.values[i]);
      w.f64(this.seqs[i]);
    }
  }
}

export function extremeAgg(kind: 'min' | 'max'): AggregationDef {
  const isMax = kind === 'max';
  return {
    kind,
    semver: 1,
    params: {},
    removal: 'front',
    resultType: 'double',
    needsValue: true,
    create: () => new ExtremeAcc(isMax),
    decode: (r: ByteReader) => {
      const n = r.uint();
      const values: number[] = [];
      const seqs: number[] = [];
      for (let i = 0; i < n; i++) {
        values.push(r.f64());
        seqs.push(r.f64());
      }
      return new ExtremeAcc(isMax, values, seqs, 0);
    },
  };
}
