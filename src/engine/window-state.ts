import { WindowedAggregation } from '../ops/windowed-aggregation.js';
import type { BatchOp, StateBackend } from '../state/state-backend.js';
import { parseWindowCloseKey, windowCloseAfter, windowCloseKey, windowClosePrefix, windowKey, windowPrefix } from '../state/task-state-keys.js';
import type { StreamProgram, Program } from './program.js';
import { StateFormatError } from './state-format-error.js';
import { errorText } from './user-functions.js';

/** What a batch needs loaded: an event's time, and the window keys of its visits. */
export interface WindowWork {
  readonly t: number;
  readonly keep: boolean;
  readonly error?: string;
  readonly source: { readonly table?: unknown };
  readonly visits: ReadonlyArray<{ readonly stream: StreamProgram; readonly keys: readonly string[] }>;
}

/** The value of a close index entry: not empty, which a changelog could take for a deletion. */
const INDEX_ENTRY = Uint8Array.of(1);

/**
 * A task's window operators (tumbling, hopping, session, calendar) and their state in the
 * store. Memory holds at most the cache bound of keys per operator once their state is stored
 * (`evict`); a batch reads the keys it touches and, through the close index
 * (`p<n>/wc/<op>/<close>/<key>`: each key under the earliest end + grace of its windows, written
 * with its state), the keys whose windows close by the stream time it can reach, so every window
 * `advance` closes is in memory and rows come out as from a task that keeps every key.
 */
export class WindowState {
  /** The operators by name, in the program's order. */
  readonly ops: ReadonlyMap<string, WindowedAggregation>;
  /**
   * Per operator: every key the store holds that memory does not closes after this time (the
   * close index was read up to it; -Infinity: not read yet, Infinity: every key is in memory).
   */
  private readonly covered = new Map<string, number>();

  constructor(
    program: Program,
    private readonly partition: number,
    private readonly backend: StateBackend,
  ) {
    this.ops = new Map(program.windowOps.map((w) => [w.name, new WindowedAggregation({ window: w.node.window, emit: w.node.emit, grace: w.node.grace, aggs: w.aggs })]));
    for (const name of this.ops.keys()) this.covered.set(name, -Infinity);
  }

  get size(): number {
    return this.ops.size;
  }

  /** What the checkpoint record names as indexed (TaskMeta.windowIndexes). */
  get names(): string[] {
    return [...this.ops.keys()];
  }

  /** A task without stored state: nothing to read back until keys are evicted. */
  fresh(): void {
    for (const name of this.ops.keys()) this.covered.set(name, Infinity);
  }

  /**
   * A stored task opens: operators its checkpoint record names as indexed read nothing now. A
   * store from before the index (or one a build without it wrote to) has all its keys read, as
   * they always were then, marked changed so the next checkpoint indexes them; returns the
   * entries an earlier index left, for that checkpoint to delete first.
   */
  async restore(indexed: readonly string[] | undefined): Promise<string[]> {
    const done = new Set(indexed ?? []);
    const stale: string[] = [];
    for (const [name, op] of this.ops) {
      if (done.has(name)) continue;
      const prefix = windowPrefix(this.partition, name);
      for (const [k, v] of await this.backend.scan(prefix)) op.loadKey(k.slice(prefix.length), v, false);
      op.markAllDirty();
      this.covered.set(name, Infinity);
      for (const k of await this.backend.keysBetween(windowClosePrefix(this.partition, name), windowCloseAfter(this.partition, name, Infinity))) stale.push(k);
    }
    return stale;
  }

