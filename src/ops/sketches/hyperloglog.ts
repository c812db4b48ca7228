import type { ByteReader, ByteWriter } from '../../state/codec.js';
import { murmur3, valueBytes } from './murmur3.js';

/** Seeds of the two hashes: one picks the register, the other gives the rank. */
const INDEX_SEED = 0;
const RANK_SEED = 0x9747b28c;
/** Ranks run 1..33 with a 32-bit rank hash; 0 marks an empty register. */
const RANKS = 34;

/**
 * HyperLogLog (Flajolet, Fusy, Gandouet & Meunier 2007) with 2^p registers and the standard
 * small-range correction (linear counting). Values are hashed with MurmurHash3 under fixed
 * seeds, so registers depend only on the set of values: the same set gives the same estimate
 * whatever the order, host or merge tree. Relative standard error 1.04 / √(2^p).
 *
 * A sliding instance also counts, per register and rank, the distinct values that put it
 * there, so a value that leaves the set can lower its register again.
 */
export class HyperLogLog {
  readonly registers: Uint8Array;
  /** How many registers hold each rank: the estimate is a fixed-order sum over it. */
  private readonly histogram: number[] = new Array<number>(RANKS).fill(0);
  private readonly rankCounts: Map<number, number> | null;

  constructor(
    readonly precision: number,
    sliding: boolean,
  ) {
    this.registers = new Uint8Array(1 << precision);
    this.histogram[0] = this.registers.length;
    this.rankCounts = sliding ? new Map() : null;
  }

  private position(v: number | string): [number, number] {
    const bytes = valueBytes(v);
    const register = murmur3(bytes, INDEX_SEED) >>> (32 - this.precision);
    return [register, Math.clz32(murmur3(bytes, RANK_SEED)) + 1];
  }

  private set(j: number, rank: number): void {
    this.histogram[this.registers[j]]--;
    this.histogram[rank]++;
    this.registers[j] = rank;
  }

  /** Add a value not yet in the set. */
  insert(v: number | string): void {
    const [j, rank] = this.position(v);
    if (this.rankCounts !== null) {
      const k = j * RANKS + rank;
      this.rankCounts.set(k, (this.rankCounts.get(k) ?? 0) + 1);
    }
    if (rank > this.registers[j]) this.set(j, rank);
  }

  /** Take a value out of the set (sliding instances only). */
  delete(v: number | string): void {
    const counts = this.rankCounts;
    if (counts === null) throw new Error('HyperLogLog: delete on an instance that keeps no rank counts');
    const [j, rank] = this.position(v);
    const k = j * RANKS + rank;
    const c = counts.get(k) ?? 0;
    if (c > 1) {
      counts.set(k, c - 1);
      return;
    }
    counts.delete(k);
    if (rank !== this.registers[j]) return;
    let r = rank - 1;
    while (r > 0 && !counts.has(j * RANKS + r)) r--;
    this.set(j, r);
  }

  /** Union with another instance of the same precision. */
  merge(other: HyperLogLog): void {
    for (let j = 0; j < this.registers.length; j++) if (other.registers[j] > this.registers[j]) this.set(j, other.registers[j]);
  }

  estimate(): number {
    const m = this.registers.length;
    let sum = 0;
    for (let r = 0; r < RANKS; r++) sum += this.histogram[r] * 2 ** -r;
    const alpha = 0.7213 / (1 + 1.079 / m);
    const raw = (alpha * m * m) / sum;
    const zeros = this.histogram[0];
    return Math.round(raw <= 2.5 * m && zeros > 0 ? m * Math.log(m / zeros) : raw);
  }

  encode(w: ByteWriter): void {
    for (let j = 0; j < this.registers.length; j++) w.uint(this.registers[j]);
  }

  static decode(precision: number, r: ByteReader): HyperLogLog {
    const h = new HyperLogLog(precision, false);
    for (let j = 0; j < h.registers.length; j++) {
      const rank = r.uint();
      if (rank > 0) h.set(j, rank);
    }
    return h;
  }
}
