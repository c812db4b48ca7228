import type { ByteReader, ByteWriter } from '../../state/codec.js';
import { lowerBound } from '../sorted-values.js';

/** Keys of positive values sit above it and negative ones below −it, zero at 0 (|index| < 4e6 for α ≥ 1e-4). */
const OFFSET = 1e7;

/**
 * DDSketch's logarithmic buckets (Masson, Rim & Lee, VLDB 2019): bucket i holds the values in
 * (γ^(i−1), γ^i] with γ = (1 + α) / (1 − α), and 2γ^i / (γ + 1) is within relative error α
 * of each of them. Sign and zero are folded into one key whose order is the order of the
 * values, so the value of rank k in a set is represented by the k-th key.
 */
export class LogBuckets {
  private readonly gamma: number;
  private readonly logGamma: number;

  constructor(readonly relativeError: number) {
    this.gamma = (1 + relativeError) / (1 - relativeError);
    this.logGamma = Math.log(this.gamma);
  }

  key(x: number): number {
    if (x > 0) return OFFSET + Math.ceil(Math.log(x) / this.logGamma);
    if (x < 0) return -OFFSET - Math.ceil(Math.log(-x) / this.logGamma);
    return 0;
  }

  /** The value a bucket stands for. */
  value(key: number): number {
    if (key === 0) return 0;
    const i = key > 0 ? key - OFFSET : -key - OFFSET;
    const v = (2 * this.gamma ** i) / (this.gamma + 1);
    return key > 0 ? v : -v;
  }
}

/** Bucket keys in ascending order with their counts: the mergeable, order-free state of a sketch. */
export class BucketCounts {
  constructor(
    public keys: number[] = [],
    public counts: number[] = [],
  ) {}

  add(key: number, count = 1): void {
    const keys = this.keys;
    const lo = lowerBound(keys, key);
    if (keys[lo] === key) this.counts[lo] += count;
    else {
      keys.splice(lo, 0, key);
      this.counts.splice(lo, 0, count);
    }
  }

  merge(other: BucketCounts): void {
    for (let i = 0; i < other.keys.length; i++) this.add(other.keys[i], other.counts[i]);
  }

  /** The keys of the values of the given ascending ranks (0-based), in one pass. */
  keysAtRanks(ranks: readonly number[]): number[] {
    const out: number[] = [];
    let seen = 0;
    let b = 0;
    for (const rank of ranks) {
      while (b < this.keys.length && seen + this.counts[b] <= rank) seen += this.counts[b++];
      out.push(this.keys[Math.min(b, this.keys.length - 1)]);
    }
    return out;
  }

  encode(w: ByteWriter): void {
    w.uint(this.keys.length);
    for (let i = 0; i < this.keys.length; i++) {
      w.f64(this.keys[i]);
      w.uint(this.counts[i]);
    }
  }

  static decode(r: ByteReader): BucketCounts {
    const n = r.uint();
    const b = new BucketCounts();
    for (let i = 0; i < n; i++) {
      b.keys.push(r.f64());
      b.counts.push(r.uint());
    }
    return b;
  }
}
