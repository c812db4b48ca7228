import { evictDownTo, loweredCacheBound } from '../state/cache-bound.js';
import type { AggValue } from '../ops/aggregation.js';
import { ByteReader, ByteWriter } from '../state/codec.js';
import type { BatchOp, StateBackend } from '../state/state-backend.js';
import { StoreWalk } from '../state/store-walk.js';
import {
  eventSuffix,
  parseEventSuffix,
  parseRegroupTimelineHeadKey,
  parseRegroupVersionKey,
  regroupHeldKey,
  regroupHeldPrefix,
  regroupMetaKey,
  regroupTablesPrefix,
  regroupTimelinePrefix,
  regroupTimelinesPrefix,
  regroupVersionsPrefix,
  STATE_FORMAT,
} from '../state/task-state-keys.js';
import { KeyTimeline } from '../time/lookback-window.js';
import { KeyVersions, type VersionValues } from '../time/version-table.js';
import { HeldRuns } from './held-runs.js';
import type { GroupProgram, Program, TableProgram } from './program.js';
import { readRegroupMessage, writeRegroupMessage } from './regroup-codec.js';
import { StateFormatError, VersionMismatchError } from './task.js';
import { timelineChanges } from './timeline-changes.js';
import { versionKeysToTrim } from './version-sweep.js';
import type { RegroupAnswer, RegroupMessage, RegroupQuery, RegroupUpdate } from './regroup-messages.js';

export interface RegroupedTaskOptions {
  /**
   * Keys per regrouped group and table kept in memory between releases once their state is in
   * the store (live and replay: --cache-keys); default no bound.
   */
  readonly maxCachedKeys?: number;
}

/** A received UPDATE or QUERY waiting for every upstream watermark to pass its time. */
interface Held {
  readonly msg: RegroupUpdate | RegroupQuery;
  /** Event time of an update, qt of a query. */
  readonly time: number;
  /** Arrival number (names the state entry of a chunk that starts with it). */
  readonly arrival: number;
  /** The state entry holding it (see RegroupedTask.changes), once a checkpoint stored it. */
  chunk: number | undefined;
}

/** A state entry (and its changelog record) stays well below Kafka's default 1 MiB record limit. */
const CHUNK_BYTES = 256 * 1024;

interface RegroupMeta {
  readonly format: number;
  readonly version: string;
  readonly partition: number;
  readonly seq: number;
  readonly arrivals: number;
  /** Per upstream, as strings so that ±Infinity survive JSON. */
  readonly watermarks: readonly string[];
  /** Upstreams that declared themselves idle (live only; absent in older checkpoints). */
  readonly idle?: readonly boolean[];
  /** Per idle upstream, the input positions it declared idle at. */
  readonly idlePositions?: ReadonlyArray<readonly number[] | null>;
  /** Everything below this was applied (absent: the minimum of the watermarks). */
  readonly frontier?: string;
  readonly idleReleases?: number;
  /** Lookups of a table keyed by another entity that found no version (absent in older checkpoints). */
  readonly lookupMisses?: number;
}

function compareValues(a: readonly AggValue[], b: readonly AggValue[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    const rx = x === null ? 0 : typeof x === 'number' ? 1 : 2;
    const ry = y === null ? 0 : typeof y === 'number' ? 1 : 2;
    if (rx !== ry) return rx - ry;
    if (rx === 1) {
      if ((x as number) !== (y as number)) return (x as number) < (y as number) ? -1 : 1;
      // 0 and -0: equal to <, not to a sum's sign; -0 first.
      return Object.is(x, -0) ? -1 : 1;
    }
    return String(x) < String(y) ? -1 : 1;
  }
  return a.length - b.length;
}

const cmp = (a: string | number, b: string | number): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The order a RegroupedTask applies items in, fixed by the data alone: time, UPDATE before
 * QUERY (a query at qt sees the updates at qt), then an update's values compared value by
 * value, then key and group. Updates equal in all of these are interchangeable; queries do not
 * change state, so their order only fixes the order of answers.
 */
