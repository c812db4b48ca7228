import { ByteReader, ByteWriter } from '../state/codec.js';
import type { Accumulator, AccumulatorFactory, AggValue, ScalarValue } from './accumulator.js';
import { decodeSegment, encodeSegment, eventBefore, mergeSegmentEvents, type SegmentEvent, type StoredSegment } from './event-segments.js';
import { TiledRun, type RawEvents, type TiledWindowSpec } from './tiled-window.js';
import { ReadTileCache } from './read-tile-cache.js';
import { windowKernels, type WindowKernels } from './window-kernels.js';

export type { TiledWindowSpec } from './tiled-window.js';

/** One aggregation inside a lookback window, and where its result goes in the output vector. */
export interface LookbackAggSlot {
  readonly def: AccumulatorFactory;
  /** Index of the value column it reads, or -1 for count(). */
  readonly column: number;
  readonly out: number;
}

export interface LookbackWindowSpec {
  /** Window length W in ms: the vector at time t covers event times in (t − W, t]. */
  readonly size: number;
  readonly includeCurrent: boolean;
  readonly aggs: readonly LookbackAggSlot[];
}

export interface SinceLastSlot {
  readonly out: number;
  /** Milliseconds per output unit (60000 for minutes). */
  readonly unitMs: number;
}

/** Everything one group (entity key space) computes per event. */
export interface TimelineLayout {
  /** Exact windows. */
  readonly windows: readonly LookbackWindowSpec[];
  /** Sawtooth windows with per-tile state. */
  readonly tiledWindows: readonly TiledWindowSpec[];
  readonly columns: number;
  readonly sinceLast: readonly SinceLastSlot[];
  readonly maxWindow: number;
}

/** Thrown when stored timeline entries do not fit together: the store must be restored. */
export class CorruptTimelineError extends Error {}

interface WindowRun {
  /** Absolute index of the first buffered event inside the running range (clock − W, clock]. */
  lo: number;
  accs: Accumulator[];
}


function slidingAcc(def: AccumulatorFactory): Accumulator {
  return def.createSliding ? def.createSliding() : def.create();
}

/** Per window spec: the accumulators readAt reuses, null when some cannot be reset (Accumulator.reset). */
const readScratch = new WeakMap<LookbackWindowSpec, Accumulator[] | null>();

/**
 * Fresh accumulators for one read of a window: reset ones from the last read where every one
 * can be (a read makes its results before the next read starts), else new ones. A regrouped
 * replay reads two windows per row, and making their accumulators was a tenth of what it allocated.
 */
function readAccumulators(spec: LookbackWindowSpec): Accumulator[] {
  const kept = readScratch.get(spec);
  if (kept === undefined) {
    const made = spec.aggs.map((a) => a.def.create());
    readScratch.set(spec, made.every((a) => a.reset !== undefined) ? made : null);
    return made;
  }
  if (kept === null) return spec.aggs.map((a) => a.def.create());
  for (let a = 0; a < kept.length; a++) kept[a].reset!();
  return kept;
}

/** Events a timeline has room for before its first growth. */
const INITIAL_CAPACITY = 8;

/** A copy of the first n values with twice the room. */
function grown(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(Math.max(INITIAL_CAPACITY, n * 2));
  b.set(a.subarray(0, n));
  return b;
}

/** Values [from, to) moved to the front, in place or into a new array of `capacity`. */
function moveToFront(a: Float64Array, from: number, to: number, capacity: number): Float64Array {
  if (capacity === a.length) {
    a.copyWithin(0, from, to);
    return a;
  }
  const b = new Float64Array(capacity);
  b.set(a.subarray(from, to));
  return b;
}

/** Read tiles per window length in KeyTimeline.readAt. */
const READ_TILES = 32;
/** Read tiles per super tile: a read merges the whole super tiles it covers instead of their 8 tiles. */
const SUPER_TILE = 8;

/** Length of a read tile: fixed by the window length alone (whole ms). */
const readTileSize = (size: number): number => Math.max(1, Math.floor(size / READ_TILES));

