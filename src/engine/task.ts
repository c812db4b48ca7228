import { evictDownTo, loweredCacheBound } from '../state/cache-bound.js';
import { toAggValue, type AggValue } from '../ops/aggregation.js';
import { canonicalJson, type Json } from '../plan/canonical-json.js';
import { diffPlans } from '../plan/plan-diff.js';
import type { WindowRow } from '../ops/windowed-aggregation.js';
import { ByteReader, ByteWriter } from '../state/codec.js';
import type { BatchOp, StateBackend } from '../state/state-backend.js';
import { formatEventTime, toEventTime, unitHint } from '../time/event-time.js';
import { KeyTimeline } from '../time/lookback-window.js';
import { StoreWalk } from '../state/store-walk.js';
import {
  metaKey,
  parseEventSuffix,
  partialCheckpointKey,
  planKey,
  STATE_FORMAT,
  timelineEventKey,
  timelineEventsPrefix,
  timelineHeadKey,
  timelinesPrefix,
  parseTimelineHeadKey,
} from '../state/task-state-keys.js';
import type { InputBatch, InputRecord, SourceValue } from './input.js';
import { InputMerge } from './input-merge.js';
import type { FeatureRow, LateRecord, TaskSinks } from './outputs.js';
import { fillDerived } from './derived-features.js';
import { timelineChanges } from './timeline-changes.js';
import { hasRegrouping, regroupTarget, type GroupProgram, type OutputProgram, type Program, type SourceProgram, type StreamProgram } from './program.js';
import type { RegroupSinks } from './regroup-messages.js';
import { GroupOwners } from './group-owners.js';
import { StateFormatError } from './state-format-error.js';
import { WindowState } from './window-state.js';
import type { WindowedAggregation } from '../ops/windowed-aggregation.js';
import { TableLookups } from './table-lookups.js';
import { errorText, keyRefusal } from './user-functions.js';
import type { VersionValues } from '../time/version-table.js';
import { emptyCounters, type TaskCounters } from './task-counters.js';
import { formatDuration as durationAsWritten } from '../dsl/duration.js';

/** What a checkpoint stores besides keyed state. */
export interface TaskMeta {
  /** Encoding of the stored entries (src/state/task-state-keys.ts STATE_FORMAT). */
  readonly format: number;
  readonly version: string;
  readonly partition: number;
  readonly streamTime: number;
  /** Largest time of any record applied, versions included (absent in older checkpoints). */
  readonly frontier?: number;
  readonly seq: number;
  /** Next offset to read, per source. */
  readonly positions: Readonly<Record<string, number>>;
  readonly counters: TaskCounters;
  /**
   * Window operators whose close index is complete (absent before it existed). In the record an
   * earlier build rewrites at each checkpoint without it, so a store such a build wrote to is
   * indexed again from its keys.
   */
  readonly windowIndexes?: readonly string[];
}

export class VersionMismatchError extends Error {
  constructor(
    readonly stored: string,
    readonly current: string,
    partition: number,
    /** What changed between the two plans (empty when the old plan was not stored). */
    readonly changes: readonly string[] = [],
  ) {
    const shown = changes.slice(0, 8).map((c) => `\n  changed: ${c}`).join('') + (changes.length > 8 ? `\n  ... and ${changes.length - 8} more` : '');
    super(
      `state of partition ${partition} was written by topology version ${stored}, this topology is ${current}.${shown}\n` +
        `State of one version is never read by another. Two ways forward: (1) skewless bootstrap into a new --state dir ` +
        `(replays history into fresh state for the new version, then goes live at the exact next offsets); or (2) shadow deploy: ` +
        `run the new version beside the old one under a new --group, --state and output topic, compare the two with parity, then switch.`,
    );
  }
}

interface Visit {
  readonly stream: StreamProgram;
  readonly value: SourceValue;
  /** Per group of the stream: its key. */
  readonly keys: string[];
  /**
   * The value columns of the stream's groups, group after group, from `valuesAt` on in
   * `values`: one array shared by every record prepared in the same slice (prepareRange) rather
   * than an array per group and record. apply() copies a group's columns into a row of its own.
   */
  readonly values: AggValue[];
  readonly valuesAt: number;
  /** The same per regrouped group of the stream. */
  readonly rkeys: string[];
  readonly rvals: AggValue[][];
  /** Per table lookup of the stream: its key. */
  readonly lkeys: string[];
  /** Per lookup of a table keyed by another entity (stream.remoteLookups): its key. */
  readonly tkeys: string[];
}

interface Prepared {
  readonly t: number;
  readonly rank: number;
  readonly partition: number;
  readonly offset: number;
  readonly source: SourceProgram;
  readonly rec: InputRecord;
  readonly key: string;
  readonly visits: Visit[];
  /** False when the task's key filter leaves this record's key out: it moves stream time but touches no state. */
  readonly keep: boolean;
  readonly error?: string;
  /** A table record: the version's values (table-lookups.ts). */
  readonly version?: VersionValues;
}

/** A record that will be dead-lettered: it sorts first in the merge, since it has no event time. */
function rejected(source: SourceProgram, partition: number, rec: InputRecord, error: string, key = ''): Prepared {
  return { t: -Infinity, rank: source.rank, partition, offset: rec.offset, source, rec, key, visits: [], keep: true, error };
}

const NO_KEYS: string[] = [];
const NO_VALS: AggValue[][] = [];
const NO_VISITS: Visit[] = [];

/** Records prepared and applied together within a batch of one input (Task.process). */
const APPLY_SLICE = 512;

/** Store operations per write of a checkpoint that does not fit one (Task.checkpoint): about 1 MB of entries. */
export const CHECKPOINT_WRITE_OPS = 8192;

/** Placeholder for a timeline whose stored state is being fetched. */
const PENDING = null as unknown as KeyTimeline;

export { StateFormatError };

/**
 * A store whose last checkpoint was written in several batches and not finished (its writer,
 * a replay or bootstrap, stopped in between): it mixes two checkpoints. Not a local copy to
 * rebuild from a changelog: replay state is the only copy of itself.
 */
export class PartialCheckpointError extends Error {
  constructor(partition: number) {
    super(
      `state of partition ${partition} cannot be read: its store holds a checkpoint whose writing stopped part way (the replay that wrote it ended first), a mix of two checkpoints. ` +
        'Remove the state directory and run the command that wrote it (backfill, bootstrap or parity) again',
    );
    this.name = 'PartialCheckpointError';
  }
}

/**
 * A groupBy whose key is not a refinement of the source's partition key: the same group key
 * came with two source keys, so its records can land in different partitions and its features
 * would depend on the partitioning. A topology error, never computed per partition.
 */
export class GroupKeyError extends Error {
  constructor(group: string, groupKey: string, firstKey: string, otherKey: string, source: string, partition: number, offset: number) {
    super(
      `groupBy ${group}: key ${JSON.stringify(groupKey)} comes with source keys ${JSON.stringify(firstKey)} and ${JSON.stringify(otherKey)} ` +
        `(source ${source}, partition ${partition}, offset ${offset}). A groupBy must refine the source's partition key ` +
        `(e.g. origin → origin + route), or its features would depend on how the topic is partitioned; ` +
        `group by the source key plus this field, or key the source by this field.`,
    );
    this.name = 'GroupKeyError';
  }
}