export function compareRegroupItems(a: RegroupUpdate | RegroupQuery, b: RegroupUpdate | RegroupQuery): number {
  const ta = a.kind === 'update' ? a.t : a.qt;
  const tb = b.kind === 'update' ? b.t : b.qt;
  if (ta !== tb) return ta < tb ? -1 : 1;
  if (a.kind !== b.kind) return a.kind === 'update' ? -1 : 1;
  if (a.kind === 'update' && b.kind === 'update') return compareValues(a.vals, b.vals) || cmp(a.key, b.key) || a.group - b.group;
  const qa = a as RegroupQuery;
  const qb = b as RegroupQuery;
  return cmp(qa.key, qb.key) || qa.group - qb.group || qa.partition - qb.partition || cmp(qa.source, qb.source) || qa.offset - qb.offset || qa.output - qb.output || qa.query - qb.query;
}

/**
 * One partition of the regrouped key space (keys hash to it). It receives UPDATEs, QUERYs and
 * WATERMARKs from every upstream task in any arrival order, holds them, and applies those below
 * the minimum watermark in compareRegroupItems order: updates go into the key's timeline,
 * queries read (qt − W, qt] from it and produce an answer. Pure of I/O except through its
 * StateBackend; the same operator serves replay and live.
 */
export class RegroupedTask {
  private seq = 0;
  private arrivals = 0;
  private readonly watermarks: number[];
  private readonly idle: boolean[];
  private readonly idlePositions: Array<readonly number[] | undefined>;
  /** Everything below this is applied; never decreases, even when an idle upstream comes back behind it. */
  private frontier = -Infinity;
  private idleReleaseCount = 0;
  // Held.time first: compareRegroupItems orders by the same time, read here without a look into the message.
  private readonly held = new HeldRuns<Held>((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : compareRegroupItems(a.msg, b.msg)));
  /** Per stored chunk of held items, how many are not released yet. */
  private readonly chunkLeft = new Map<number, number>();
  private heldDeletes: number[] = [];
  private readonly timelines: Array<Map<string, KeyTimeline>>;
  private readonly dirty: Array<Set<string>>;
  /** Per table keyed by another entity (by Program.tables index): key → its versions. */
  private readonly versions: Array<Map<string, KeyVersions>>;
  private readonly dirtyVersions: Array<Set<string>>;
  private lookupMissCount = 0;
  private readonly results: AggValue[][];
  /** Longest lag of any query: a late query reads at most this far below the frontier. */
  private readonly maxLag: number;
  private readonly writer = new ByteWriter(256);
  /** The live sweep's walks over the stored timeline heads and table versions (sweepExpired). */
  private readonly timelineWalk: StoreWalk;
  private readonly versionWalk: StoreWalk;
  /** Timelines a sweep emptied: their stored segments and head go at the next changes(). */
  private expired: Array<readonly [GroupProgram, string, KeyTimeline]> = [];
  private expiredCount = 0;
  /** Keys per group or table kept in memory once clean (RegroupedTaskOptions.maxCachedKeys), lowered by capCache. */
  private maxCachedKeys: number;
  /** Numbers the releases: a key used in the latest one stays cached. */
  private releaseNo = 0;
  private evictions = 0;

