import type { ByteReader, ByteWriter } from '../state/codec.js';
import type { Accumulator, AggValue } from './accumulator.js';
import type { LookbackWindowSpec } from './lookback-window.js';

export interface TiledWindowSpec extends LookbackWindowSpec {
  /** Tile size h in ms; divides the window size. */
  readonly tile: number;
}

/** Largest multiple of h that is ≤ t (floor, also for times before 1970). */
export function floorTile(t: number, h: number): number {
  return Math.floor(t / h) * h;
}

/** Read access to the key's raw, time-sorted event buffer. */
export interface RawEvents {
  readonly times: ArrayLike<number>;
  readonly seqs: ArrayLike<number>;
  readonly cols: readonly (readonly AggValue[])[];
  /** Indexes [from, to) of buffered events with time in [lo, hi]. */
  range(lo: number, hi: number): readonly [number, number];
}

/**
 * A sawtooth lookback window: the vector at t covers [floor_h(t − W), t]. Whole tiles before
 * the tile holding t are read from one aggregate per tile (state bounded by W / h per key);
 * the tile holding t is read from raw events, so events later than t never leak in.
 */
export class TiledRun {
  /** Tile starts, ascending, with one accumulator per aggregation each. */
  starts: number[] = [];
  tiles: Accumulator[][] = [];
  /** Merged aggregate of tiles [cacheFrom, cacheTo): valid while no add lands before cacheTo. */
  private cache: Accumulator[] | null = null;
  private cacheFrom = 0;
  private cacheTo = 0;

  constructor(private readonly spec: TiledWindowSpec) {}

  private find(start: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid] < start) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(t: number, seq: number, vals: readonly AggValue[]): void {
    const start = floorTile(t, this.spec.tile);
    const i = this.find(start);
    if (this.starts[i] !== start) {
      this.starts.splice(i, 0, start);
      this.tiles.splice(i, 0, this.spec.aggs.map((a) => a.def.create()));
    }
    const accs = this.tiles[i];
    for (let a = 0; a < this.spec.aggs.length; a++) {
      const slot = this.spec.aggs[a];
      accs[a].add(slot.column < 0 ? null : vals[slot.column], t, seq);
    }
    if (this.cache !== null && start < this.cacheTo) this.cache = null;
  }

  read(t: number, raw: RawEvents, out: AggValue[]): void {
    const { tile, size, aggs } = this.spec;
    const from = floorTile(t - size, tile);
    const to = floorTile(t, tile);
    if (this.cache === null || this.cacheFrom !== from || this.cacheTo !== to) {
      const merged = aggs.map((a) => a.def.create());
      for (let i = this.find(from); i < this.starts.length && this.starts[i] < to; i++) {
        for (let a = 0; a < aggs.length; a++) merged[a].merge(this.tiles[i][a]);
      }
      this.cache = merged;
      this.cacheFrom = from;
      this.cacheTo = to;
    }
    const [lo, hi] = raw.range(to, t);
    for (let a = 0; a < aggs.length; a++) {
      const slot = aggs[a];
      const acc = slot.def.create();
      acc.merge(this.cache[a]);
      const col = slot.column < 0 ? null : raw.cols[slot.column];
      for (let i = lo; i < hi; i++) acc.add(col === null ? null : col[i], raw.times[i], raw.seqs[i]);
      out[slot.out] = acc.result();
    }
  }

  /** Drop tiles no accepted event can reach: those starting before floor_h(acceptFrom − W). */
  evict(acceptFrom: number): void {
    const keepFrom = floorTile(acceptFrom - this.spec.size, this.spec.tile);
    const n = this.find(keepFrom);
    if (n === 0) return;
    this.starts.splice(0, n);
    this.tiles.splice(0, n);
    this.cache = null;
  }

  encode(w: ByteWriter): void {
    w.uint(this.starts.length);
    for (let i = 0; i < this.starts.length; i++) {
      w.f64(this.starts[i]);
      for (const acc of this.tiles[i]) acc.encode(w);
    }
  }

  static decode(spec: TiledWindowSpec, r: ByteReader): TiledRun {
    const run = new TiledRun(spec);
    const n = r.uint();
    for (let i = 0; i < n; i++) {
      run.starts.push(r.f64());
      run.tiles.push(spec.aggs.map((a) => a.def.decode(r)));
    }
    return run;
  }
}