/** First index in [from, to) whose time is ≥ x (times are sorted). */
function lowerBound(times: Float64Array, from: number, to: number, x: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in [from, to) whose time is > x (times are sorted). */
function upperBound(times: Float64Array, from: number, to: number, x: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A key's columns before its first event: one shared empty array, replaced by a one-value
 * literal at the first append (appendColumns), never appended to itself.
 */
const NO_VALUES: AggValue[] = Object.freeze([]) as unknown as AggValue[];
/** The tiled runs of a layout without tiled windows: shared, never appended to. */
const NO_TILED_RUNS: TiledRun[] = Object.freeze([]) as unknown as TiledRun[];

/**
 * Append an event's values to a key's columns. An empty column becomes a one-value literal
 * (about 60 bytes) rather than a push into [] (which reserves 17 slots, about 180): a group
 * keyed finely holds one or two events for most of its keys.
 */
function appendColumns(cols: AggValue[][], vals: readonly AggValue[]): void {
  for (let c = 0; c < cols.length; c++) {
    const col = cols[c];
    if (col.length === 0) cols[c] = [vals[c]];
    else col.push(vals[c]);
  }
}

/** Insert an event's values at `pos` of a key's columns (appendColumns' rule for an empty column, never the shared NO_VALUES spliced into). */
function insertColumns(cols: AggValue[][], pos: number, vals: readonly AggValue[]): void {
  for (let c = 0; c < cols.length; c++) {
    const col = cols[c];
    if (col.length === 0) cols[c] = [vals[c]];
    else col.splice(pos, 0, vals[c]);
  }
}

/** What the keys of one layout share: the window kernels, and the columns of a key without events (copied). */
interface LayoutShared {
  readonly kernels: WindowKernels[];
  readonly emptyColumns: readonly AggValue[][];
}

const sharedByLayout = new WeakMap<TimelineLayout, LayoutShared>();

function sharedOf(layout: TimelineLayout): LayoutShared {
  let s = sharedByLayout.get(layout);
  if (s === undefined) {
    const emptyColumns: AggValue[][] = [];
    for (let c = 0; c < layout.columns; c++) emptyColumns.push(NO_VALUES);
    sharedByLayout.set(layout, (s = { kernels: layout.windows.map(windowKernels), emptyColumns }));
  }
  return s;
}

/**
 * The event history of one key of one group, sorted by (event time, apply sequence), with a
 * running aggregate per lookback window over (clock − W, clock], clock being the key's
 * largest applied event time.
 *
 * An event at or after the clock (the common case) reads the running aggregates and slides
 * them: O(1) amortised. An event behind the clock (out of order for its key) is answered by
 * scanning its own range in the buffer, so events with a later time that arrived earlier are
 * never counted (no future leakage); it is then inserted in order.
 */
export class KeyTimeline implements RawEvents {
  /**
   * Event times and apply sequences, [0, n) in use: typed arrays, so a long buffer lives off the
   * scavenged heap instead of being copied and promoted, array by array, as it grows.
   */
  times: Float64Array = new Float64Array(INITIAL_CAPACITY);
  seqs: Float64Array = new Float64Array(INITIAL_CAPACITY);
  n = 0;
  cols: AggValue[][];
  start = 0;
  clock = -Infinity;
  /** Largest event time evicted from the buffer: the answer for since-last when the buffer has none. */
  evictedUpTo = -Infinity;
  runs: WindowRun[];
  tiled: TiledRun[];
  /** Changed since the last checkpoint (not persisted). */
  dirty = false;
  /**
   * Apply sequences below this are in the store; later ones were applied since the last
   * checkpoint (sequences grow with every applied record, so no list of additions is kept).
   */
  persistedBelow = 0;
  /** Segments in the store (event-segments.ts), oldest first: each goes once its last event has left. */
  stored: StoredSegment[] = [];
  /** The owning task's batch number when it last used this timeline (cache eviction; not persisted). */
  lastBatch = 0;

  private readonly kernels: WindowKernels[];
  /** Per exact window: read tile → its aggregate (readAt only; not persisted, recomputed alike). */
  private readTiles: Array<ReadTileCache<Accumulator[]>> | undefined;
  /** Per exact window: super tile j (read tiles j·8 .. j·8 + 7) → the merge of their aggregates (readAt only). */
  private superTiles: Array<ReadTileCache<Accumulator[]>> | undefined;

  constructor(private readonly layout: TimelineLayout) {
    const shared = sharedOf(layout);
    this.kernels = shared.kernels;
    // A copy of exact length (a pushed-to [] reserves 17 slots): most keys of a fine-grained group hold an event or two.
    this.cols = shared.emptyColumns.slice();
    this.runs = layout.windows.map((w) => ({ lo: 0, accs: w.aggs.map((a) => slidingAcc(a.def)) }));
    this.tiled = layout.tiledWindows.length === 0 ? NO_TILED_RUNS : layout.tiledWindows.map((w) => new TiledRun(w));
  }

  /** Put (t, seq) at index pos of the times and sequences, growing them when full. */
  private insertAt(pos: number, t: number, seq: number): void {
    const n = this.n;
    if (n === this.times.length) {
      this.times = grown(this.times, n);
      this.seqs = grown(this.seqs, n);
    }
    if (pos < n) {
      this.times.copyWithin(pos + 1, pos, n);
      this.seqs.copyWithin(pos + 1, pos, n);
    }
    this.times[pos] = t;
    this.seqs[pos] = seq;
    this.n = n + 1;
  }

  range(lo: number, hi: number): readonly [number, number] {
    return [lowerBound(this.times, this.start, this.n, lo), upperBound(this.times, this.start, this.n, hi)];
  }

  private readTiled(t: number, out: AggValue[], includingCurrent: boolean): void {
    const specs = this.layout.tiledWindows;
    for (let w = 0; w < specs.length; w++) if (specs[w].includeCurrent === includingCurrent) this.tiled[w].read(t, this, out);
  }

  /** Emit this event's features into `out`, then apply the event. */
  apply(t: number, seq: number, vals: readonly AggValue[], out: AggValue[]): void {
    if (this.tiled.length > 0) this.readTiled(t, out, false);
    if (t >= this.clock) this.applyInOrder(t, seq, vals, out);
    else this.applyBehindClock(t, seq, vals, out);
    if (this.tiled.length > 0) {
      for (const run of this.tiled) run.add(t, seq, vals);
      this.readTiled(t, out, true);
    }
  }

  private applyInOrder(t: number, seq: number, vals: readonly AggValue[], out: AggValue[]): void {
    const { windows, sinceLast } = this.layout;
    const end = this.n;
    for (let w = 0; w < windows.length; w++) {
      const spec = windows[w];
      const run = this.runs[w];
      const kernel = this.kernels[w];
      const bound = t - spec.size;
      while (run.lo < end && this.times[run.lo] <= bound) {
        kernel.remove(run.accs, this.cols, run.lo, this.times, this.seqs);
        run.lo++;
      }
      if (!spec.includeCurrent) kernel.read(run.accs, out);
    }
    for (let k = 0; k < sinceLast.length; k++) out[sinceLast[k].out] = this.clock === -Infinity ? null : (t - this.clock) / sinceLast[k].unitMs;

    this.insertAt(end, t, seq);
    appendColumns(this.cols, vals);
    this.clock = t;
    for (let w = 0; w < windows.length; w++) {
      const spec = windows[w];
      const run = this.runs[w];
      this.kernels[w].add(run.accs, vals, end, this.times, this.seqs);
      if (spec.includeCurrent) this.kernels[w].read(run.accs, out);
    }
  }

  private applyBehindClock(t: number, seq: number, vals: readonly AggValue[], out: AggValue[]): void {
    const { windows, sinceLast } = this.layout;
    const pos = upperBound(this.times, this.start, this.n, t);
    for (let w = 0; w < windows.length; w++) {
      const spec = windows[w];
      if (!spec.includeCurrent) this.scan(spec, upperBound(this.times, this.start, pos, t - spec.size), pos, out);
    }
    for (const s of sinceLast) {
      const prev = pos > this.start ? this.times[pos - 1] : this.evictedUpTo;
      out[s.out] = prev === -Infinity ? null : (t - prev) / s.unitMs;
    }

    this.insertAt(pos, t, seq);
    insertColumns(this.cols, pos, vals);
    for (let w = 0; w < windows.length; w++) {
      const spec = windows[w];
      const run = this.runs[w];
      if (t > this.clock - spec.size) {
        // Inside the running range: order-insensitive aggregates just add; deque-based ones
        // (min, max, last) are rebuilt because their structure assumes in-order adds.
        for (let a = 0; a < spec.aggs.length; a++) {
          const slot = spec.aggs[a];
          if (slot.def.removal === 'invertible') run.accs[a].add(slot.column < 0 ? null : vals[slot.column], t, seq);
          else run.accs[a] = this.build(slot, run.lo, this.n);
        }
      } else run.lo++;
      if (spec.includeCurrent) this.scan(spec, upperBound(this.times, this.start, pos + 1, t - spec.size), pos + 1, out);
    }
  }

  /**
   * Buffer an event without computing anything: for timelines that are only read with
   * readAt (a regrouped group's), whose running aggregates stay empty.
   */
  insert(t: number, seq: number, vals: readonly AggValue[]): void {
    const pos = t >= this.clock ? this.n : upperBound(this.times, this.start, this.n, t);
    this.insertAt(pos, t, seq);
    insertColumns(this.cols, pos, vals);
    if (t > this.clock) this.clock = t;
    if (this.readTiles !== undefined) {
      const windows = this.layout.windows;
      for (let w = 0; w < windows.length; w++) {
        const k = Math.floor(t / readTileSize(windows[w].size));
        this.readTiles[w].invalidate(k);
        this.superTiles![w].invalidate(Math.floor(k / SUPER_TILE));
      }
    }
  }

  /**
   * Every exact window's aggregates over the buffered events with time in (qt − W, qt]. The
   * range is cut at read tiles of W / READ_TILES, fixed by the window alone: the events before
   * the first whole tile are added one by one in (time, sequence) order, then each whole tile's
   * aggregate (a fold of its events, cached until an insert lands in it) is merged, eight
   * aligned whole tiles at a time as one super tile (the merge of the eight, cached alike), then
   * the events after the last whole tile are added. That decomposition depends on qt, W and the
   * events held only, so the answer is the same bits whenever it is asked, and costs about
   * 2W / READ_TILES events plus about READ_TILES / 3 merges instead of a pass over the window.
   */
  readAt(qt: number, out: AggValue[]): void {
    const end = upperBound(this.times, this.start, this.n, qt);
    const windows = this.layout.windows;
    this.readTiles ??= windows.map(() => new ReadTileCache<Accumulator[]>(2 * READ_TILES));
    this.superTiles ??= windows.map(() => new ReadTileCache<Accumulator[]>((2 * READ_TILES) / SUPER_TILE));
    for (let w = 0; w < windows.length; w++) this.readWindow(w, qt - windows[w].size, qt, end, out);
  }

  private readWindow(w: number, lo: number, hi: number, end: number, out: AggValue[]): void {
    const spec = this.layout.windows[w];
    const h = readTileSize(spec.size);
    const from = upperBound(this.times, this.start, end, lo);
    const accs = readAccumulators(spec);
    const first = Math.floor(lo / h) + 1;
    const last = Math.floor(hi / h) - 1;
    const kernel = this.kernels[w];
    if (first > last) kernel.fold(accs, this.cols, from, end, this.times, this.seqs);
    else {
      const leftEnd = lowerBound(this.times, from, end, first * h);
      kernel.fold(accs, this.cols, from, leftEnd, this.times, this.seqs);
      for (let k = first; k <= last; ) {
        // Tile numbers are ≥ 0 (event times are), so k % SUPER_TILE is the position in its super tile.
        const whole = k % SUPER_TILE === 0 && k + SUPER_TILE - 1 <= last;
        const tile = whole ? this.readSuperTile(w, k / SUPER_TILE) : this.readTile(w, k);
        if (tile !== null) kernel.merge(accs, tile);
        k += whole ? SUPER_TILE : 1;
      }
      kernel.fold(accs, this.cols, lowerBound(this.times, leftEnd, end, (last + 1) * h), end, this.times, this.seqs);
    }
    kernel.read(accs, out);
  }

  /** The aggregate of the events in read tile k of window w, null when it has none. */
  private readTile(w: number, k: number): Accumulator[] | null {
    const cache = this.readTiles![w];
    const known = cache.get(k);
    if (known !== undefined) return known;
    const spec = this.layout.windows[w];
    const h = readTileSize(spec.size);
    const n = this.n;
    const i0 = lowerBound(this.times, this.start, n, k * h);
    const i1 = lowerBound(this.times, i0, n, (k + 1) * h);
    let tile: Accumulator[] | null = null;
    if (i1 > i0) {
      tile = spec.aggs.map((a) => a.def.create());
      this.kernels[w].fold(tile, this.cols, i0, i1, this.times, this.seqs);
    }
    cache.set(k, tile);
    return tile;
  }

  /** The merge of read tiles j·8 .. j·8 + 7 of window w, in tile order; null when they hold no event. */
  private readSuperTile(w: number, j: number): Accumulator[] | null {
    const cache = this.superTiles![w];
    const known = cache.get(j);
    if (known !== undefined) return known;
    let merged: Accumulator[] | null = null;
    for (let k = j * SUPER_TILE; k < (j + 1) * SUPER_TILE; k++) {
      const tile = this.readTile(w, k);
      if (tile === null) continue;
      merged ??= this.layout.windows[w].aggs.map((a) => a.def.create());
      this.kernels[w].merge(merged, tile);
    }
    cache.set(j, merged);
    return merged;
  }

  private build(slot: LookbackAggSlot, from: number, to: number): Accumulator {
    const acc = slidingAcc(slot.def);
    const col = slot.column < 0 ? null : this.cols[slot.column];
    for (let i = from; i < to; i++) acc.add(col === null ? null : col[i], this.times[i], this.seqs[i]);
    return acc;
  }

  private restore(slot: LookbackAggSlot, lo: number, head: ByteReader): Accumulator {
    const def = slot.def;
    if (def.rebuildable) return this.build(slot, lo, this.n);
    if (def.decodeSliding === undefined) return def.decode(head);
    return def.decodeSliding(head, slot.column < 0 ? [] : this.cols[slot.column].slice(lo));
  }

  private scan(spec: LookbackWindowSpec, from: number, to: number, out: AggValue[]): void {
    for (const slot of spec.aggs) out[slot.out] = this.build(slot, from, to).result();
  }

  /**
   * Forget what no future query can reach, given that only events at or after `acceptFrom`
   * (stream time − grace) are still accepted: raw events at or before acceptFrom − the longest
   * raw retention, and tiles before the earliest reachable sawtooth start. Never changes an output.
   */
  trim(acceptFrom: number): void {
    for (let r = 0; r < this.tiled.length; r++) this.tiled[r].evict(acceptFrom);
    const horizon = acceptFrom - this.layout.maxWindow;
    const n = this.n;
    const from = this.start;
    while (this.start < n && this.times[this.start] <= horizon) {
      this.evictedUpTo = this.times[this.start];
      this.start++;
    }
    // Most events move nothing out of the longest window: the runs need no look then.
    if (this.start !== from) for (let r = 0; r < this.runs.length; r++) if (this.runs[r].lo < this.start) this.runs[r].lo = this.start;
    if (this.readTiles !== undefined) this.pruneReadTiles();
    // Half the buffer expired: copying the rest costs less than what left, so compaction stays
    // linear overall. A low floor matters with many small keys (flights by origin × 10: 2.9M
    // buffered events at a floor of 256, for 0.24M inside a window).
    if (this.start > 16 && this.start * 2 > n) this.compact();
  }

  /**
   * Whether no event this timeline holds can be in any exact window, or in the current tile of
   * any tiled window, of a later event, when every later event has a time of at least
   * `acceptFrom` (the task's stream time minus grace: a record behind it is late and touches no
   * state).
   */
  expiredBy(acceptFrom: number): boolean {
    return this.clock !== -Infinity && this.clock <= acceptFrom - this.layout.maxWindow;
  }

  /**
   * Drop every held event, removing each from the running aggregates exactly as the next
   * applied event would (per window, oldest first, through the same kernel): for an expired
   * timeline (expiredBy) the state the next event meets is then bit for bit the state it would
   * have met, while the events' storage can go now. Tiled windows drop the tiles no event from
   * `acceptFrom` on can read, as their next event's trim would. Clocks stay: time since the
   * last event still reads them. False when there was nothing to free.
   */
  expireAll(acceptFrom: number): boolean {
    let tiles = 0;
    for (const run of this.tiled) {
      tiles += run.starts.length;
      run.evict(acceptFrom);
      tiles -= run.starts.length;
    }
    if (tiles === 0 && this.n === this.start && this.stored.length === 0) return false;
    const windows = this.layout.windows;
    for (let w = 0; w < windows.length; w++) {
      const run = this.runs[w];
      const kernel = this.kernels[w];
      while (run.lo < this.n) {
        kernel.remove(run.accs, this.cols, run.lo, this.times, this.seqs);
        run.lo++;
      }
    }
    if (this.start < this.n) this.evictedUpTo = this.times[this.n - 1];
    this.start = this.n;
    this.readTiles = undefined;
    this.superTiles = undefined;
    this.compact();
    return true;
  }

  /**
   * Whether this timeline, emptied by expireAll, answers every later event as a timeline never
   * used does: nothing reads its clocks (no time-since-last feature) and its running
   * aggregates encode as fresh ones do (removals can leave round-off behind, e.g. in a sum).
   * Its stored state can then be deleted instead of kept.
   */
  expiredLikeFresh(): boolean {
    if (this.layout.sinceLast.length > 0 || this.size > 0) return false;
    const head = (tl: KeyTimeline): Uint8Array => {
      const w = new ByteWriter(64);
      tl.encodeHead(w);
      // Past the two clocks (16 bytes), which only time since the last event reads.
      return w.bytes().slice(16);
    };
    const mine = head(this);
    const fresh = head(new KeyTimeline(this.layout));
    return mine.length === fresh.length && mine.every((b, i) => b === fresh[i]);
  }

  /** Read tiles that begin before the oldest held event can never be whole in a later read. */
  private pruneReadTiles(): void {
    const oldest = this.start < this.n ? this.times[this.start] : Infinity;
    const windows = this.layout.windows;
    for (let w = 0; w < windows.length; w++) {
      const cache = this.readTiles![w];
      if (cache.size <= 2 * READ_TILES || oldest === Infinity) continue;
      // Tiles that begin before the oldest event: k · h < oldest.
      cache.dropBelow(Math.ceil(oldest / readTileSize(windows[w].size)));
      this.superTiles![w].dropBelow(Math.ceil(oldest / (readTileSize(windows[w].size) * SUPER_TILE)));
    }
  }

  private compact(): void {
    const s = this.start;
    const n = this.n - s;
    // Three quarters of the room would stay free: a buffer that shrank for good gives memory back.
    const capacity = this.times.length > 4 * INITIAL_CAPACITY && n * 4 < this.times.length ? Math.max(INITIAL_CAPACITY, n * 2) : this.times.length;
    this.times = moveToFront(this.times, s, this.n, capacity);
    this.seqs = moveToFront(this.seqs, s, this.n, capacity);
    this.n = n;
    this.cols = this.cols.map((c) => c.slice(s));
    for (const run of this.runs) run.lo -= s;
    this.start = 0;
  }

  get size(): number {
    return this.n - this.start;
  }

  /** Whether it holds events, in memory or still in the store, or tiles (a sweep may have something to free). */
  get holdsEvents(): boolean {
    return this.n > this.start || this.stored.length > 0 || this.tiled.some((run) => run.starts.length > 0);
  }

  /**
   * Hand every change since the last call to the store: `del` for each stored segment whose
   * events have all left the buffer, then `put` of one segment with the events applied since
   * (none when there are none), and mark them written: from now on sequences below `seqBound`
   * count as stored.
   */
  drainChanges(seqBound: number, w: ByteWriter, put: (t: number, seq: number, value: Uint8Array) => void, del: (t: number, seq: number) => void): void {
    const first = this.start;
    const held = first < this.n;
    if (this.stored.length > 0) {
      const keep: StoredSegment[] = [];
      for (const seg of this.stored) {
        if (!held || eventBefore(seg.lastT, seg.lastSeq, this.times[first], this.seqs[first])) del(seg.t, seg.seq);
        else keep.push(seg);
      }
      this.stored = keep;
    }
    const fresh: number[] = [];
    for (let i = first; i < this.n; i++) if (this.seqs[i] >= this.persistedBelow) fresh.push(i);
    if (fresh.length > 0) {
      encodeSegment(w, this.times, this.seqs, this.cols, fresh);
      const a = fresh[0];
      const b = fresh[fresh.length - 1];
      put(this.times[a], this.seqs[a], w.bytes());
      this.stored.push({ t: this.times[a], seq: this.seqs[a], lastT: this.times[b], lastSeq: this.seqs[b] });
    }
    this.persistedBelow = seqBound;
  }

  /**
   * Everything but the buffered events: clocks, the first retained event (so stale event
   * entries a restore could leave behind are recognised), running accumulators and tiles.
   */
  encodeHead(w: ByteWriter): void {
    w.f64(this.clock);
    w.f64(this.evictedUpTo);
    const n = this.n - this.start;
    w.uint(n);
    if (n > 0) {
      w.f64(this.times[this.start]);
      w.f64(this.seqs[this.start]);
    }
    const windows = this.layout.windows;
    for (let r = 0; r < this.runs.length; r++) {
      const run = this.runs[r];
      w.uint(run.lo - this.start);
      for (let a = 0; a < run.accs.length; a++) if (!windows[r].aggs[a].def.rebuildable) run.accs[a].encode(w);
    }
    for (const run of this.tiled) run.encode(w);
  }

  /**
   * What a stored head says without decoding the rest: the timeline's clock, and how many events
   * it holds (encodeHead writes them first, the time of the last event it left between them).
   */
  static headSummary(head: Uint8Array): { readonly clock: number; readonly held: number } {
    const r = new ByteReader(head);
    const clock = r.f64();
    r.f64();
    return { clock, held: r.uint() };
  }

  /**
   * Rebuild from a head and the stored segments (name (time, sequence) and value each, any
   * order). Events before the head's first retained one left the window; a segment holding
   * only such events is a leftover of a missed deletion and is skipped (its name returned in
   * `stale` for the caller to delete). Any other disagreement throws CorruptTimelineError.
   */
  static fromParts(layout: TimelineLayout, head: ByteReader, segments: ReadonlyArray<readonly [number, number, ByteReader]>, stale: Array<readonly [number, number]> = []): KeyTimeline {
    const k = new KeyTimeline(layout);
    k.clock = head.f64();
    k.evictedUpTo = head.f64();
    const n = head.uint();
    const t0 = n > 0 ? head.f64() : Infinity;
    const s0 = n > 0 ? head.f64() : Infinity;
    let decoded: SegmentEvent[] = [];
    for (let i = 0; i < segments.length; i++) {
      try {
        decodeSegment(segments[i][2], layout.columns, i, decoded);
      } catch (e) {
        throw new CorruptTimelineError(`segment ${i}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    decoded = mergeSegmentEvents(decoded);
    const lastOf = segments.map(() => -1);
    decoded.forEach((e, i) => (lastOf[e.segment] = i));
    for (let i = 0; i < segments.length; i++) {
      const last = lastOf[i] < 0 ? undefined : decoded[lastOf[i]];
      if (last === undefined || eventBefore(last.t, last.seq, t0, s0)) stale.push([segments[i][0], segments[i][1]]);
      else k.stored.push({ t: segments[i][0], seq: segments[i][1], lastT: last.t, lastSeq: last.seq });
    }
    let i = 0;
    while (i < decoded.length && eventBefore(decoded[i].t, decoded[i].seq, t0, s0)) i++;
    if (decoded.length - i !== n) throw new CorruptTimelineError(`timeline holds ${decoded.length - i} events, its head says ${n}`);
    if (n > 0 && (decoded[i].t !== t0 || decoded[i].seq !== s0)) throw new CorruptTimelineError(`timeline's first held event is (${decoded[i].t}, ${decoded[i].seq}), its head says (${t0}, ${s0})`);
    for (; i < decoded.length; i++) {
      const e = decoded[i];
      k.insertAt(k.n, e.t, e.seq);
      appendColumns(k.cols, e.values);
    }
    k.runs = layout.windows.map((w) => {
      const lo = head.uint();
      if (lo > k.n) throw new CorruptTimelineError(`running window starts at event ${lo} of ${k.n}`);
      return { lo, accs: w.aggs.map((a) => k.restore(a, lo, head)) };
    });
    k.tiled = layout.tiledWindows.map((w) => TiledRun.decode(w, head));
    return k;
  }
}