  private constructor(
    private readonly program: Program,
    readonly partition: number,
    upstreams: number,
    private readonly backend: StateBackend,
    private readonly answer: (a: RegroupAnswer) => void,
    options: RegroupedTaskOptions,
  ) {
    this.maxCachedKeys = options.maxCachedKeys ?? Infinity;
    if (!(this.maxCachedKeys >= 1)) throw new RangeError(`maxCachedKeys must be at least 1, got ${this.maxCachedKeys}`);
    this.watermarks = new Array<number>(upstreams).fill(-Infinity);
    this.idle = new Array<boolean>(upstreams).fill(false);
    this.idlePositions = new Array<readonly number[] | undefined>(upstreams).fill(undefined);
    this.timelines = program.groups.map(() => new Map());
    this.dirty = program.groups.map(() => new Set());
    this.versions = program.tables.map(() => new Map());
    this.dirtyVersions = program.tables.map(() => new Set());
    this.results = program.groups.map((g) => new Array<AggValue>(g.width).fill(null));
    this.maxLag = program.outputs.reduce((m, o) => o.regroupQueries.reduce((n, q) => Math.max(n, q.lag), m), 0);
    this.timelineWalk = new StoreWalk(backend, regroupTimelinesPrefix(partition));
    this.versionWalk = new StoreWalk(backend, regroupTablesPrefix(partition));
  }

  /** Open regroup partition `partition` fed by `upstreams` origin tasks, restoring its last checkpoint. */
  static async open(program: Program, partition: number, upstreams: number, backend: StateBackend, answer: (a: RegroupAnswer) => void, options: RegroupedTaskOptions = {}): Promise<RegroupedTask> {
    const task = new RegroupedTask(program, partition, upstreams, backend, answer, options);
    const [metaBytes] = await backend.getMany([regroupMetaKey(partition)]);
    if (metaBytes === undefined) return task;
    const meta = JSON.parse(new TextDecoder().decode(metaBytes)) as RegroupMeta;
    // The same refusals as Task.open's, so that a live worker stops on them rather than retrying what cannot change.
    if (meta.format !== STATE_FORMAT) throw new StateFormatError(partition, `regroup state format ${meta.format}, this build reads ${STATE_FORMAT}`);
    if (meta.version !== program.version) throw new VersionMismatchError(meta.version, program.version, partition);
    if (meta.watermarks.length !== upstreams) throw new Error(`regroup partition ${partition} was fed by ${meta.watermarks.length} upstream tasks, now ${upstreams}: the partition count cannot change under kept state`);
    task.seq = meta.seq;
    task.arrivals = meta.arrivals;
    meta.watermarks.forEach((w, i) => (task.watermarks[i] = Number(w)));
    meta.idle?.forEach((x, i) => (task.idle[i] = x));
    meta.idlePositions?.forEach((x, i) => (task.idlePositions[i] = x ?? undefined));
    task.frontier = meta.frontier === undefined ? Math.min(...task.watermarks) : Number(meta.frontier);
    task.idleReleaseCount = meta.idleReleases ?? 0;
    task.lookupMissCount = meta.lookupMisses ?? 0;
    const prefix = regroupHeldPrefix(partition);
    const restored: Held[] = [];
    for (const [k, v] of await backend.scan(prefix)) {
      const chunk = parseInt(k.slice(prefix.length), 16);
      let left = 0;
      for (const r = new ByteReader(v); !r.done; ) {
        const msg = readRegroupMessage(r);
        if (msg.kind === 'watermark' || msg.kind === 'idle') continue;
        const time = msg.kind === 'update' ? msg.t : msg.qt;
        // Released already (see changes()): every release applies all items below the frontier.
        if (time < task.frontier) continue;
        restored.push({ msg, time, arrival: chunk + left, chunk });
        left++;
      }
      task.chunkLeft.set(chunk, left);
      if (left === 0) task.heldDeletes.push(chunk);
    }
    task.held.add(restored);
    return task;
  }

  /** Messages held below the watermarks. */
  get pending(): number {
    return this.held.size;
  }

  /** Origin tasks (upstreams) feeding this task. */
  get upstreams(): number {
    return this.watermarks.length;
  }

  /**
   * The last watermark received from `upstream`, Infinity while it has declared itself idle:
   * how far it has come as seen here, for a driver that holds back an upstream running ahead of
   * the others while messages pile up here.
   */
  upstreamWatermark(upstream: number): number {
    return this.idle[upstream] ? Infinity : this.watermarks[upstream];
  }

  /** Lookups of a table keyed by another entity that found no version for their key (they answer nulls). */
  get lookupMisses(): number {
    return this.lookupMissCount;
  }