/** A batch does not start right after the task's state position (DESIGN.md, gap rule). */
export class InputGapError extends Error {
  constructor(
    readonly partition: number,
    readonly source: string,
    /** Next offset the state needs. */
    readonly statePosition: number,
    /** Where the delivered input starts. */
    readonly inputPosition: number,
  ) {
    super(
      `partition ${partition} of ${source}: state reflects input up to offset ${statePosition} but input was delivered from offset ${inputPosition}; ` +
        'refusing to compute from state that does not match its input position',
    );
    this.name = 'InputGapError';
  }
}

export interface TaskOptions {
  /**
   * Keys whose lookback state stays in memory, per group (default 250,000). Above it, a
   * checkpoint evicts keys oldest-loaded first, those the latest batch did not touch before
   * those it did, down to 80 %; they are read back from the state store when they come again.
   * Outputs do not depend on it: state round-trips through its encoding exactly (the crash
   * tests rely on the same).
   * It also bounds the group keys remembered for the refinement check (group-owners.ts).
   */
  readonly maxCachedKeys?: number;
  /**
   * Only records whose source key passes get state and outputs; the others still pass every
   * check, move stream time and send their updates to regrouped keys, so the kept keys' values
   * (their regrouped features included), late decisions and window closings are exactly those
   * of an unfiltered run (parity recomputes only the sampled keys this way).
   * Sound because a group key refines the source key (GroupKeyError), so no kept group sees a
   * left-out record.
   */
  readonly keyFilter?: (sourceKey: string) => boolean;
}

/** In-memory cache of lookback state (not persisted, not part of any output). */
export interface TaskCacheStats {
  /** Keys in memory, over all groups. */
  readonly cachedKeys: number;
  /** Keys evicted since the task opened. */
  readonly evictions: number;
  /** Group keys remembered for the refinement check (GroupKeyError), over all groups: at most twice maxCachedKeys per group. */
  readonly groupOwnerKeys: number;
  /** Quiet keys whose state (events, tiles, table versions past retention) a sweep freed since the task opened (sweepExpired). */
  readonly expiredKeys: number;
}

export const DEFAULT_MAX_CACHED_KEYS = 250_000;

/**
 * Store keys a task's sweep of quiet keys (sweepExpired) walks per commit or replay checkpoint. A
 * walk of keys only, and a key read in full only when it expired: a few milliseconds per commit,
 * and a store of a million keys is walked in about 250 commits.
 */
export const DEFAULT_SWEEP_ENTRIES = 4096;

/** Records with an event time a task holds before its first is applied (the future-skew warm-up). */
const WARMUP = 16;

