/**
 * As-of lookups in tables of versions (t.table), inside one task. A table is an input like any
 * co-partitioned source: its records reach the task through the canonical merge by validity
 * time (tables rank before streams, so a version valid at exactly t is in place for an event at
 * t), are late by their source's grace, and move stream time. A lookup reads the versions the
 * merge has applied before the event, so its answer depends on the input alone.
 */
import { toAggValue, type AggValue } from '../ops/aggregation.js';
import type { ByteWriter } from '../state/codec.js';
import type { BatchOp, StateBackend } from '../state/state-backend.js';
import { StoreWalk } from '../state/store-walk.js';
import { parseVersionKey, tableVersionsPrefix, versionsPrefix } from '../state/task-state-keys.js';
import { KeyVersions, type VersionValues } from '../time/version-table.js';
import { evictDownTo } from '../state/cache-bound.js';
import type { SourceValue } from './input.js';
import type { LookupProgram, Program, StreamProgram, TableProgram } from './program.js';
import type { TaskCounters } from './task-counters.js';
import { errorText, keyRefusal } from './user-functions.js';
import { versionKeysToTrim } from './version-sweep.js';

/**
 * A lookup whose key is not the event's partition key: the key's versions live in another
 * task, so the value would depend on the partitioning. A topology error, like GroupKeyError.
 */
export class LookupKeyError extends Error {
  constructor(table: string, lookupKey: string, sourceKey: string, source: string, partition: number, offset: number) {
    super(
      `asOf lookup of table ${table}: key ${JSON.stringify(lookupKey)} is not the event's partition key ${JSON.stringify(sourceKey)} ` +
        `(source ${source}, partition ${partition}, offset ${offset}). A table's versions live in the task of their key, so a lookup ` +
        `must give the event's partition key. A table keyed by another entity is declared with regroup: true (t.table), and its ` +
        `lookups with the staleness they accept (lag).`,
    );
    this.name = 'LookupKeyError';
  }
}

/** What a batch needs loaded: a table record's key, or the lookup keys of an event's visits. */
export interface TableWork {
  readonly keep: boolean;
  readonly key: string;
  readonly source: { readonly table?: TableProgram };
  readonly visits: ReadonlyArray<{ readonly stream: StreamProgram; readonly lkeys: readonly string[] }>;
}

/** A value of a lookup column as the output declares it: a finite number, or a string. */
function columnValue(v: unknown, type: 'double' | 'string'): number | string | null {
  const a = toAggValue(v);
  if (type === 'string') return typeof a === 'string' ? a : typeof a === 'number' ? String(a) : null;
  return typeof a === 'number' ? a : null;
}

export class TableLookups {
  /** Per table: key → its versions, loaded on first use. */
  private readonly keys: Array<Map<string, KeyVersions>>;
  /** Per table: keys changed since the last checkpoint, in first-change order. */
  private readonly dirty: string[][];
  /** The sweep's walk over the task's table versions. */
  private readonly walk: StoreWalk;

  constructor(
    private readonly program: Program,
    private readonly partition: number,
    private readonly backend: StateBackend,
  ) {
    this.keys = program.tables.map(() => new Map());
    this.dirty = program.tables.map(() => []);
    this.walk = new StoreWalk(backend, tableVersionsPrefix(partition));
  }

  /** The values a table record stores: one per value function its lookups read. */
  versionValues(table: TableProgram, value: SourceValue): VersionValues {
    return table.valueFns.map((fn, i) => {
      try {
        return columnValue(fn(value), table.valueTypes[i]);
      } catch (e) {
        throw new Error(`value function ${i + 1} of table ${table.name} threw: ${errorText(e)}`);
      }
    });
  }

  /** The keys an event looks its tables up by, in the order of `lookups` (a stream's lookups or remoteLookups). */
  lookupKeys(lookups: readonly LookupProgram[], value: SourceValue): string[] {
    return lookups.map((l) => {
      const table = this.program.tables[l.table].name;
      let k: unknown;
      try {
        k = l.key(value);
      } catch (e) {
        throw new Error(`the key function of the asOf lookup of table ${table} threw: ${errorText(e)}`);
      }
      const refusal = keyRefusal(k);
      if (refusal !== undefined) throw new Error(`the key function of the asOf lookup of table ${table} ${refusal}`);
      return String(k);
    });
  }

  /** Every lookup key of an event must be its partition key (LookupKeyError). */
  checkKeys(stream: StreamProgram, lkeys: readonly string[], sourceKey: string, source: string, partition: number, offset: number): void {
    for (let i = 0; i < lkeys.length; i++) {
      if (lkeys[i] !== sourceKey) throw new LookupKeyError(this.program.tables[stream.lookups[i].table].name, lkeys[i], sourceKey, source, partition, offset);
    }
  }

  /** Read the stored versions of every key a batch touches that is not cached yet. */
  async load(batch: readonly TableWork[], batchNo: number, savedBelow: number): Promise<void> {
    if (this.keys.length === 0) return; // no table: keep the hot path of every other topology free of this loop
    const missing: Array<[number, string]> = [];
    const need = (table: number, key: string): void => {
      const map = this.keys[table];
      const cached = map.get(key);
      if (cached !== undefined) {
        cached.lastBatch = batchNo;
        return;
      }
      const kv = new KeyVersions(savedBelow);
      kv.lastBatch = batchNo;
      map.set(key, kv);
      missing.push([table, key]);
    };
    for (const w of batch) {
      if (!w.keep) continue;
      if (w.source.table !== undefined && !w.source.table.regroup) need(w.source.table.index, w.key);
      for (const v of w.visits) for (let i = 0; i < v.lkeys.length; i++) need(v.stream.lookups[i].table, v.lkeys[i]);
    }
    if (missing.length === 0) return;
    try {
      const stored = await Promise.all(missing.map(([table, key]) => this.backend.scan(versionsPrefix(this.partition, this.program.tables[table].name, key))));
      for (let i = 0; i < missing.length; i++) {
        if (stored[i].length === 0) continue;
        const [table, key] = missing[i];
        const prefix = versionsPrefix(this.partition, this.program.tables[table].name, key);
        const kv = KeyVersions.fromEntries(prefix, stored[i], this.program.tables[table].valueFns.length, savedBelow);
        kv.lastBatch = batchNo;
        this.keys[table].set(key, kv);
      }
    } catch (e) {
      for (const [table, key] of missing) this.keys[table].delete(key);
      throw e;
    }
  }