  /** Releases that went past a quiet upstream (live idle rule): where a value may differ from replay. */
  get idleReleases(): number {
    return this.idleReleaseCount;
  }

  /**
   * Remove the held QUERIES and return them; held UPDATES stay. For bootstrap
   * (src/modes/regroup-handover.ts): a replayed history's queries belong to rows that become
   * training data, not to any live row assembler, so the checkpoint handed to live must not hold
   * them; the replay receives them again afterwards to answer them for its own output (the order
   * they are applied in depends on the data alone). Only for queries no checkpoint stored yet:
   * one in a stored chunk would come back on restore.
   */
  takeHeldQueries(): RegroupQuery[] {
    const taken = this.held.extract((h) => h.msg.kind === 'query');
    if (taken.some((h) => h.chunk !== undefined)) {
      throw new Error(`regroup partition ${this.partition}: a held query is in a stored checkpoint already; take the held queries before the first checkpoint`);
    }
    return taken.map((h) => h.msg as RegroupQuery);
  }

  /**
   * Take messages in arrival order; applies what every upstream's watermark has passed.
   * `stillIdle` (live) is asked, before a release, which upstreams that declared themselves idle
   * still are: one whose input grew since is waited for again, though it has not sent anything
   * yet (its task may be slow, dead or moving to another worker).
   */
  async receive(messages: readonly RegroupMessage[], stillIdle?: (idle: ReadonlyArray<{ readonly upstream: number; readonly positions: readonly number[] }>) => Promise<readonly boolean[]>): Promise<void> {
    const arrived: Held[] = [];
    for (const m of messages) {
      if (m.kind === 'watermark' || m.kind === 'idle') {
        if (m.upstream >= this.watermarks.length) throw new RangeError(`regroup partition ${this.partition}: ${m.kind} of upstream ${m.upstream}, but only ${this.watermarks.length} feed it`);
        // An upstream coming back sends a watermark before anything else (live-regroup-task.ts).
        this.idle[m.upstream] = m.kind === 'idle';
        this.idlePositions[m.upstream] = m.kind === 'idle' ? m.positions : undefined;
        if (m.kind === 'watermark' && m.watermark > this.watermarks[m.upstream]) this.watermarks[m.upstream] = m.watermark;
      } else {
        arrived.push({ msg: m, time: m.kind === 'update' ? m.t : m.qt, arrival: this.arrivals++, chunk: undefined });
      }
    }
    this.held.add(arrived);
    if (stillIdle !== undefined && this.idle.some((x) => x)) {
      const idle = this.idle.flatMap((x, upstream) => (x ? [{ upstream, positions: this.idlePositions[upstream] ?? [] }] : []));
      const still = await stillIdle(idle);
      idle.forEach(({ upstream }, i) => {
        if (still[i]) return;
        this.idle[upstream] = false;
        this.idlePositions[upstream] = undefined;
      });
    }
    await this.release();
  }

