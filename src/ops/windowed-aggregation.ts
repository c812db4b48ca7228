import type { WindowShape } from '../dsl/nodes.js';
import { ByteReader, ByteWriter } from '../state/codec.js';
import { validateWindowShape, windowsFor } from '../time/window-assigner.js';
import type { Accumulator, AggValue, AggregationDef } from './aggregation.js';
import { evictDownTo } from '../state/cache-bound.js';

/**
 * Tumbling, hopping, calendar and session windows over one group (key space).
 *
 * Time rules (DESIGN.md "Time semantics"):
 * - A window `[start, end)` is *closed* once stream time ≥ end + grace. Closed windows never
 *   change again, whether or not `advance` has removed them yet, so outputs do not depend on
 *   when the engine calls `advance`.
 * - An event is *late* when every window it belongs to is closed: `apply` returns false and
 *   changes nothing; the engine applies the late policy. A hopping event that is late for some
 *   of its windows only updates the open ones.
 * - Session windows (gap g): an event at t has the window [t, t + g); it joins every open
 *   session of its key whose window it overlaps. A session with first event s and last event
 *   l has the window [s, l + g), so the event joins it when s − g < t < l + g (strict: an
 *   event exactly g after the last one starts a new session, which keeps the result
 *   independent of grace). Joined sessions are merged. The output row of a session has
 *   windowStart = first event time, windowEnd = last event time + gap; it closes at
 *   last + gap + grace. An event is late when its own window is closed
 *   (t + gap + grace ≤ stream time). Sessions already closed are ignored by later events: an
 *   on-time event that falls into the gap after a closed session starts a new session rather
 *   than reopen one that was emitted as final.
 *
 * Fold order (rule 5, fixed arithmetic): each window folds its events in processing order.
 * A session merge folds the joined sessions into the one with the smallest start, in
 * ascending start order (`Accumulator.merge`), then adds the event. In-order events that just
 * extend one session are a plain fold in processing order.
 *
 * Emission: 'final' emits one row per window from `advance`, when it closes; 'update' emits a
 * row from `apply` for every window the event changed (ascending start) and nothing at close.
 * `advance` emits in canonical order (windowEnd, windowStart, key) and, since a window
 * closed by one call ends before any window closed by a later call, the concatenation of all
 * `advance` outputs is in that order too, however the calls are spaced.
 *
 * End of input (a replay): `openRows` reports the windows still open as rows with final: false,
 * without closing them. Closing them would make the state disagree with a run that goes on
 * (live after a bootstrap), which emits them as final once stream time passes their close.
 *
 * State is persisted per key through `dirtyKeys` / `persistKey` / `loadKey`, with the key's
 * earliest close time (end + grace of its first window to close) beside it for the owner's close
 * index. Memory holds the keys the owner loaded (`cached`): those its batches touch and those
 * whose windows close within them, at most a bound of them once they are stored (`evict`), so
 * `advance` finds in memory every window it closes. Closed windows not yet removed by `advance`
 * are part of the state and are emitted by the first `advance` after a restart.
 */

export interface WindowedAggSlot {
  readonly def: AggregationDef;
  /** Index into the per-event value array, or −1 for count(). */
  readonly column: number;
}

export interface WindowedAggregationSpec {
  readonly window: WindowShape;
  readonly emit: 'final' | 'update';
  /** Milliseconds a window stays open after its end. */
  readonly grace: number;
  readonly aggs: ReadonlyArray<WindowedAggSlot>;
}

export interface WindowRow {
  key: string;
  windowStart: number;
  windowEnd: number;
  /** One per aggregation, in spec order. */
  values: AggValue[];
  /** True for the row emitted at close ('final' emission), false for 'update' rows. */
  final: boolean;
}

/** State encoding version; bump when the layout below changes. */
const FORMAT = 1;

