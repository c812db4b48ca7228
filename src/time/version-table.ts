/**
 * The versions of one table key (t.table): each holds from its validity time until the next.
 * Kept in (validity time, apply sequence) order, so of two versions valid from the same time
 * the one applied later (later in the canonical merge) wins, as a compacted topic keeps the
 * later record. Stored one entry per version (src/state/task-state-keys.ts), so a checkpoint
 * writes the versions it added and deletes the ones retention dropped, never a key's whole
 * history.
 */
import { ByteReader, ByteWriter } from '../state/codec.js';
import type { BatchOp } from '../state/state-backend.js';
import { eventSuffix, parseEventSuffix } from '../state/task-state-keys.js';

/** A version's stored values: one per value function its table's lookups read. */
export type VersionValues = ReadonlyArray<number | string | null>;

export class KeyVersions {
  private readonly times: number[] = [];
  private readonly seqs: number[] = [];
  private readonly values: VersionValues[] = [];
  /** Versions whose sequence is below this are in the store; the rest were added since. */
  private savedBelow: number;
  /** Stored versions dropped since the last checkpoint: (time, sequence). */
  private readonly dropped: Array<readonly [number, number]> = [];
  /** Has a change the store does not have yet. */
  dirty = false;
  /** The task's batch number when this key was last used (cache eviction). */
  lastBatch = 0;

  constructor(savedBelow: number) {
    this.savedBelow = savedBelow;
  }

  get size(): number {
    return this.times.length;
  }

  /** Add a version (its sequence is above every sequence already held). */
  insert(t: number, seq: number, values: VersionValues): void {
    let i = this.times.length;
    while (i > 0 && this.times[i - 1] > t) i--;
    this.times.splice(i, 0, t);
    this.seqs.splice(i, 0, seq);
    this.values.splice(i, 0, values);
    this.dirty = true;
  }

  /** The values of the version with the greatest validity time ≤ qt (the later applied on a tie); undefined when none. */
  at(qt: number): VersionValues | undefined {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid] <= qt) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : this.values[lo - 1];
  }

  /**
   * Drop the versions an accepted event can no longer ask for: those before the latest one
   * valid at or before `horizon`, which stays (it is still the current value from there on).
   */
  trim(horizon: number): void {
    let keep = 0;
    while (keep + 1 < this.times.length && this.times[keep + 1] <= horizon) keep++;
    if (keep === 0) return;
    for (let i = 0; i < keep; i++) if (this.seqs[i] < this.savedBelow) this.dropped.push([this.times[i], this.seqs[i]]);
    this.times.splice(0, keep);
    this.seqs.splice(0, keep);
    this.values.splice(0, keep);
    this.dirty = true;
  }

  /**
   * The store operations since the last call: a deletion per dropped stored version, a put per
   * version added (named by its time and sequence). Marks the key clean.
   */
  drainChanges(seqBound: number, w: ByteWriter, put: (t: number, seq: number, value: Uint8Array) => void, del: (t: number, seq: number) => void): void {
    for (const [t, seq] of this.dropped) del(t, seq);
    this.dropped.length = 0;
    for (let i = 0; i < this.times.length; i++) {
      if (this.seqs[i] < this.savedBelow) continue;
      w.reset();
      for (const v of this.values[i]) w.scalar(v);
      put(this.times[i], this.seqs[i], w.bytes());
    }
    this.savedBelow = seqBound;
    this.dirty = false;
  }

  /** The store operations since the last call, as entries under `prefix` named by time and sequence (see drainChanges). */
  changeOps(prefix: string, seqBound: number, w: ByteWriter, ops: BatchOp[]): void {
    this.drainChanges(
      seqBound,
      w,
      (t, seq, value) => ops.push({ type: 'put', key: prefix + eventSuffix(t, seq), value }),
      (t, seq) => ops.push({ type: 'del', key: prefix + eventSuffix(t, seq) }),
    );
  }

  /** A key read back from its store entries under `prefix` (as changeOps names them), in any order. */
  static fromEntries(prefix: string, stored: ReadonlyArray<readonly [string, Uint8Array]>, columns: number, savedBelow: number): KeyVersions {
    return KeyVersions.fromStored(stored.map(([k, v]) => [...parseEventSuffix(k.slice(prefix.length)), v] as const), columns, savedBelow);
  }

  /** A key read back from its stored versions ((time, sequence, value bytes) in any order). */
  static fromStored(entries: ReadonlyArray<readonly [number, number, Uint8Array]>, columns: number, savedBelow: number): KeyVersions {
    const kv = new KeyVersions(savedBelow);
    const sorted = [...entries].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (const [t, seq, bytes] of sorted) {
      const r = new ByteReader(bytes);
      const values: Array<number | string | null> = [];
      for (let c = 0; c < columns; c++) values.push(r.scalar());
      if (!r.done) throw new Error(`version at ${t} holds bytes after its ${columns} values`);
      kv.times.push(t);
      kv.seqs.push(seq);
      kv.values.push(values);
    }
    return kv;
  }
}