  private async release(): Promise<void> {
    let active = Infinity;
    let all = Infinity;
    let highest = -Infinity;
    let idle = 0;
    for (let u = 0; u < this.watermarks.length; u++) {
      const x = this.watermarks[u];
      if (x < all) all = x;
      if (x > highest) highest = x;
      if (this.idle[u]) idle++;
      else if (x < active) active = x;
    }
    // Every upstream quiet: release everything held (the end of a live input, as replay's end
    // does), but keep the frontier finite so that later records still find their timelines.
    const below = idle === this.watermarks.length ? Infinity : Math.max(this.frontier, active);
    // A query that arrives below the frontier is released at once: it changes no state.
    if (idle > 0) this.frontier = Math.max(this.frontier, idle === this.watermarks.length ? highest : active);
    else this.frontier = below;
    // In compareRegroupItems order, so by time: the last is the latest.
    const ready = this.held.takeBelow(below);
    if (ready.length === 0) return;
    if (ready[ready.length - 1].time >= all) this.idleReleaseCount++;
    await this.load(ready);
    this.releaseNo++;
    const touched = new Set<KeyTimeline>();
    const touchedVersions = new Map<KeyVersions, readonly [TableProgram, string]>();
    const groupCount = this.program.groups.length;
    // The timeline `results` was last read from, and at what time (no update to it since).
    let lastRead: KeyTimeline | undefined;
    let lastQt = NaN;
    for (const h of ready) {
      if (h.chunk !== undefined) {
        const left = this.chunkLeft.get(h.chunk)! - 1;
        if (left > 0) this.chunkLeft.set(h.chunk, left);
        else {
          this.chunkLeft.delete(h.chunk);
          this.heldDeletes.push(h.chunk);
        }
      }
      const m = h.msg;
      if (m.group >= groupCount) {
        this.applyTableItem(m, this.program.tables[m.group - groupCount], touchedVersions);
        continue;
      }
      const tl = this.timelines[m.group].get(m.key)!;
      tl.lastBatch = this.releaseNo;
      if (m.kind === 'update') {
        tl.insert(m.t, this.seq++, m.vals);
        this.dirty[m.group].add(m.key);
        touched.add(tl);
        // Unreachable in compareRegroupItems order (updates sort first at a time), kept so that the reuse below does not rest on it.
        if (tl === lastRead) lastRead = undefined;
        continue;
      }
      const out = this.results[m.group];
      // Queries of one key at one time sort next to each other (flights of one minute into one
      // airport): a read is a function of the events held and qt alone, so `out` still holds it.
      if (tl !== lastRead || m.qt !== lastQt) {
        tl.readAt(m.qt, out);
        lastRead = tl;
        lastQt = m.qt;
      }
      const q = this.program.outputs[m.output].regroupQueries[m.query];
      this.answer({ partition: m.partition, source: m.source, offset: m.offset, output: m.output, query: m.query, idleReleases: this.idleReleaseCount, values: q.slots.map((s) => out[s]) });
    }
    const floor = this.queryFloor();
    if (floor > -Infinity) for (const tl of touched) tl.trim(floor - this.maxLag);
    // Retention covers lag + grace (plan check): a query still on its way reads above this.
    if (floor > -Infinity) {
      for (const [kv, [table, key]] of touchedVersions) {
        kv.trim(floor - table.retention);
        if (kv.dirty) this.dirtyVersions[table.index].add(key);
      }
    }
  }

  /**
   * No query still on its way reads below this minus the longest lag: it reads at qt ≥ its
   * upstream's watermark − its lag ≥ frontier − maxLag, and not below an upstream's own watermark
   * either: one coming back from idle may still ask for windows below the frontier (its answers
   * may miss other late events, as counted, but never whole windows of events that were there).
   */
  private queryFloor(): number {
    let floor = this.frontier;
    for (const x of this.watermarks) if (x > -Infinity && x < floor) floor = x;
    return floor;
  }

  /** Regrouped keys whose state a sweep freed since the task opened. */
  get expiredKeys(): number {
    return this.expiredCount;
  }