class Win {
  /** Bumped whenever the window's live heap entry is replaced. */
  ver = 0;
  /** The owner's batch number when an event was last added to it, or it was loaded (evict). */
  used = 0;
  dead = false;
  /** (end, start) of the window's live heap entry: always ≤ the window's own (end, start). */
  hkEnd: number;
  hkStart: number;
  constructor(
    readonly key: string,
    public start: number,
    /** Fixed windows: the end; sessions: the last event time. */
    public last: number,
    public end: number,
    readonly accs: Accumulator[],
  ) {
    this.hkEnd = end;
    this.hkStart = start;
  }
}

interface HeapEntry {
  end: number;
  start: number;
  key: string;
  win: Win;
  ver: number;
}

function entryLess(a: HeapEntry, b: HeapEntry): boolean {
  if (a.end !== b.end) return a.end < b.end;
  if (a.start !== b.start) return a.start < b.start;
  return a.key < b.key;
}

/** Binary min-heap of windows ordered by (end, start, key). */
class WindowHeap {
  private readonly a: HeapEntry[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): HeapEntry | undefined {
    return this.a[0];
  }

  push(e: HeapEntry): void {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!entryLess(e, a[p])) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = e;
  }

  pop(): HeapEntry | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    const n = a.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && entryLess(a[r], a[l]) ? r : l;
      if (!entryLess(a[c], last)) break;
      a[i] = a[c];
      i = c;
    }
    a[i] = last;
    return top;
  }

  clear(): void {
    this.a.length = 0;
  }
}

/** Windows of one key, sorted by (start, end). */
type KeyWins = Win[];

function winBefore(a: Win, start: number, end: number): boolean {
  return a.start < start || (a.start === start && a.end < end);
}