  /**
   * The keys a batch needs in memory: those it touches, and those with a window that closes by
   * the stream time it can reach (its largest event time, from `streamTime`). One getMany per
   * operator, and a range read of the close index past what earlier batches read.
   */
  async load(ready: readonly WindowWork[], streamTime: number, batchNo: number): Promise<void> {
    for (const op of this.ops.values()) op.use(batchNo);
    // Every stored key is in memory (nothing evicted since a fresh start or a full read): a key
    // memory does not hold is new, and nothing closes that memory does not hold.
    if (this.allInMemory()) return;
    let reach = streamTime;
    // Keys touched and not in memory, per operator (most batches: none).
    let missing: Map<string, string[]> | undefined;
    for (let r = 0; r < ready.length; r++) {
      const p = ready[r];
      if (p.error !== undefined || p.source.table !== undefined) continue;
      if (p.t > reach) reach = p.t;
      if (!p.keep) continue;
      for (const visit of p.visits) {
        const groups = visit.stream.groups;
        for (let gi = 0; gi < groups.length; gi++) {
          for (const w of groups[gi].windowOps) {
            const key = visit.keys[gi];
            if (this.ops.get(w.name)!.cached(key)) continue;
            missing ??= new Map();
            const keys = missing.get(w.name);
            if (keys === undefined) missing.set(w.name, [key]);
            else keys.push(key);
          }
        }
      }
    }
    for (const [name, op] of this.ops) {
      const covered = this.covered.get(name)!;
      if (covered === Infinity) continue;
      const wanted = missing?.get(name) ?? [];
      if (reach > covered) {
        const from = covered === -Infinity ? windowClosePrefix(this.partition, name) : windowCloseAfter(this.partition, name, covered);
        wanted.push(...(await this.indexedNotHeld(name, op, from, windowCloseAfter(this.partition, name, reach))));
        this.covered.set(name, reach);
      }
      if (wanted.length > 0) await this.read(name, op, [...new Set(wanted)]);
    }
  }

  private allInMemory(): boolean {
    for (const c of this.covered.values()) if (c !== Infinity) return false;
    return true;
  }

  /** Every key the store holds, into memory (the end of a replay's input: open windows become rows). */
  async loadAll(): Promise<void> {
    for (const [name, op] of this.ops) {
      if (this.covered.get(name) === Infinity) continue;
      await this.read(name, op, await this.indexedNotHeld(name, op, windowClosePrefix(this.partition, name), windowCloseAfter(this.partition, name, Infinity)));
      this.covered.set(name, Infinity);
    }
  }

  /** The keys of the close index entries from `gte` to `lt` that memory does not hold. */
  private async indexedNotHeld(name: string, op: WindowedAggregation, gte: string, lt: string): Promise<string[]> {
    const keys: string[] = [];
    for (const k of await this.backend.keysBetween(gte, lt)) {
      const key = parseWindowCloseKey(this.partition, name, k);
      if (!op.cached(key)) keys.push(key);
    }
    return keys;
  }

  private async read(name: string, op: WindowedAggregation, keys: readonly string[]): Promise<void> {
    const stored = await this.backend.getMany(keys.map((key) => windowKey(this.partition, name, key)));
    for (let i = 0; i < keys.length; i++) {
      const bytes = stored[i];
      if (bytes === undefined) continue;
      try {
        op.loadKey(keys[i], bytes);
      } catch (e) {
        throw new StateFormatError(this.partition, `windows of key ${JSON.stringify(keys[i])} of ${name}: ${errorText(e)}`);
      }
    }
  }

  /**
   * The store operations of every key changed since the last call, pushed to the array `ops()`
   * gives; yields after each key (the caller may take that array and start another there).
   */
  *changes(ops: () => BatchOp[]): Generator<void, void, undefined> {
    const p = this.partition;
    for (const [name, op] of this.ops) {
      for (const key of op.dirtyKeys()) {
        const { bytes, removeClose, addClose } = op.persistKey(key);
        const k = windowKey(p, name, key);
        const out = ops();
        out.push(bytes ? { type: 'put', key: k, value: bytes } : { type: 'del', key: k });
        if (removeClose !== undefined) out.push({ type: 'del', key: windowCloseKey(p, name, removeClose, key) });
        if (addClose !== undefined) out.push({ type: 'put', key: windowCloseKey(p, name, addClose, key), value: INDEX_ENTRY });
        yield;
      }
      op.clearDirty();
    }
  }

  /** Once the changes are durable: clean keys leave memory down to 80 % of `bound` per operator (WindowedAggregation.evict). Returns the keys evicted. */
  evict(bound: number): number {
    let evicted = 0;
    for (const [name, op] of this.ops) {
      const r = op.evict(bound);
      evicted += r.evicted;
      // The index is read back only past what it covers: a key evicted that closes earlier starts it over.
      if (r.earliestClose <= this.covered.get(name)!) this.covered.set(name, -Infinity);
    }
    return evicted;
  }

  /** Keys held by the operator holding the most. */
  get largestCache(): number {
    let n = 0;
    for (const op of this.ops.values()) n = Math.max(n, op.keyCount);
    return n;
  }

  /** Keys held, all operators. */
  get cachedKeys(): number {
    let n = 0;
    for (const op of this.ops.values()) n += op.keyCount;
    return n;
  }
}
