/**
 * Small seeded pseudo-random number generator for synthetic data.
 *
 * xoshiro128** (Blackman & Vigna) on 32-bit integer arithmetic (Math.imul, >>>), seeded through
 * splitmix32, so a (seed, stream) pair always yields the same sequence on every platform.
 * Nothing here reads the wall clock or Math.random. Derived floats use only IEEE-754 basic
 * operations plus Math.log / Math.sqrt / Math.cos, which V8 implements identically everywhere
 * (fdlibm port), so generated data is byte-identical for a given seed.
 */

const TWO_POW_32 = 4294967296;

/** splitmix32 step: returns [nextState, output]. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [s, z >>> 0];
}

/**
 * Bijective 32-bit integer mixer ("lowbias32"). Distinct inputs give distinct outputs, so it can
 * turn a sequence number into a unique, random-looking id.
 */
export function mix32(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Folds any finite number (integer or not, any magnitude) into a 32-bit seed word. */
export function seedWord(seed: number): number {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_POW_32) >>> 0;
  const frac = Math.floor((seed - Math.floor(seed)) * TWO_POW_32) >>> 0;
  return mix32(lo ^ mix32(hi ^ mix32(frac ^ 0x5bd1e995)));
}

export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /**
   * @param seed any finite number
   * @param stream independent sub-stream id: the same seed with different streams gives
   *   unrelated sequences (used to keep, e.g., profile generation independent of event count).
   */
  constructor(seed: number, stream = 0) {
    let s = seedWord(seed) ^ mix32((stream >>> 0) + 0x632be5ab);
    let out: number;
    [s, out] = splitmix32(s);
    this.a = out;
    [s, out] = splitmix32(s);
    this.b = out;
    [s, out] = splitmix32(s);
    this.c = out;
    [s, out] = splitmix32(s);
    this.d = out;
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // all-zero state is a fixed point
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const b = this.b;
    const t = b << 9;
    let r = Math.imul(b, 5);
    r = Math.imul((r << 7) | (r >>> 25), 9);
    this.c ^= this.a;
    this.d ^= b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = (this.d << 11) | (this.d >>> 21);
    return r >>> 0;
  }

  /** Uniform float in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform float in [min, max). */
  float(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Uniform integer in [min, maxExclusive). */
  int(min: number, maxExclusive: number): number {
    return min + Math.floor(this.next() * (maxExclusive - min));
  }

  /** true with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal via Box–Muller (one value per call, no hidden cache). */
  normal(mean = 0, sd = 1): number {
    const u1 = 1 - this.next(); // (0, 1]
    const u2 = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** exp(N(mu, sigma)). */
  logNormal(mu: number, sigma: number): number {
    return Math.exp(this.normal(mu, sigma));
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Independent generator derived from this one's next outputs. */
  fork(stream: number): SeededRandom {
    return new SeededRandom(this.nextUint32() ^ mix32(stream), stream);
  }

  /** n pseudo-random bytes (e.g. a deterministic Avro sync marker). */
  bytes(n: number): Buffer {
    const buf = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.nextUint32();
      for (let j = 0; j < 4 && i + j < n; j++) buf[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return buf;
  }
}

/**
 * Walker/Vose alias table: O(1) sampling of an index with probability proportional to its weight.
 * Construction is deterministic (fixed work-list order).
 */
export class AliasTable {
  readonly size: number;
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    if (n === 0) throw new RangeError('AliasTable needs at least one weight');
    let total = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i] as number;
      if (!(w >= 0) || !Number.isFinite(w)) throw new RangeError(`bad weight at ${i}: ${w}`);
      total += w;
    }
    if (total <= 0) throw new RangeError('weights sum to zero');
    this.size = n;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    const scaled = new Float64Array(n);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) {
      scaled[i] = ((weights[i] as number) * n) / total;
      if (scaled[i]! < 1) small.push(i);
      else large.push(i);
    }
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!;
      const l = large.pop()!;
      this.prob[s] = scaled[s]!;
      this.alias[s] = l;
      scaled[l] = scaled[l]! + scaled[s]! - 1;
      if (scaled[l]! < 1) small.push(l);
      else large.push(l);
    }
    for (const i of large) {
      this.prob[i] = 1;
      this.alias[i] = i;
    }
    for (const i of small) {
      this.prob[i] = 1;
      this.alias[i] = i;
    }
  }

  sample(rng: SeededRandom): number {
    const x = rng.next() * this.size;
    const i = Math.floor(x);
    return x - i < this.prob[i]! ? i : this.alias[i]!;
  }
}