/** First index whose window is not before (start, end). */
function lowerBound(wins: KeyWins, start: number, end: number): number {
  let lo = 0;
  let hi = wins.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (winBefore(wins[mid], start, end)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(wins: KeyWins, w: Win): void {
  const i = lowerBound(wins, w.start, w.end);
  if (i === wins.length) wins.push(w);
  else wins.splice(i, 0, w);
}

function removeWin(wins: KeyWins, w: Win): void {
  // Closing windows are usually the oldest of their key: check the front first.
  const i = wins[0] === w ? 0 : wins.indexOf(w);
  if (i === 0) wins.shift();
  else if (i > 0) wins.splice(i, 1);
}

export class WindowedAggregation {
  readonly window: WindowShape;
  readonly emit: 'final' | 'update';
  readonly grace: number;
  readonly aggs: ReadonlyArray<WindowedAggSlot>;

  private readonly keys = new Map<string, KeyWins>();
  private readonly heap = new WindowHeap();
  private readonly dirty = new Set<string>();
  /** Per key in memory or changed: the close time its stored state was indexed under (persistKey), when it has one. */
  private readonly storedClose = new Map<string, number>();
  /** The owner's current batch number (use). */
  private batch = 0;
  private readonly gap: number;
  private open = 0;

  constructor(spec: WindowedAggregationSpec) {
    validateWindowShape(spec.window);
    if (spec.emit !== 'final' && spec.emit !== 'update') throw new Error(`windowed aggregation: emit must be 'final' or 'update' (got ${String(spec.emit)})`);
    if (typeof spec.grace !== 'number' || !Number.isFinite(spec.grace) || spec.grace < 0) {
      throw new Error(`windowed aggregation: grace must be a finite number of ms ≥ 0 (got ${String(spec.grace)})`);
    }
    if (spec.aggs.length === 0) throw new Error('windowed aggregation: needs at least one aggregation');
    this.window = spec.window;
    this.emit = spec.emit;
    this.grace = spec.grace;
    this.aggs = spec.aggs;
    this.gap = spec.window.kind === 'session' ? spec.window.gap : 0;
  }

  /** Number of windows held (open, or closed and not yet removed by `advance`). */
  get openWindows(): number {
    return this.open;
  }

  /** Number of keys holding at least one window. */
  get keyCount(): number {
    return this.keys.size;
  }

  /**
   * Apply one event of `key` at event time t. `streamTime` is the task's stream time
   * including this event. Returns false, changing nothing, when the event is late (every
   * window it belongs to is closed). With 'update' emission pushes one row per changed window.
   */
  apply(key: string, t: number, seq: number, vals: readonly AggValue[], streamTime: number, out: WindowRow[]): boolean {
    if (!Number.isFinite(t)) throw new Error(`windowed aggregation: event time must be a finite number of ms (got ${String(t)})`);
    const st = streamTime > t ? streamTime : t;
    if (this.window.kind === 'session') return this.applySession(key, t, seq, vals, st, out);

    const grace = this.grace;
    const ws = windowsFor(this.window, t);
    let wins: KeyWins | undefined;
    let applied = false;
    for (let i = 0; i < ws.length; i++) {
      const [start, end] = ws[i];
      if (end + grace <= st) continue; // closed
      if (wins === undefined) {
        wins = this.keys.get(key);
        if (wins === undefined) {
          wins = [];
          this.keys.set(key, wins);
        }
      }
      const at = lowerBound(wins, start, end);
      let w = at < wins.length ? wins[at] : undefined;
      if (w === undefined || w.start !== start || w.end !== end) {
        w = new Win(key, start, end, end, this.aggs.map((a) => a.def.create()));
        if (at === wins.length) wins.push(w);
        else wins.splice(at, 0, w);
        this.heap.push({ end, start, key, win: w, ver: 0 });
        this.open++;
      }
      this.addEvent(w, t, seq, vals);
      applied = true;
      if (this.emit === 'update') out.push(this.row(w, false));
    }
    if (applied) this.dirty.add(key);
    return applied;
  }

  private applySession(key: string, t: number, seq: number, vals: readonly AggValue[], st: number, out: WindowRow[]): boolean {
    const gap = this.gap;
    const grace = this.grace;
    if (t + gap + grace <= st) return false; // the event's own window [t, t + gap) is closed

    let wins = this.keys.get(key);
    if (wins === undefined) {
      wins = [];
      this.keys.set(key, wins);
    }
    // Open sessions whose window overlaps [t, t + gap), ascending by start.
    let base: Win | undefined;
    let others: Win[] | undefined;
    for (let i = 0; i < wins.length; i++) {
      const w = wins[i];
      if (w.start - gap >= t) break; // sorted by start: no later session can overlap
      if (w.end + grace <= st) continue; // closed: never reopened
      if (t < w.last + gap) {
        if (base === undefined) base = w;
        else (others ??= []).push(w);
      }
    }

    let w: Win;
    if (base === undefined) {
      w = new Win(key, t, t, t + gap, this.aggs.map((a) => a.def.create()));
      insertSorted(wins, w);
      this.heap.push({ end: w.end, start: w.start, key, win: w, ver: 0 });
      this.open++;
    } else {
      w = base;
      let start = w.start;
      let last = w.last;
      if (others !== undefined) {
        for (const o of others) {
          for (let a = 0; a < w.accs.length; a++) w.accs[a].merge(o.accs[a]);
          if (o.last > last) last = o.last;
          o.dead = true; // its heap entry is now stale
          removeWin(wins, o);
          this.open--;
        }
      }
      if (t < start) start = t;
      if (t > last) last = t;
      if (start !== w.start || last !== w.last) {
        const end = last + gap;
        const moved = start !== w.start;
        if (moved) removeWin(wins, w);
        w.start = start;
        w.last = last;
        w.end = end;
        if (moved) insertSorted(wins, w);
        // The heap entry may stay while it sorts no later than the window; advance re-files it.
        if (end < w.hkEnd || (end === w.hkEnd && start < w.hkStart)) {
          w.ver++;
          w.hkEnd = end;
          w.hkStart = start;
          this.heap.push({ end, start, key, win: w, ver: w.ver });
        }
      }
    }
    this.addEvent(w, t, seq, vals);
    this.dirty.add(key);
    if (this.emit === 'update') out.push(this.row(w, false));
    return true;
  }

  private addEvent(w: Win, t: number, seq: number, vals: readonly AggValue[]): void {
    w.used = this.batch;
    const aggs = this.aggs;
    for (let a = 0; a < aggs.length; a++) {
      const c = aggs[a].column;
      w.accs[a].add(c < 0 ? null : vals[c], t, seq);
    }
  }

  private row(w: Win, final: boolean): WindowRow {
    const values: AggValue[] = new Array<AggValue>(w.accs.length);
    for (let a = 0; a < w.accs.length; a++) values[a] = w.accs[a].result();
    return { key: w.key, windowStart: w.start, windowEnd: w.end, values, final };
  }

  /**
   * Close every window with end + grace ≤ streamTime and drop its state; with 'final'
   * emission push its row (final: true). Order: windowEnd, windowStart, key.
   * O(log n) per closed window.
   */
  advance(streamTime: number, out: WindowRow[]): void {
    const grace = this.grace;
    const heap = this.heap;
    for (;;) {
      const top = heap.peek();
      if (top === undefined || top.end + grace > streamTime) return;
      heap.pop();
      const w = top.win;
      if (w.dead || top.ver !== w.ver) continue; // merged away, or re-filed
      if (top.end !== w.end || top.start !== w.start) {
        // A session that grew since it was filed: re-file it under its real position.
        w.hkEnd = w.end;
        w.hkStart = w.start;
        heap.push({ end: w.end, start: w.start, key: w.key, win: w, ver: w.ver });
        continue;
      }
      w.dead = true;
      this.open--;
      const wins = this.keys.get(w.key);
      if (wins !== undefined) {
        removeWin(wins, w);
        if (wins.length === 0) this.keys.delete(w.key);
      }
      this.dirty.add(w.key);
      if (this.emit === 'final') out.push(this.row(w, true));
    }
  }

  /**
   * With 'final' emission, push a row (final: false) for every window still held, in canonical
   * order (windowEnd, windowStart, key), leaving them open. Call `advance` first, so that the
   * rows are exactly the windows not yet closed. 'update' emission already pushed every change.
   * Returns the number of rows pushed.
   */
  openRows(out: WindowRow[]): number {
    if (this.emit !== 'final') return 0;
    const open: Win[] = [];
    for (const wins of this.keys.values()) open.push(...wins);
    open.sort((a, b) => a.end - b.end || a.start - b.start || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const w of open) out.push(this.row(w, false));
    return open.length;
  }

  /** Keys whose state changed since the last `clearDirty`, in first-touched order. */
  dirtyKeys(): string[] {
    return [...this.dirty];
  }

  clearDirty(): void {
    this.dirty.clear();
  }

  /**
   * Whether memory holds this key's truth: its windows, or a change not yet persisted (a key
   * whose windows all closed since the last checkpoint). Any other key's state is in the store,
   * or nowhere.
   */
  cached(key: string): boolean {
    return this.keys.has(key) || this.dirty.has(key);
  }

  /** The owner's batch number from now on: keys touched or loaded are counted as used in it (evict). */
  use(batch: number): void {
    this.batch = batch;
  }

  /** Mark every key in memory changed, so the next persist writes each with its close time (a store from before the close index). */
  markAllDirty(): void {
    for (const key of this.keys.keys()) this.dirty.add(key);
  }

  /**
   * The key's state to store (null: delete it), and its close index change: the close time its
   * stored state was indexed under, to remove, and the one to index it under now, to add (both
   * undefined when unchanged). Records the new one as stored.
   */
  persistKey(key: string): { readonly bytes: Uint8Array | null; readonly removeClose: number | undefined; readonly addClose: number | undefined } {
    const wins = this.keys.get(key);
    const bytes = this.encodeKey(key);
    const before = this.storedClose.get(key);
    const now = bytes === null || wins === undefined ? undefined : this.closeOf(wins);
    if (now === undefined) this.storedClose.delete(key);
    else this.storedClose.set(key, now);
    return before === now ? { bytes, removeClose: undefined, addClose: undefined } : { bytes, removeClose: before, addClose: now };
  }

  /** Whether the current batch added to or loaded one of these windows (evict keeps such keys last). */
  private usedNow(wins: KeyWins): boolean {
    for (const w of wins) if (w.used === this.batch) return true;
    return false;
  }

  /** The earliest close time (end + grace) among a key's windows. */
  private closeOf(wins: KeyWins): number {
    let close = Infinity;
    for (const w of wins) if (w.end + this.grace < close) close = w.end + this.grace;
    return close;
  }

  /**
   * Drop clean keys from memory down to 80 % of `bound` when more than `bound` are held: first
   * those the current batch did not use, in load order, then those it did (evictDownTo, as
   * lookback keys go). Their state is in the store, indexed by close time,
   * and comes back through loadKey when a batch touches them or closes one of their windows.
   * Returns the keys evicted and the earliest close time among them (Infinity when none).
   */
  evict(bound: number): { readonly evicted: number; readonly earliestClose: number } {
    let earliestClose = Infinity;
    const evicted = evictDownTo(
      this.keys,
      bound,
      (wins) => !this.dirty.has(wins[0].key),
      (wins) => this.usedNow(wins),
      (key, wins) => {
        earliestClose = Math.min(earliestClose, this.closeOf(wins));
        for (const w of wins) w.dead = true;
        this.open -= wins.length;
        this.storedClose.delete(key);
      },
    );
    if (evicted === 0) return { evicted, earliestClose };
    // The heap holds entries of the evicted windows: rebuilt from the windows left.
    this.heap.clear();
    for (const wins of this.keys.values()) for (const w of wins) this.heap.push({ end: w.hkEnd, start: w.hkStart, key: w.key, win: w, ver: w.ver });
    return { evicted, earliestClose };
  }

  /** The key's state, or null when it holds no window (the store should delete the key). */
  encodeKey(key: string): Uint8Array | null {
    const wins = this.keys.get(key);
    if (wins === undefined || wins.length === 0) return null;
    const w = new ByteWriter(64);
    w.uint(FORMAT);
    w.uint(wins.length);
    for (const win of wins) {
      w.f64(win.start);
      w.f64(win.last);
      for (const acc of win.accs) acc.encode(w);
    }
    return w.bytes();
  }

  /**
   * Restore one key's state written by `encodeKey`, read from the store. `indexed`: the store
   * holds its close index entry (persistKey), which a store from before the index does not.
   */
  loadKey(key: string, bytes: Uint8Array, indexed = true): void {
    const r = new ByteReader(bytes);
    const format = r.uint();
    if (format !== FORMAT) throw new Error(`windowed aggregation: state of key ${JSON.stringify(key)} has format ${format}, expected ${FORMAT}`);
    const n = r.uint();
    const wins: KeyWins = [];
    for (let i = 0; i < n; i++) {
      const start = r.f64();
      const last = r.f64();
      const end = this.window.kind === 'session' ? last + this.gap : last;
      const accs = this.aggs.map((a) => a.def.decode(r));
      wins.push(new Win(key, start, last, end, accs));
    }
    if (!r.done) throw new Error(`windowed aggregation: trailing bytes in the state of key ${JSON.stringify(key)}`);

    const previous = this.keys.get(key);
    if (previous !== undefined) {
      for (const w of previous) w.dead = true;
      this.open -= previous.length;
      this.keys.delete(key);
    }
    if (wins.length === 0) return;
    this.keys.set(key, wins);
    for (const w of wins) w.used = this.batch;
    if (indexed) this.storedClose.set(key, this.closeOf(wins));
    for (const w of wins) this.heap.push({ end: w.end, start: w.start, key, win: w, ver: 0 });
    this.open += wins.length;
  }
}