  private touched(table: number, key: string, kv: KeyVersions, wasDirty: boolean): void {
    if (kv.dirty && !wasDirty) this.dirty[table].push(key);
  }

  /** Apply an accepted version of `key` (loaded by load()). */
  insert(table: TableProgram, key: string, t: number, seq: number, values: VersionValues, streamTime: number): void {
    const kv = this.keys[table.index].get(key)!;
    const wasDirty = kv.dirty;
    kv.insert(t, seq, values);
    kv.trim(streamTime - table.retention);
    this.touched(table.index, key, kv, wasDirty);
  }

  /** Fill the lookup row's slots of a stream's lookups for an event at t; a key without a version gives nulls and counts a miss. */
  resolve(stream: StreamProgram, lkeys: readonly string[], t: number, streamTime: number, row: AggValue[], counters: TaskCounters): void {
    const lookups = stream.lookups;
    for (let i = 0; i < lookups.length; i++) {
      const l: LookupProgram = lookups[i];
      const table = this.program.tables[l.table];
      const kv = this.keys[l.table].get(lkeys[i])!;
      const wasDirty = kv.dirty;
      // Retention covers every qt an accepted event can ask for (plan check), so trimming here changes no answer.
      kv.trim(streamTime - table.retention);
      this.touched(l.table, lkeys[i], kv, wasDirty);
      const version = kv.at(t - l.lag);
      if (version === undefined) counters.lookupMisses++;
      for (const [column, slot] of l.values) row[slot] = version === undefined ? null : version[column];
    }
  }

  /**
   * Live: drop the versions no accepted event can ask for any more from keys no event touched
   * lately, as a touch would (KeyVersions.trim at stream time minus retention; the plan check
   * makes retention cover every time a lookup asks, so no answer changes). Walks at most
   * `entries` store keys of the task's tables from where the last call stopped, starting over at
   * the end; a key's versions are read only when the walk met two valid by the horizon. Returns
   * the keys trimmed.
   */
  async sweep(entries: number, streamTime: number, batchNo: number, savedBelow: number): Promise<number> {
    if (this.keys.length === 0 || entries <= 0 || streamTime === -Infinity) return 0;
    const walked = await this.walk.next(entries);
    const byName = new Map(this.program.tables.filter((t) => !t.regroup).map((t) => [t.name, t]));
    let trimmed = 0;
    const stored: Array<{ readonly table: TableProgram; readonly key: string }> = [];
    for (const m of versionKeysToTrim(walked, (k) => parseVersionKey(this.partition, k), byName, (table) => streamTime - table.retention)) {
      const kv = this.keys[m.table.index].get(m.key);
      if (kv === undefined) {
        stored.push(m);
        continue;
      }
      const wasDirty = kv.dirty;
      const before = kv.size;
      kv.trim(streamTime - m.table.retention);
      this.touched(m.table.index, m.key, kv, wasDirty);
      if (kv.size < before) trimmed++;
    }
    const entriesOf = await Promise.all(stored.map((m) => this.backend.scan(versionsPrefix(this.partition, m.table.name, m.key))));
    stored.forEach((m, i) => {
      const kv = KeyVersions.fromEntries(versionsPrefix(this.partition, m.table.name, m.key), entriesOf[i], m.table.valueFns.length, savedBelow);
      const before = kv.size;
      kv.trim(streamTime - m.table.retention);
      if (kv.size === before) return;
      kv.lastBatch = batchNo;
      this.keys[m.table.index].set(m.key, kv);
      this.dirty[m.table.index].push(m.key);
      trimmed++;
    });
    return trimmed;
  }

  /**
   * Store operations since the last call: per changed key, its new versions and the dropped
   * ones, appended to `ops()`; yields after each key, so the caller may take the array and
   * start another.
   */
  *changes(seqBound: number, w: ByteWriter, ops: () => BatchOp[]): Generator<void, void, undefined> {
    for (const table of this.program.tables) {
      for (const key of this.dirty[table.index]) {
        this.keys[table.index].get(key)!.changeOps(versionsPrefix(this.partition, table.name, key), seqBound, w, ops());
        yield;
      }
      this.dirty[table.index] = [];
    }
  }

  /** Drop clean keys down to 80 % of the bound, those the latest batch did not use first (cache-bound.ts); returns how many. */
  evict(batchNo: number, maxCachedKeys: number): number {
    let evicted = 0;
    for (const map of this.keys) evicted += evictDownTo(map, maxCachedKeys, (kv) => !kv.dirty, (kv) => kv.lastBatch === batchNo);
    return evicted;
  }

  /** Keys cached by the table holding the most. */
  get largestCache(): number {
    let n = 0;
    for (const m of this.keys) n = Math.max(n, m.size);
    return n;
  }

  get cachedKeys(): number {
    let n = 0;
    for (const m of this.keys) n += m.size;
    return n;
  }
}