  /**
   * Live: free the state of regrouped keys that went quiet, as Task.sweepExpired does for the
   * origin's. A key whose last event is its group's longest window below the lowest time a
   * query can still read at (queryFloor − maxLag) holds nothing a query can read: a release
   * that touched it would trim every event (KeyTimeline.trim), and an empty timeline answers as
   * an absent one, so it goes entirely (segments and head). Table versions a touch would trim
   * (below the floor minus the table's retention) go alike. Walks at most `entries` stored keys
   * of each kind per call, from where the last call stopped; keys changed since the last
   * checkpoint are left to their next touch. Call it just before changes(). Returns the keys
   * freed or trimmed.
   */
  async sweepExpired(entries: number): Promise<number> {
    const floor = this.queryFloor();
    if (entries <= 0 || floor === -Infinity) return 0;
    const r = this.partition;
    const groups = new Map(this.program.groups.map((g) => [g.name, g]));
    const horizon = (g: GroupProgram): number => floor - this.maxLag - g.layout.maxWindow;
    const quiet: Array<readonly [GroupProgram, string, KeyTimeline]> = [];
    const stored: Array<readonly [GroupProgram, string]> = [];
    for (const storeKey of await this.timelineWalk.next(entries)) {
      const head = parseRegroupTimelineHeadKey(r, storeKey);
      const g = head === undefined ? undefined : groups.get(head.group);
      if (head === undefined || g === undefined) continue;
      const tl = this.timelines[g.index].get(head.key);
      if (tl === undefined) stored.push([g, head.key]);
      else if (!this.dirty[g.index].has(head.key) && tl.clock <= horizon(g)) quiet.push([g, head.key, tl]);
    }
    // A key not in memory is read only when its head (its clock first: KeyTimeline.encodeHead) says it is quiet.
    const heads = await this.readHeads(stored);
    const restore = stored.flatMap(([g, key], i) => {
      const head = heads[i];
      return head !== undefined && KeyTimeline.headSummary(head).clock <= horizon(g) ? [[g, key, head] as const] : [];
    });
    const restored = await Promise.all(restore.map(([g, key, head]) => this.timelineFrom(g, key, head)));
    restore.forEach(([g, key], i) => quiet.push([g, key, restored[i]]));
    for (const [g, key, tl] of quiet) {
      tl.trim(floor - this.maxLag);
      this.timelines[g.index].delete(key);
      this.expired.push([g, key, tl]);
    }
    let trimmed = 0;
    const tables = new Map(this.program.tables.filter((t) => t.regroup).map((t) => [t.name, t]));
    for (const { table, key } of versionKeysToTrim(await this.versionWalk.next(entries), (k) => parseRegroupVersionKey(r, k), tables, (t) => floor - t.retention)) {
      if (this.dirtyVersions[table.index].has(key)) continue;
      const kv = this.versions[table.index].get(key) ?? (await this.readVersions(table, key));
      if (kv === undefined) continue;
      const before = kv.size;
      kv.trim(floor - table.retention);
      if (kv.size === before) continue;
      this.versions[table.index].set(key, kv);
      this.dirtyVersions[table.index].add(key);
      trimmed++;
    }
    this.expiredCount += quiet.length + trimmed;
    return quiet.length + trimmed;
  }

  /** The stored heads of these timelines (undefined for a key without one), in one read. */
  private readHeads(keys: ReadonlyArray<readonly [GroupProgram, string]>): Promise<Array<Uint8Array | undefined>> {
    return this.backend.getMany(keys.map(([g, key]) => `${regroupTimelinePrefix(this.partition, g.name, key)}h`));
  }

  /** A timeline as stored, its head already read. */
  private async timelineFrom(g: GroupProgram, key: string, head: Uint8Array): Promise<KeyTimeline> {
    const prefix = regroupTimelinePrefix(this.partition, g.name, key);
    const events = await this.backend.scan(`${prefix}e/`);
    const parts = events.map(([k, v]) => [...parseEventSuffix(k.slice(prefix.length + 2)), new ByteReader(v)] as const);
    const tl = KeyTimeline.fromParts(g.layout, new ByteReader(head), parts);
    tl.persistedBelow = this.seq;
    return tl;
  }

  /** A table's version goes into its key's versions; a query reads the one valid at qt (nulls and a miss when none). */
  private applyTableItem(m: RegroupUpdate | RegroupQuery, table: TableProgram, touched: Map<KeyVersions, readonly [TableProgram, string]>): void {
    const kv = this.versions[table.index].get(m.key)!;
    kv.lastBatch = this.releaseNo;
    if (m.kind === 'update') {
      kv.insert(m.t, this.seq++, m.vals as VersionValues);
      this.dirtyVersions[table.index].add(m.key);
      touched.set(kv, [table, m.key]);
      return;
    }
    const version = kv.at(m.qt);
    if (version === undefined) this.lookupMissCount++;
    const q = this.program.outputs[m.output].regroupQueries[m.query];
    this.answer({ partition: m.partition, source: m.source, offset: m.offset, output: m.output, query: m.query, idleReleases: this.idleReleaseCount, values: q.slots.map((c) => (version === undefined ? null : version[c])) });
  }