/** A duration for a reason text: the largest unit that fits, one decimal. */
function formatDuration(ms: number): string {
  const units: Array<[number, string]> = [
    [365.25 * 86_400_000, 'years'],
    [86_400_000, 'days'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms >= size) return `${(ms / size).toFixed(1).replace(/\.0$/, '')} ${unit}`;
  return `${ms} ms`;
}

/** A group's key of a value, or an error naming the group. */
function groupKey(g: GroupProgram, v: SourceValue): string {
  let k: unknown;
  try {
    k = g.key(v);
  } catch (e) {
    throw new Error(`the key function of groupBy ${g.name} threw: ${errorText(e)}`);
  }
  const refusal = keyRefusal(k);
  if (refusal !== undefined) throw new Error(`the key function of groupBy ${g.name} ${refusal}`);
  return String(k);
}

/** Value column i of a group for a value, or an error naming it. */
function groupValue(g: GroupProgram, i: number, v: SourceValue): AggValue {
  try {
    return toAggValue(g.valueFns[i](v));
  } catch (e) {
    throw new Error(`value function ${i + 1} of groupBy ${g.name} threw: ${errorText(e)}`);
  }
}

/**
 * One task: all input partitions with the same number, processed in canonical order through
 * the topology. Pure of I/O except through its StateBackend and TaskSinks, and unaware of
 * whether it runs live or in replay.
 */
export class Task {
  /** Largest event time of the events applied: lateness, windows, retention and the regroup watermark. */
  private streamTime = -Infinity;
  /**
   * Largest time of any record applied, table versions included: the future-skew reference for
   * versions only. A version may be valid from any time ahead (a live skip of a quiet event
   * input releases a table's far-ahead versions), so it must never move stream time and make
   * the next events late; but a version further ahead than the versions before it is still a bad clock.
   */
  private frontier = -Infinity;
  private seq = 0;
  private readonly positions: Record<string, number> = {};
  /** Next offset after the last record handed to the merge, per source (not persisted: the merge queue is not). */
  private readonly pushed: Record<string, number> = {};
  readonly counters: TaskCounters = emptyCounters();
  /** Per group (by index): entity key → its timeline. Keyed by the raw key so the hot path builds no strings. */
  private readonly timelines: Array<Map<string, KeyTimeline>>;
  /** Per group: keys changed since the last checkpoint, in first-change order. */
  private readonly dirty: string[][];
  private readonly windowState: WindowState;
  /** The window operators by name (windowState.ops). */
  private readonly windows: ReadonlyMap<string, WindowedAggregation>;
  private readonly merge: InputMerge<Prepared>;
  private readonly groupResults: AggValue[][];
  /**
   * The timelines a batch applies to, in the order apply meets them, and where each record's
   * first one is: loadTimelines looks each key up once, and apply does not look it up again.
   * The batch's are [0, batchTimelineCount): the array keeps its length across batches (emptied,
   * it would grow again by copying every batch).
   */
  private readonly batchTimelines: KeyTimeline[] = [];
  private batchTimelineCount = 0;
  private readonly batchTimelineStart: number[] = [];
  private readonly windowRows: WindowRow[] = [];
  private planStored = false;
  /** The store holds a whole checkpoint (the task opened from one, or wrote one): see checkpoint(). */
  private holdsCheckpoint = false;
  /** One reused values array per output: sinks copy what they keep (see TaskSinks.feature). */
  private readonly rowValues: AggValue[][];
  /** Per output, its featureSlots flattened (group, slot, group, slot, ...): one typed read per index instead of a pair array per column. */
  private readonly slotPairs: Int32Array[];
  /** Per group, the row apply() copies a record's value columns into. */
  private readonly groupRows: AggValue[][];
  /** The value columns of the records prepareRange is preparing (Visit.values), filled up to sliceFill. */
  private sliceValues: AggValue[] = [];
  private sliceFill = 0;
  /** One reused row per output, around its values array: no object per served vector. */
  private readonly featureRows: Array<{ -readonly [K in keyof FeatureRow]: FeatureRow[K] }>;
  /** Commits made durable so far: a timeline whose lastBatch equals it was used since the last one. */
  private batchNo = 0;
  private evictions = 0;
  private expiredKeys = 0;
  /** The bound of TaskOptions.maxCachedKeys, lowered by capCache. */
  private maxCachedKeys: number;
  private readonly keyFilter: ((sourceKey: string) => boolean) | undefined;
  /** Stale event entries found while loading, deleted at the next checkpoint. */
  private staleDeletes: string[] = [];
  /** Timelines a sweep expired whose stored state goes at the next checkpoint (sweepExpired). */
  private expired: Array<readonly [GroupProgram, string, KeyTimeline]> = [];
  /** The expiry sweep's walk over the task's timelines (sweepExpired). */
  private readonly timelineWalk: StoreWalk;
  /** The first events (and the records after them), held until WARMUP events carry a time (null once stream time is set). */
  private warmup: Prepared[] | null = [];
  private warmupTimed = 0;
  /** Median event time of the first events: the future-skew reference before stream time exists. */
  private warmupReference = -Infinity;
  /** Per group: the source key each group key was seen with (a groupBy must refine the partition key). */
  private readonly groupOwners: GroupOwners[];
  /** Sources whose input ended (replay). */
  private readonly ended = new Set<string>();
  private readonly writer = new ByteWriter(256);
  private readonly regroupSinks: RegroupSinks | undefined;
  private readonly tables: TableLookups;

  private constructor(
    private readonly program: Program,
    readonly partition: number,
    private readonly backend: StateBackend,
    private readonly sinks: TaskSinks,
    options: TaskOptions,
  ) {
    if (hasRegrouping(program)) {
      if (sinks.regroup === undefined) throw new Error(`topology ${program.plan.topology.name} has a regrouping (regroupBy or a table keyed by another entity), which this mode cannot run yet: use backfill`);
      this.regroupSinks = sinks.regroup;
    }
    this.maxCachedKeys = options.maxCachedKeys ?? DEFAULT_MAX_CACHED_KEYS;
    this.keyFilter = options.keyFilter;
    if (!Number.isInteger(this.maxCachedKeys) || this.maxCachedKeys < 1) throw new RangeError(`maxCachedKeys must be a positive integer, got ${this.maxCachedKeys}`);
    this.windowState = new WindowState(program, partition, backend);
    this.windows = this.windowState.ops;
    this.merge = new InputMerge<Prepared>(program.sources.length);
    // One more row after the groups' for table lookups (Program.lookupWidth).
    this.groupResults = [...program.groups.map((g) => new Array<AggValue>(g.width).fill(null)), new Array<AggValue>(program.lookupWidth).fill(null)];
    this.tables = new TableLookups(program, partition, backend);
    this.timelineWalk = new StoreWalk(backend, timelinesPrefix(partition));
    this.timelines = program.groups.map(() => new Map<string, KeyTimeline>());
    this.groupOwners = program.groups.map(() => new GroupOwners(this.maxCachedKeys));
    this.rowValues = program.outputs.map((o) => new Array<AggValue>(o.columns.length).fill(null));
    this.slotPairs = program.outputs.map((o) => Int32Array.from(o.featureSlots.flat()));
    this.groupRows = program.groups.map((g) => new Array<AggValue>(g.valueFns.length).fill(null));
    this.featureRows = program.outputs.map((o) => ({ output: o.name, source: '', partition: partition, offset: 0, key: '', eventTime: 0, values: this.rowValues[o.index], event: {} }));
    this.dirty = program.groups.map(() => []);
    for (const s of program.sources) this.positions[s.node.name] = 0;
    // Without a future-skew bound there is nothing to judge the first records against.
    if (!program.sources.some((s) => s.node.maxFutureSkew !== null)) this.warmup = null;
  }

  /** Open a task, restoring its last checkpoint if there is one. */
  static async open(program: Program, partition: number, backend: StateBackend, sinks: TaskSinks, options: TaskOptions = {}): Promise<Task> {
    const task = new Task(program, partition, backend, sinks, options);
    const [metaBytes, partial] = await backend.getMany([metaKey(partition), partialCheckpointKey(partition)]);
    if (partial !== undefined) {
      throw new PartialCheckpointError(partition);
    }
    if (metaBytes) {
      task.holdsCheckpoint = true;
      let meta: TaskMeta & { streamTime: number | null };
      try {
        meta = JSON.parse(new TextDecoder().decode(metaBytes)) as TaskMeta & { streamTime: number | null };
      } catch (e) {
        throw new StateFormatError(partition, `checkpoint record is not valid JSON (${errorText(e)})`);
      }
      if ((meta.format ?? 1) !== STATE_FORMAT) throw new StateFormatError(partition, `state format ${meta.format ?? 1}, this build reads ${STATE_FORMAT}`);
      if (meta.version !== program.version) {
        const [planBytes] = await backend.getMany([planKey(partition)]);
        const changes = planBytes ? diffPlans(JSON.parse(new TextDecoder().decode(planBytes)) as Json, program.plan.canonical) : [];
        throw new VersionMismatchError(meta.version, program.version, partition, changes);
      }
      task.streamTime = meta.streamTime ?? -Infinity;
      task.frontier = Math.max(meta.frontier ?? -Infinity, task.streamTime);
      if (task.streamTime !== -Infinity) task.warmup = null;
      task.seq = meta.seq;
      Object.assign(task.positions, meta.positions);
      Object.assign(task.counters, meta.counters);
      // Window keys are read when a batch needs them (WindowState.load), through the close index.
      // A store from before the index has none: all its keys are read now, as they always were
      // then, and the next checkpoint writes their index entries (its record then names the index complete).
      for (const k of await task.windowState.restore(meta.windowIndexes)) task.staleDeletes.push(k);
    } else task.windowState.fresh();
    return task;
  }

  /** Next input offset this task needs from a source: what it has applied or holds in its merge. */
  nextOffset(source: string): number {
    return Math.max(this.positions[source] ?? 0, this.pushed[source] ?? 0);
  }

  /** Records of a source held back by the canonical merge. */
  pendingOf(source: string): number {
    const s = this.program.sources.find((x) => x.node.name === source);
    return s === undefined ? 0 : this.merge.pendingOf(s.rank);
  }

  /** Next offset to read for each source: where a driver resumes. */
  resumePositions(): Readonly<Record<string, number>> {
    return { ...this.positions };
  }

  /** Records received but held back by the canonical merge. */
  get pendingInputs(): number {
    return this.merge.pending + (this.warmup?.length ?? 0);
  }

  get currentStreamTime(): number {
    return this.streamTime;
  }

  /** Feed one batch of one input partition. Records before the resume position are skipped (already applied). */
  async process(batch: InputBatch): Promise<void> {
    const source = this.program.sources.find((s) => s.node.name === batch.source);
    if (!source) return;
    // Records already applied, or already waiting in the merge, are not taken twice.
    const from = Math.max(this.positions[batch.source] ?? 0, this.pushed[batch.source] ?? 0);
    if (batch.fetchedFrom !== undefined && batch.fetchedFrom > from) throw new InputGapError(this.partition, batch.source, from, batch.fetchedFrom);
    const last = batch.records.length > 0 ? batch.records[batch.records.length - 1].offset + 1 : 0;
    if (last > (this.pushed[batch.source] ?? 0)) this.pushed[batch.source] = last;
    const records = batch.records;
    if (this.program.sources.length === 1) {
      // One input: its offset order is already the canonical order. Prepared a slice at a time,
      // so a batch's prepared records do not all live (and get copied by every scavenge) until
      // its last one is applied; the slices keep the batch's locality (its keys' state stays in
      // the CPU caches), which a smaller input batch would lose between partitions.
      for (let at = 0; at < records.length; at += APPLY_SLICE) await this.applyAll(this.prepareRange(source, batch.partition, records, from, at, Math.min(records.length, at + APPLY_SLICE)));
      return;
    }
    this.merge.push(source.rank, this.prepareRange(source, batch.partition, records, from, 0, records.length));
    await this.drain();
  }

  /** records[at, end) prepared, leaving out those before offset `from` (already applied or waiting). */
  private prepareRange(source: SourceProgram, partition: number, records: readonly InputRecord[], from: number, at: number, end: number): Prepared[] {
    const prepared: Prepared[] = [];
    // A new array: records held in the warmup or the merge keep theirs. Sized for the slice when
    // the source feeds one stream: pushed to from empty, it was copied about a dozen times as it
    // grew, the largest allocation per event in a replay (a stream tree still grows it).
    const root = source.root;
    let perRecord = 0;
    if (root.children.length === 0) for (let gi = 0; gi < root.groups.length; gi++) perRecord += root.groups[gi].valueFns.length;
    this.sliceValues = new Array<AggValue>((end - at) * perRecord);
    this.sliceFill = 0;
    for (let i = at; i < end; i++) if (records[i].offset >= from) prepared.push(this.prepare(source, partition, records[i]));
    return prepared;
  }

  /**
   * This source will deliver nothing more (end of replay range): lets the merge release the
   * rest. Once every source has ended, windows still open are written with final = false and
   * stay open in the state (WindowedAggregation.openRows): a replay has seen its whole input, and
   * a run continuing from this state still closes them as final, as live would.
   */
  async endOfInput(source: string): Promise<void> {
    const s = this.program.sources.find((x) => x.node.name === source);
    if (!s) return;
    const wasEnded = this.ended.size === this.program.sources.length;
    this.merge.end(s.rank);
    this.ended.add(source);
    await this.drain();
    if (this.ended.size < this.program.sources.length || wasEnded) return;
    await this.flushWarmup();
    // Every window still open is a row: every key with windows comes into memory.
    await this.windowState.loadAll();
    for (const [name, op] of this.windows) {
      op.advance(this.streamTime, this.windowRows);
      this.counters.openWindowRows += op.openRows(this.windowRows);
      this.flushWindowRows(name);
    }
  }

  /** Apply the held first records, judged against the median event time among them. */
  private async flushWarmup(): Promise<number> {
    const held = this.warmup;
    this.warmup = null;
    if (held === null || held.length === 0) return 0;
    const times = held.filter((r) => r.error === undefined && r.source.table === undefined).map((r) => r.t).sort((a, b) => a - b);
    this.warmupReference = times.length > 0 ? times[(times.length - 1) >> 1] : -Infinity;
    await this.applyAll(held);
    return held.length;
  }

  /**
   * Live mode: an input that holds nothing in the merge is idle and caught up with the broker;
   * release what the other inputs hold without waiting for it. Counted once per skip that
   * releases records (the one place live may differ from replay). Returns the records released.
   */
  skipIdleInput(source: string): Promise<number> {
    return this.skipIdleInputs([source]);
  }

  /**
   * skipIdleInput for several idle inputs at once: the merge waits for every input that has not
   * ended, so with two quiet inputs beside the one holding records, skipping either alone
   * releases nothing. Inputs that hold records are left out. One skip, counted once.
   */
  async skipIdleInputs(sources: readonly string[]): Promise<number> {
    const ranks: number[] = [];
    for (const name of sources) {
      const s = this.program.sources.find((x) => x.node.name === name);
      if (s !== undefined && this.merge.pendingOf(s.rank) === 0 && !ranks.includes(s.rank)) ranks.push(s.rank);
    }
    if (ranks.length === 0 || this.pendingInputs === 0) return 0;
    let released = 0;
    if (this.merge.pending > 0) {
      for (const r of ranks) this.merge.end(r);
      const ready: Prepared[] = [];
      this.merge.drain(ready);
      for (const r of ranks) this.merge.reopen(r);
      released += ready.length;
      await this.applyAll(ready);
    }
    // Nothing else is coming for now: the first records need not wait for more to be judged.
    if (this.merge.pending === 0) released += await this.flushWarmup();
    if (released > 0) this.counters.mergeSkips++;
    return released;
  }

  private prepare(source: SourceProgram, partition: number, rec: InputRecord): Prepared {
    if (rec.error !== undefined || rec.value === undefined) return rejected(source, partition, rec, rec.error ?? 'record has no value');
    let t: number | string;
    let key: string;
    try {
      t = toEventTime(source.node.eventTime(rec.value));
    } catch (e) {
      t = `the eventTime function of source ${source.node.name} threw: ${errorText(e)}`;
    }
    if (typeof t === 'string') return rejected(source, partition, rec, t);
    try {
      const k = source.node.key(rec.value);
      const refusal = keyRefusal(k);
      if (refusal !== undefined) return rejected(source, partition, rec, `the key function of source ${source.node.name} ${refusal}`);
      key = String(k);
    } catch (e) {
      return rejected(source, partition, rec, `the key function of source ${source.node.name} threw: ${errorText(e)}`);
    }
    const keep = this.keyFilter === undefined || this.keyFilter(key);
    if (source.table !== undefined) {
      try {
        return { t, rank: source.rank, partition, offset: rec.offset, source, rec, key, visits: [], keep, version: this.tables.versionValues(source.table, rec.value) };
      } catch (e) {
        return rejected(source, partition, rec, errorText(e), key);
      }
    }
    let visits: Visit[];
    try {
      // Most sources feed one stream: an exact one-element list (a pushed-to [] reserves 17 slots).
      if (source.root.children.length === 0) {
        const only = this.visitStream(source.root, rec.value);
        visits = only === undefined ? NO_VISITS : [only];
      } else {
        visits = [];
        this.visit(source.root, rec.value, visits);
      }
    } catch (e) {
      return rejected(source, partition, rec, errorText(e), key);
    }
    for (let v = 0; v < visits.length; v++) {
      const visit = visits[v];
      const groups = visit.stream.groups;
      for (let i = 0; i < groups.length; i++) {
        const k = visit.keys[i];
        const owner = this.groupOwners[groups[i].index].conflict(k, key);
        if (owner !== undefined) throw new GroupKeyError(groups[i].name, k, owner, key, source.node.name, partition, rec.offset);
      }
      if (visit.lkeys.length > 0) this.tables.checkKeys(visit.stream, visit.lkeys, key, source.node.name, partition, rec.offset);
    }
    return { t, rank: source.rank, partition, offset: rec.offset, source, rec, key, visits, keep, error: undefined };
  }

  /** The stream and its descendants, in visiting order, for a record that passes their filters. */
  private visit(stream: StreamProgram, value: SourceValue, out: Visit[]): void {
    const visit = this.visitStream(stream, value);
    if (visit === undefined) return;
    out.push(visit);
    for (const c of stream.children) this.visit(c, visit.value, out);
  }

  /** One stream's visit of a record, undefined when its filter drops it. */
  private visitStream(stream: StreamProgram, value: SourceValue): Visit | undefined {
    let v = value;
    try {
      if (stream.kind === 'map') v = stream.fn!(value) as SourceValue;
      else if (stream.kind === 'filter' && !stream.fn!(value)) return undefined;
    } catch (e) {
      throw new Error(`the ${stream.kind} function of stream ${stream.id} threw: ${errorText(e)}`);
    }
    // Most streams have no regrouping: share one empty pair instead of allocating per record.
    const n = stream.groups.length;
    const keys = n > 0 ? new Array<string>(n) : NO_KEYS;
    const values = this.sliceValues;
    const valuesAt = this.sliceFill;
    let fill = valuesAt;
    for (let gi = 0; gi < n; gi++) {
      const g = stream.groups[gi];
      keys[gi] = groupKey(g, v);
      for (let i = 0; i < g.valueFns.length; i++) values[fill++] = groupValue(g, i, v);
    }
    this.sliceFill = fill;
    const r = stream.regroups.length;
    const rkeys = r > 0 ? new Array<string>(r) : NO_KEYS;
    const rvals = r > 0 ? new Array<AggValue[]>(r) : NO_VALS;
    if (r > 0) this.groupColumns(stream.regroups, v, rkeys, rvals);
    const lkeys = stream.lookups.length > 0 ? this.tables.lookupKeys(stream.lookups, v) : NO_KEYS;
    const tkeys = stream.remoteLookups.length > 0 ? this.tables.lookupKeys(stream.remoteLookups, v) : NO_KEYS;
    return { stream, value: v, keys, values, valuesAt, rkeys, rvals, lkeys, tkeys };
  }

  /** Per regrouped group: its key and its value columns, into arrays of exact length (the regroup sinks keep them). */
  private groupColumns(groups: readonly GroupProgram[], v: SourceValue, keys: string[], vals: AggValue[][]): void {
    for (let gi = 0; gi < groups.length; gi++) {
      const g = groups[gi];
      keys[gi] = groupKey(g, v);
      const row = new Array<AggValue>(g.valueFns.length);
      for (let i = 0; i < g.valueFns.length; i++) row[i] = groupValue(g, i, v);
      vals[gi] = row;
    }
  }

  private async drain(): Promise<void> {
    const ready: Prepared[] = [];
    this.merge.drain(ready);
    await this.applyAll(ready);
  }

  /** More keys cached in some group or table than maxCachedKeys: a checkpoint would evict (replay checks after each batch). */
  get overCacheBound(): boolean {
    return this.largestCache() > this.maxCachedKeys;
  }

  /** Keys cached by the group or table holding the most. */
  private largestCache(): number {
    let n = this.tables.largestCache;
    for (const m of this.timelines) n = Math.max(n, m.size);
    return Math.max(n, this.windowState.largestCache);
  }

  /**
   * Lower the cache bound to `fraction` of the keys the fullest group or table holds now (at
   * least `floor`), for a driver whose memory runs short: the next checkpoints evict down to it.
   * Returns the new bound. Outputs do not depend on it (TaskOptions.maxCachedKeys).
   */
  capCache(fraction: number, floor: number): number {
    this.maxCachedKeys = loweredCacheBound(this.maxCachedKeys, this.largestCache(), fraction, floor);
    return this.maxCachedKeys;
  }

  get cacheStats(): TaskCacheStats {
    let cachedKeys = 0;
    for (const m of this.timelines) cachedKeys += m.size;
    cachedKeys += this.windowState.cachedKeys;
    cachedKeys += this.tables.cachedKeys;
    let groupOwnerKeys = 0;
    for (const o of this.groupOwners) groupOwnerKeys += o.size;
    return { cachedKeys, evictions: this.evictions, groupOwnerKeys, expiredKeys: this.expiredKeys };
  }

  private async applyAll(batch: readonly Prepared[]): Promise<void> {
    let ready = batch;
    if (ready.length === 0) return;
    if (this.warmup !== null) {
      if (this.streamTime !== -Infinity) this.warmup = null;
      else {
        // No stream time yet: hold the first events until WARMUP of them carry a time, so the
        // very first one is judged against their median rather than setting stream time alone.
        // Exactly the first WARMUP, whatever the batches, so the decision depends on the input only.
        // Table versions before the first event pass (they do not move stream time, and a replay
        // from --since reads every version before it); from the first event on, everything is
        // held, so the canonical order stays as it is.
        let i = 0;
        while (i < ready.length && this.warmup.length === 0 && ready[i].source.table !== undefined) i++;
        if (i > 0) await this.applyNow(ready.slice(0, i));
        for (; i < ready.length && this.warmupTimed < WARMUP; i++) {
          this.warmup.push(ready[i]);
          if (ready[i].error === undefined && ready[i].source.table === undefined) this.warmupTimed++;
        }
        if (this.warmupTimed < WARMUP) return;
        await this.flushWarmup();
        if (i === ready.length) return;
        ready = ready.slice(i);
      }
    }
    await this.applyNow(ready);
  }

  private async applyNow(ready: readonly Prepared[]): Promise<void> {
    await this.loadTimelines(ready);
    if (this.windows.size > 0) await this.windowState.load(ready, this.streamTime, this.batchNo);
    await this.tables.load(ready, this.batchNo, this.seq);
    for (let i = 0; i < ready.length; i++) this.apply(ready[i], this.batchTimelineStart[i]);
    // Nothing may keep a timeline reachable past its batch: eviction drops it from the cache only.
    this.batchTimelines.fill(PENDING, 0, this.batchTimelineCount);
    this.batchTimelineCount = 0;
  }

  /** One getMany for every state a batch touches that is not cached yet. */
  private async loadTimelines(ready: readonly Prepared[]): Promise<void> {
    const missing: Array<[GroupProgram, string]> = [];
    const found = this.batchTimelines;
    const starts = this.batchTimelineStart;
    // Places in `found` still to fill once the missing timelines are loaded, with their group and key.
    const unfilled: Array<[number, GroupProgram, string]> = [];
    let count = 0;
    starts.length = ready.length;
    for (let r = 0; r < ready.length; r++) {
      starts[r] = count;
      if (!ready[r].keep) continue;
      const visits = ready[r].visits;
      for (let v = 0; v < visits.length; v++) {
        const visit = visits[v];
        for (let i = 0; i < visit.stream.groups.length; i++) {
          const g = visit.stream.groups[i];
          if (!g.hasTimeline) continue;
          const map = this.timelines[g.index];
          const key = visit.keys[i];
          const cached = map.get(key);
          found[count++] = cached ?? PENDING;
          if (cached !== PENDING && cached !== undefined) {
            cached.lastBatch = this.batchNo;
            continue;
          }
          unfilled.push([count - 1, g, key]);
          if (cached === PENDING) continue;
          // Reserve the slot so a key repeated in the batch is fetched once; filled below.
          map.set(key, PENDING);
          missing.push([g, key]);
        }
      }
    }
    this.batchTimelineCount = count;
    if (missing.length === 0) return;
    try {
      const restored = await this.restoreTimelines(missing, await this.backend.getMany(missing.map(([g, key]) => timelineHeadKey(this.partition, g.name, key))));
      for (let i = 0; i < missing.length; i++) this.timelines[missing[i][0].index].set(missing[i][1], restored[i]);
      for (const [at, g, key] of unfilled) found[at] = this.timelines[g.index].get(key)!;
    } catch (e) {
      found.fill(PENDING, 0, count);
      this.batchTimelineCount = 0;
      for (const [g, key] of missing) if (this.timelines[g.index].get(key) === PENDING) this.timelines[g.index].delete(key);
      throw e;
    }
  }

  /** The timelines of these keys as stored (their heads given), new ones for keys without a head. */
  private async restoreTimelines(keys: ReadonlyArray<readonly [GroupProgram, string]>, heads: ReadonlyArray<Uint8Array | undefined>): Promise<KeyTimeline[]> {
    // A head that holds no event (a key whose events all left its windows, a quiet key swept)
    // needs no read of segments: any left behind by a missed deletion are read, and deleted, when
    // the key holds events again.
    const events = await Promise.all(
      keys.map(([g, key], i) => (heads[i] === undefined || KeyTimeline.headSummary(heads[i]!).held === 0 ? Promise.resolve([]) : this.backend.scan(timelineEventsPrefix(this.partition, g.name, key)))),
    );
    return keys.map(([g, key], i) => {
      const head = heads[i];
      let tl: KeyTimeline;
      if (head === undefined) tl = new KeyTimeline(g.layout);
      else {
        const prefixLength = timelineEventsPrefix(this.partition, g.name, key).length;
        const parts = events[i].map(([k, v]) => [...parseEventSuffix(k.slice(prefixLength)), new ByteReader(v)] as const);
        const stale: Array<readonly [number, number]> = [];
        try {
          tl = KeyTimeline.fromParts(g.layout, new ByteReader(head), parts, stale);
        } catch (e) {
          throw new StateFormatError(this.partition, `timeline of key ${JSON.stringify(key)} in group ${g.name}: ${errorText(e)}`);
        }
        // Entries a missed deletion left behind (e.g. a compacted-away changelog tombstone): delete them at the next checkpoint.
        for (const [t, seq] of stale) this.staleDeletes.push(timelineEventKey(this.partition, g.name, key, t, seq));
      }
      tl.lastBatch = this.batchNo;
      tl.persistedBelow = this.seq;
      return tl;
    });
  }

  /**
   * Live: free the state of keys that went quiet. A key whose every held event is out of every
   * window of any event the task can still accept (its last event at least the longest window
   * before stream time minus grace: KeyTimeline.expiredBy) keeps nothing that can reach an
   * output but its running aggregates as the next event will find them. Its events are removed
   * from them here, exactly as that event would remove them (KeyTimeline.expireAll), and its
   * stored segments go at the next checkpoint; its head goes too when it is then like a new
   * key's (no time-since-last feature, aggregates that encode as fresh), else a small head
   * stays. Outputs do not change: a task that never sweeps computes the same (live sweeps at
   * every commit, replay at its checkpoints).
   *
   * Looks at the keys the batch touched (a batch of a backlog can span days) and walks at most
   * `entries` store keys of the task's timelines, from where the last call stopped, starting
   * over at the end; tables' versions past retention go the same way (TableLookups.sweep).
   * Call it just before changes(). Returns the keys expired or trimmed.
   */
  async sweepExpired(entries: number): Promise<number> {
    if (entries <= 0 || this.streamTime === -Infinity) return 0;
    let acceptFrom = Infinity;
    for (const s of this.program.sources) if (s.table === undefined) acceptFrom = Math.min(acceptFrom, this.streamTime - s.node.grace);
    const byName = new Map(this.program.groups.filter((g) => g.hasTimeline).map((g) => [g.name, g]));
    const walked = await this.timelineWalk.next(entries);
    const cached: KeyTimeline[] = [];
    const stored: Array<readonly [GroupProgram, string]> = [];
    const named: Array<readonly [GroupProgram, string]> = [];
    // Keys this batch touched: one batch of a backlog spans days, so a key it met early can be quiet by its end.
    for (const g of this.program.groups) {
      if (!g.hasTimeline) continue;
      for (const key of this.dirty[g.index]) {
        const tl = this.timelines[g.index].get(key)!;
        if (tl.holdsEvents && tl.expiredBy(acceptFrom)) {
          cached.push(tl);
          named.push([g, key]);
        }
      }
    }
    for (const storeKey of walked) {
      const head = parseTimelineHeadKey(this.partition, storeKey);
      const g = head === undefined ? undefined : byName.get(head.group);
      if (head === undefined || g === undefined) continue;
      const tl = this.timelines[g.index].get(head.key);
      if (tl === PENDING) continue;
      if (tl === undefined) stored.push([g, head.key]);
      else if (!tl.dirty && tl.holdsEvents && tl.expiredBy(acceptFrom)) {
        cached.push(tl);
        named.push([g, head.key]);
      }
    }
    // A quiet key is seldom in memory: its head says whether it expired, its segments are read only then.
    const heads = await this.backend.getMany(stored.map(([g, key]) => timelineHeadKey(this.partition, g.name, key)));
    const quiet: Array<readonly [GroupProgram, string]> = [];
    const quietHeads: Uint8Array[] = [];
    stored.forEach(([g, key], i) => {
      const head = heads[i];
      if (head === undefined) return;
      const { clock, held } = KeyTimeline.headSummary(head);
      // A key already swept (its head kept for its clock) holds nothing more to free, but tiles it may still hold.
      if (clock > acceptFrom - g.layout.maxWindow || (held === 0 && g.layout.tiledWindows.length === 0)) return;
      quiet.push([g, key]);
      quietHeads.push(head);
    });
    const restored = await this.restoreTimelines(quiet, quietHeads);
    let expired = 0;
    /** Per group: dirty keys whose state goes entirely, taken off the dirty list below. */
    const undirtied: Array<Set<string> | undefined> = [];
    const all = [...cached, ...restored];
    [...named, ...quiet].forEach(([g, key], i) => {
      const tl = all[i];
      if (!tl.expiredBy(acceptFrom) || !tl.expireAll(acceptFrom)) return;
      expired++;
      if (tl.expiredLikeFresh()) {
        this.timelines[g.index].delete(key);
        if (tl.dirty) {
          tl.dirty = false;
          (undirtied[g.index] ??= new Set()).add(key);
        }
        this.expired.push([g, key, tl]);
      } else {
        this.timelines[g.index].set(key, tl);
        if (!tl.dirty) {
          tl.dirty = true;
          this.dirty[g.index].push(key);
        }
      }
    });
    undirtied.forEach((keys, g) => {
      if (keys !== undefined) this.dirty[g] = this.dirty[g].filter((k) => !keys.has(k));
    });
    // Table versions of keys no event touched lately: retention applies to them as to touched ones.
    expired += await this.tables.sweep(entries, this.streamTime, this.batchNo, this.seq);
    this.expiredKeys += expired;
    return expired;
  }

  /** Apply one record; its timelines are batchTimelines from `timelineAt` on, in visiting order. */
  private apply(p: Prepared, timelineAt: number): void {
    const name = p.source.node.name;
    this.positions[name] = p.offset + 1;
    this.counters.processed++;
    if (p.error !== undefined) {
      this.counters.deadLetters++;
      this.sinks.deadLetter({ source: name, partition: p.partition, offset: p.offset, reason: p.error, raw: p.rec.raw });
      return;
    }
    const isVersion = p.source.table !== undefined;
    const skew = p.source.node.maxFutureSkew;
    const own = isVersion ? this.frontier : this.streamTime;
    const reference = own !== -Infinity ? own : this.warmupReference;
    if (skew !== null && reference !== -Infinity && p.t > reference + skew) {
      // Never touches stream time or state: one bad clock cannot make every later record late.
      const what = own === -Infinity ? "the median of the task's first records" : isVersion ? 'the latest record of the task' : 'stream time';
      this.counters.deadLetters++;
      this.sinks.deadLetter({
        source: name,
        partition: p.partition,
        offset: p.offset,
        reason: `event time ${formatEventTime(p.t)} is ${formatDuration(p.t - reference)} ahead of ${what} ${formatEventTime(reference)}, beyond the source's maxFutureSkew ${durationAsWritten(skew)}${unitHint(p.t)}`,
        raw: p.rec.raw,
      });
      return;
    }
    const grace = p.source.node.grace;
    if (p.t < this.streamTime - grace) {
      this.late(p, `event time ${formatEventTime(p.t)} is more than the grace ${durationAsWritten(grace)} behind stream time ${formatEventTime(this.streamTime)}${unitHint(p.t)}`);
      return;
    }
    const advanced = !isVersion && p.t > this.streamTime;
    if (advanced) this.streamTime = p.t;
    if (p.t > this.frontier) this.frontier = p.t;
    const seq = this.seq++;
    if (p.version !== undefined) {
      const table = p.source.table!;
      // A table keyed by another entity keeps its versions where their key's regrouped task is.
      if (table.regroup) this.regroupSinks!.update({ kind: 'update', group: regroupTarget(this.program, table.index), key: p.key, t: p.t, vals: p.version });
      else if (p.keep) this.tables.insert(table, p.key, p.t, seq, p.version, this.streamTime);
    } else if (p.visits.length === 0) this.counters.filtered++;
    // Indexed loops on this path: a profile gave a fifth of apply's own time to for-of headers.
    const visits = p.keep ? p.visits : NO_VISITS;
    for (let v = 0; v < visits.length; v++) {
      const visit = visits[v];
      const groups = visit.stream.groups;
      let at = visit.valuesAt;
      for (let gi = 0; gi < groups.length; gi++) {
        const g = groups[gi];
        const key = visit.keys[gi];
        // Timelines and window operators read the values, they keep no row.
        const vals = this.groupRows[g.index];
        for (let c = 0; c < vals.length; c++) vals[c] = visit.values[at + c];
        at += vals.length;
        if (g.hasTimeline) {
          const tl = this.batchTimelines[timelineAt++];
          tl.apply(p.t, seq, vals, this.groupResults[g.index]);
          tl.trim(this.streamTime - grace);
          if (!tl.dirty) {
            tl.dirty = true;
            this.dirty[g.index].push(key);
          }
        }
        for (let wi = 0; wi < g.windowOps.length; wi++) {
          const w = g.windowOps[wi];
          const ok = this.windows.get(w.name)!.apply(key, p.t, seq, vals, this.streamTime, this.windowRows);
          if (!ok) this.late(p, `every window of ${w.name} containing ${formatEventTime(p.t)} has closed`, false);
          this.flushWindowRows(w.name);
        }
      }
      if (visit.lkeys.length > 0) this.tables.resolve(visit.stream, visit.lkeys, p.t, this.streamTime, this.groupResults[this.program.groups.length], this.counters);
      const outputs = visit.stream.outputs;
      for (let oi = 0; oi < outputs.length; oi++) {
        const o = outputs[oi];
        const values = this.rowValues[o.index];
        const pairs = this.slotPairs[o.index];
        const results = this.groupResults;
        let c = 0;
        for (let i = 0; i < pairs.length; i += 2) values[c++] = results[pairs[i]][pairs[i + 1]];
        // Derived features of a row with regrouped columns wait for them (RowAssembler).
        if (o.derived.length > 0 && o.regroupQueries.length === 0) fillDerived(o, values, visit.value);
        c += o.derived.length;
        for (let li = 0; li < o.labels.length; li++) {
          const v = o.labels[li](visit.value);
          values[c++] = typeof v === 'boolean' ? (v ? 1 : 0) : toAggValue(v);
        }
        this.counters.emitted++;
        if (o.regroupQueries.length === 0) {
          const row = this.featureRows[o.index];
          row.source = name;
          row.partition = p.partition;
          row.offset = p.offset;
          row.key = p.key;
          row.eventTime = p.t;
          row.event = visit.value;
          this.sinks.feature(row);
        }
        else this.queryRegroups(o, visit, p);
      }
      if (visit.stream.regroups.length > 0) this.updateRegroups(visit, p.t);
    }
    // A key the filter leaves out (parity's sampled replay) still feeds the entities it is
    // regrouped by: their features of a sampled key's event count every key's events.
    if (!p.keep) for (const visit of p.visits) if (visit.stream.regroups.length > 0) this.updateRegroups(visit, p.t);
    // Most topologies have no window operator: no Map iterator per event for them.
    if (advanced && this.windows.size > 0) {
      for (const [opName, op] of this.windows) {
        op.advance(this.streamTime, this.windowRows);
        this.flushWindowRows(opName);
      }
    }
  }

  /** Send this accepted event to the tasks owning its regrouped keys. */
  private updateRegroups(visit: Visit, t: number): void {
    const regroups = visit.stream.regroups;
    for (let i = 0; i < regroups.length; i++) this.regroupSinks!.update({ kind: 'update', group: regroups[i].index, key: visit.rkeys[i], t, vals: visit.rvals[i] });
  }

  /** Ask for the row's regrouped columns (one query per group and lag) and hand over the rest of the row. */
  private queryRegroups(o: OutputProgram, visit: Visit, p: Prepared): void {
    const sinks = this.regroupSinks!;
    const source = p.source.node.name;
    const regroups = visit.stream.regroups;
    for (const q of o.regroupQueries) {
      let key: string;
      if (q.lookup !== undefined) {
        const lookups = visit.stream.remoteLookups;
        let l = 0;
        while (lookups[l].index !== q.lookup) l++;
        key = visit.tkeys[l];
      } else {
        let r = 0;
        while (regroups[r].index !== q.group) r++;
        key = visit.rkeys[r];
      }
      sinks.query({ kind: 'query', partition: p.partition, source, offset: p.offset, output: o.index, group: q.group, key, qt: p.t - q.lag, query: q.index });
    }
    sinks.partialRow({ partition: p.partition, source, offset: p.offset, output: o.index, key: p.key, eventTime: p.t, values: this.rowValues[o.index], event: visit.value });
  }

  /**
   * Origin side of regroupings: no future UPDATE of this task lies below this (every record it
   * still accepts is at most the grace behind stream time). -Infinity before stream time exists.
   */
  get regroupWatermark(): number {
    return this.streamTime - this.program.regroupGrace;
  }

  private late(p: Prepared, reason: string, count = true): void {
    if (count) this.counters.late++;
    const record = (): LateRecord => ({ source: p.source.node.name, partition: p.partition, offset: p.offset, key: p.key, eventTime: p.t, streamTime: this.streamTime, reason, value: p.rec.value! });
    if (p.source.node.late === 'sideOutput') {
      this.counters.lateSideOutput++;
      this.sinks.late(record());
    } else {
      this.counters.lateDropped++;
      this.sinks.lateDropped?.(record());
    }
  }

  private flushWindowRows(output: string): void {
    if (this.windowRows.length === 0) return;
    for (const r of this.windowRows) {
      this.counters.windowRows++;
      this.sinks.window({ output, partition: this.partition, key: r.key, windowStart: r.windowStart, windowEnd: r.windowEnd, values: r.values, final: r.final });
    }
    this.windowRows.length = 0;
  }

  /**
   * Persist state, stream time, clocks, positions and counters in one atomic batch; except a
   * store's first checkpoint, which goes out in writes of CHECKPOINT_WRITE_OPS when larger (a
   * replay that never had to make room checkpoints once, at its end, every key it met: millions
   * of entries that one batch held twice over, as operations and as LevelDB's copy, 2.4 GB more
   * for 1.8 million keys). The first of several writes marks the store (partialCheckpointKey) and
   * the last, with the checkpoint record, clears the mark, so a store whose writer stopped
   * between them is refused at open instead of read as a mix of two checkpoints; with no earlier
   * checkpoint in it, nothing to continue from is lost. Any later checkpoint is one batch, so that
   * a kill leaves the one before to continue from (a backfill's kept state, parity's --state),
   * and holds at most the keys the cache bound lets stay in memory. Live commits changes() as one
   * transaction.
   */
  async checkpoint(writeOps = this.holdsCheckpoint ? Infinity : CHECKPOINT_WRITE_OPS): Promise<void> {
    for (const ops of this.changeChunks(writeOps)) await this.backend.write(ops);
    this.holdsCheckpoint = true;
    this.afterDurable();
  }

  /**
   * Every state change since the last call, as store operations ending with the checkpoint
   * record (positions, stream time, counters). Marks the in-memory state clean: a driver that
   * cannot make these durable must discard the task and open it again from its store.
   * Timelines contribute one entry per event applied or evicted plus their head, never their
   * whole buffer (the changelog carries exactly these operations).
   */
  changes(): BatchOp[] {
    let all: BatchOp[] = [];
    for (const ops of this.changeChunks(Infinity)) all = all.length === 0 ? ops : all.concat(ops);
    return all;
  }

  /**
   * changes() cut into arrays of about `limit` operations (whole keys each), the checkpoint
   * record in the last. Each array is built when the previous one has been taken, so only one
   * is held at a time; the in-memory state is marked clean as they are built.
   */
  private *changeChunks(limit: number): Generator<BatchOp[], void, undefined> {
    const p = this.partition;
    let ops: BatchOp[] = [];
    let cut = false;
    const take = (): BatchOp[] => {
      // A batch is atomic: the mark may go in with the first chunk's own operations.
      if (!cut) ops.push({ type: 'put', key: partialCheckpointKey(p), value: new Uint8Array(0) });
      cut = true;
      const full = ops;
      ops = [];
      return full;
    };
    for (const key of this.staleDeletes) ops.push({ type: 'del', key });
    this.staleDeletes = [];
    const w = this.writer;
    // Keys a sweep expired whose state goes entirely: their segments, then their head.
    for (const [g, key, tl] of this.expired) {
      tl.drainChanges(this.seq, w, () => {
        throw new Error(`an expired timeline of group ${g.name} holds events`);
      }, (t, seq) => ops.push({ type: 'del', key: timelineEventKey(p, g.name, key, t, seq) }));
      ops.push({ type: 'del', key: timelineHeadKey(p, g.name, key) });
      if (ops.length >= limit) yield take();
    }
    this.expired = [];
    for (const g of this.program.groups) {
      for (const key of this.dirty[g.index]) {
        timelineChanges(this.timelines[g.index].get(key)!, this.seq, w, timelineEventsPrefix(p, g.name, key), timelineHeadKey(p, g.name, key), ops);
        if (ops.length >= limit) yield take();
      }
      this.dirty[g.index] = [];
    }
    for (const _ of this.tables.changes(this.seq, w, () => ops)) if (ops.length >= limit) yield take();
    for (const _ of this.windowState.changes(() => ops)) if (ops.length >= limit) yield take();
    const meta: TaskMeta = {
      format: STATE_FORMAT,
      version: this.program.version,
      partition: p,
      streamTime: this.streamTime,
      frontier: this.frontier,
      seq: this.seq,
      positions: this.positions,
      counters: this.counters,
      windowIndexes: this.windowState.names,
    };
    if (!this.planStored) {
      ops.push({ type: 'put', key: planKey(p), value: new TextEncoder().encode(canonicalJson(this.program.plan.canonical)) });
      this.planStored = true;
    }
    if (cut) ops.push({ type: 'del', key: partialCheckpointKey(p) });
    ops.push({ type: 'put', key: metaKey(p), value: new TextEncoder().encode(JSON.stringify(meta)) });
    yield ops;
  }

  /**
   * For a driver that applies several batches between checkpoints (replay): a batch ends here,
   * so the next checkpoint's eviction keeps only the keys of the latest one, not every key since
   * the last checkpoint (all of them, in a replay that had none yet).
   */
  endBatch(): void {
    this.batchNo++;
  }

  /** The operations of changes() are durable: cold keys may now leave memory. */
  afterDurable(): void {
    this.evictColdKeys();
    this.evictions += this.windowState.evict(this.maxCachedKeys);
    this.evictions += this.tables.evict(this.batchNo, this.maxCachedKeys);
    // Numbers the work between two commits (a fetched batch is applied in slices): what it used stays cached.
    this.batchNo++;
  }

  /**
   * Once state is durable every cached timeline is clean, so any can be dropped and read back
   * later: down to 80 % of the bound, the keys the latest batch did not use first (cache-bound.ts).
   */
  private evictColdKeys(): void {
    const batchNo = this.batchNo;
    for (const map of this.timelines) this.evictions += evictDownTo(map, this.maxCachedKeys, (tl) => tl !== PENDING && !tl.dirty, (tl) => tl !== PENDING && tl.lastBatch === batchNo);
  }
}