  /** Fetch the timelines a batch of items touches that are not in memory yet. */
  private async load(ready: readonly Held[]): Promise<void> {
    const missing: Array<[GroupProgram, string]> = [];
    const missingVersions: Array<[TableProgram, string]> = [];
    const groupCount = this.program.groups.length;
    for (const { msg } of ready) {
      if (msg.group >= groupCount) {
        const table = this.program.tables[msg.group - groupCount];
        const versions = this.versions[table.index];
        if (versions.has(msg.key)) continue;
        versions.set(msg.key, new KeyVersions(this.seq));
        missingVersions.push([table, msg.key]);
        continue;
      }
      const map = this.timelines[msg.group];
      if (map.has(msg.key)) continue;
      const g = this.program.groups[msg.group];
      map.set(msg.key, new KeyTimeline(g.layout));
      missing.push([g, msg.key]);
    }
    await this.loadVersions(missingVersions);
    if (missing.length === 0) return;
    const heads = await this.readHeads(missing);
    for (let i = 0; i < missing.length; i++) {
      const head = heads[i];
      if (head === undefined) continue;
      const [g, key] = missing[i];
      this.timelines[g.index].set(key, await this.timelineFrom(g, key, head));
    }
  }

  /** Read back the stored versions of table keys first used since the task opened. */
  private async loadVersions(missing: ReadonlyArray<readonly [TableProgram, string]>): Promise<void> {
    if (missing.length === 0) return;
    const read = await Promise.all(missing.map(([table, key]) => this.readVersions(table, key)));
    missing.forEach(([table, key], i) => {
      if (read[i] !== undefined) this.versions[table.index].set(key, read[i]!);
    });
  }

  /** A table key's versions as stored, undefined when it has none. */
  private async readVersions(table: TableProgram, key: string): Promise<KeyVersions | undefined> {
    const prefix = regroupVersionsPrefix(this.partition, table.name, key);
    const stored = await this.backend.scan(prefix);
    return stored.length === 0 ? undefined : KeyVersions.fromEntries(prefix, stored, table.valueFns.length, this.seq);
  }

  /**
   * Every state change since the last call, ending with the checkpoint record (see Task.changes).
   * Without `heldQueries`, the held queries are not stored (a replay's checkpoint that only makes
   * room in memory, before a hand-over that takes them: takeHeldQueries); such a checkpoint is
   * not one to restore from.
   */
  changes(heldQueries = true): BatchOp[] {
    const ops: BatchOp[] = [];
    const r = this.partition;
    const w = this.writer;
    // Timelines a sweep emptied: their segments, then their head.
    for (const [g, key, tl] of this.expired) {
      const prefix = regroupTimelinePrefix(r, g.name, key);
      tl.drainChanges(this.seq, w, () => {
        throw new Error(`an expired regrouped timeline of group ${g.name} holds events`);
      }, (t, seq) => ops.push({ type: 'del', key: `${prefix}e/${eventSuffix(t, seq)}` }));
      ops.push({ type: 'del', key: `${prefix}h` });
    }
    this.expired = [];
    for (const g of this.program.groups) {
      for (const key of this.dirty[g.index]) {
        const prefix = regroupTimelinePrefix(r, g.name, key);
        timelineChanges(this.timelines[g.index].get(key)!, this.seq, w, `${prefix}e/`, `${prefix}h`, ops);
      }
      this.dirty[g.index].clear();
    }
    for (const table of this.program.tables) {
      for (const key of this.dirtyVersions[table.index]) {
        this.versions[table.index].get(key)!.changeOps(regroupVersionsPrefix(r, table.name, key), this.seq, w, ops);
      }
      this.dirtyVersions[table.index].clear();
    }
    for (const a of this.heldDeletes) ops.push({ type: 'del', key: regroupHeldKey(r, a) });
    this.heldDeletes = [];
    // Items held since the last checkpoint go into one entry, deleted once all of them are
    // released: an entry per item would be two changelog records per message. Every release
    // applies all items below the frontier, and a release of everything (all upstreams idle)
    // empties every chunk, so on restore a chunk's items below the frontier are the released ones.
    // A chunk is named by the arrival number of its first item (items arrived after the last
    // checkpoint's chunks, so names never repeat) and split past CHUNK_BYTES.
    w.reset();
    let chunk = -1;
    let count = 0;
    const close = (): void => {
      if (count === 0) return;
      ops.push({ type: 'put', key: regroupHeldKey(r, chunk), value: w.bytes() });
      this.chunkLeft.set(chunk, count);
      w.reset();
      count = 0;
    };
    for (const h of this.held) {
      if (h.chunk !== undefined || (!heldQueries && h.msg.kind === 'query')) continue;
      if (count === 0) chunk = h.arrival;
      writeRegroupMessage(w, h.msg);
      h.chunk = chunk;
      count++;
      if (w.written().length >= CHUNK_BYTES) close();
    }
    close();
    const meta: RegroupMeta = { format: STATE_FORMAT, version: this.program.version, partition: r, seq: this.seq, arrivals: this.arrivals, watermarks: this.watermarks.map(String),
      idle: this.idle,
      idlePositions: this.idlePositions.map((x) => x ?? null),
      frontier: String(this.frontier),
      idleReleases: this.idleReleaseCount,
      lookupMisses: this.lookupMissCount,
    };
    ops.push({ type: 'put', key: regroupMetaKey(r), value: new TextEncoder().encode(JSON.stringify(meta)) });
    this.evictColdKeys();
    return ops;
  }

  /** More keys in memory than the bound in some group or table: a checkpoint would evict (replay checks after each receive). */
  get overCacheBound(): boolean {
    return this.largestCache() > this.maxCachedKeys;
  }

  /** Keys cached by the group or table holding the most. */
  private largestCache(): number {
    let n = 0;
    for (const m of [...this.timelines, ...this.versions] as ReadonlyArray<ReadonlyMap<string, unknown>>) n = Math.max(n, m.size);
    return n;
  }

  /**
   * Lower the cache bound to `fraction` of the keys the fullest group or table holds now (at
   * least `floor`), for a driver whose memory runs short, as Task.capCache. Returns the new bound.
   */
  capCache(fraction: number, floor: number): number {
    this.maxCachedKeys = loweredCacheBound(this.maxCachedKeys, this.largestCache(), fraction, floor);
    return this.maxCachedKeys;
  }

  /** Keys held in memory (timelines and table versions) and keys evicted since the task opened. */
  get cacheStats(): { readonly cachedKeys: number; readonly evictions: number } {
    let cachedKeys = 0;
    for (const m of [...this.timelines, ...this.versions]) cachedKeys += m.size;
    return { cachedKeys, evictions: this.evictions };
  }

  /**
   * Every key is clean once changes() returns: any can be read back from the store later (a task
   * whose changes do not become durable is discarded whole): down to 80 % of the bound, those
   * the latest release did not use first, as Task.evictColdKeys does.
   */
  private evictColdKeys(): void {
    const releaseNo = this.releaseNo;
    for (const map of [...this.timelines, ...this.versions] as Array<Map<string, { lastBatch: number }>>) this.evictions += evictDownTo(map, this.maxCachedKeys, () => true, (entry) => entry.lastBatch === releaseNo);
  }

  /** Write changes() to the store; `heldQueries` as there. */
  async checkpoint(heldQueries = true): Promise<void> {
    await this.backend.write(this.changes(heldQueries));
  }
}
