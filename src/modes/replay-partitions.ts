import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { InputRange } from '../engine/input.js';
import type { LateRecord, TaskSinks } from '../engine/outputs.js';
import { buildProgram, type Program } from '../engine/program.js';
import { DEFAULT_MAX_CACHED_KEYS, DEFAULT_SWEEP_ENTRIES, Task } from '../engine/task.js';
import { addCounters, emptyCounters, type TaskCounters } from '../engine/task-counters.js';
import type { TrainingFileSummary } from '../io/files/parquet-training-writer.js';
import type { CompiledPlan } from '../plan/compile.js';
import { KeySampler } from '../parity/sampler.js';
import { LevelBackend } from '../state/state-backend.js';
import { taskStateDir } from '../state/task-state-dir.js';
import { loadLabelIndexes } from './label-index.js';
import { OriginSpill } from './regroup-spill.js';
import { PartitionedNdjson } from './ndjson-sink.js';
import { DeadLetterRecords } from './replay-dead-letters.js';
import type { SlicedSource } from './file-replay-input.js';
import { openReplayInput } from './open-replay-input.js';
import type { ReplayInputSpec } from './replay-input.js';
import { TrainingSink, trainingMetadata } from './training-sink.js';
import { closeEach } from './close-each.js';
import { HeapPressure, MIN_CACHE_KEYS } from './heap-pressure.js';

/** Where a replay writes, whatever it reads. */
export interface ReplayOutputOptions {
  /** Output directory: `<out>/<output>/part-NNNNN.parquet`, plus `_dead_letters/` and `_late_records/` (NDJSON per partition). */
  readonly out: string;
  /** Directory for dead letters (default `<out>/_dead_letters`). */
  readonly deadLetterDir?: string;
  /** Also write the late records that sources with `late: 'drop'` drop, to this directory (parity uses it). */
  readonly droppedLateDir?: string;
  readonly onProgress?: (processed: number) => void;
  /** Compute state and rows only for these source keys (every record still moves stream time); all keys when absent. */
  readonly keys?: KeySelection;
  /**
   * Checkpoint at the canonical frontier instead of ending the input: records the merge still
   * holds (or the first records still held for the future-skew warm-up) stay unapplied, so the
   * state is exactly what a replay of a longer history holds at that point and a later replay
   * can continue from it. Rows of held records are then not written.
   */
  readonly stopAtFrontier?: boolean;
  /**
   * Keys of state each task keeps in memory per group (and table) while it replays (default
   * DEFAULT_MAX_CACHED_KEYS, as live): past it, the task writes its state to its store under the
   * state root and drops keys down to 80 %, those the latest batch did not touch first, reading
   * them back when they come again (as a live worker does at each commit). When the thread's heap runs
   * short first, its tasks lower the bound themselves (heap-pressure.ts). Outputs do not depend
   * on it; a replay whose keys fit stays all in memory and writes its state once, at the end.
   */
  readonly cacheKeys?: number;
}

/** Which source keys a replay computes: listed keys, or those the parity sampler selects at a rate. Plain data for worker threads. */
export type KeySelection = { readonly keys: readonly string[] } | { readonly rate: number };

function keyFilterOf(selection: KeySelection | undefined): ((key: string) => boolean) | undefined {
  if (selection === undefined) return undefined;
  if ('rate' in selection) {
    const sampler = new KeySampler(selection.rate);
    return (key) => sampler.selects(key);
  }
  const keys = new Set(selection.keys);
  return (key) => keys.has(key);
}

export interface ReplayPartitionsOptions extends ReplayOutputOptions {
  readonly plan: CompiledPlan;
  /** Archive files or Kafka topic ranges; label sources are read from it too when joined. */
  readonly input: ReplayInputSpec;
  /** State root: one LevelDB per task under it (`task-NNNNN`), kept for bootstrap. */
  readonly stateDir: string;
  /** Only run the tasks of these partitions (a worker's share); all when absent. */
  readonly partitionFilter?: (partition: number) => boolean;
  /** For a topology with a regrouping: spill its messages and partial rows here (pass 1 of replay-regrouped.ts). */
  readonly regroup?: RegroupSpillOptions;
  /** A file source another thread reads and slices for this one (file-replay-input.ts sliceableSplit). */
  readonly sliced?: SlicedSource;
  /** This process's largest semi-space, when this thread cannot tell it from its own flags (a replay thread; heap-pressure.ts). */
  readonly semiSpaceBytes?: number;
  /** The state root is removed after the replay and nothing reads it: no final checkpoint (a replay of many keys would write them all for nothing). */
  readonly discardState?: boolean;
}

/** Where pass 1 spills, and into how many regroup partitions. Plain data for worker threads. */
export interface RegroupSpillOptions {
  readonly dir: string;
  readonly partitions: number;
  /** Also list the regrouped keys each origin partition's rows query (regroup-spill.ts queriedFile), for RegroupedPassOptions.queriedKeysOnly. */
  readonly recordQueries?: boolean;
}

export interface ReplaySummary {
  readonly version: string;
  readonly counters: TaskCounters;
  readonly files: readonly TrainingFileSummary[];
  readonly inputRanges: readonly InputRange[];
  /** Number of dead letters / late records written, and where. */
  readonly deadLetters: { readonly count: number; readonly dir: string };
  readonly lateRecords: { readonly count: number; readonly dir: string };
  readonly labels: Readonly<Record<string, { events: number; malformed: number; dataEnd: number | null }>>;
  /** How the tasks kept their state within memory (ReplayOutputOptions.cacheKeys), a regrouped replay's pass 2 included. */
  readonly stateCache?: ReplayStateCache;
}

/** Checkpoints a replay wrote before its end to move cold keys out of memory, keys it moved, and the lowest cache bound any task had. */
export interface ReplayStateCache {
  readonly checkpoints: number;
  readonly evictions: number;
  /** Keys per group and task kept in memory: as set (cacheKeys), and the lowest a task went to when the heap ran short (heap-pressure.ts). */
  readonly bound: number;
  readonly lowestBound: number;
  /** Quiet keys whose state the checkpoints freed (Task.sweepExpired), as a live worker's commits would. */
  readonly expiredKeys: number;
}

/** Replay source history through the engine into training data, in this thread. */
export async function replayPartitions(opts: ReplayPartitionsOptions): Promise<ReplaySummary> {
  const { plan } = opts;
  const program: Program = buildProgram(plan);
  mkdirSync(opts.out, { recursive: true });
  const mine = opts.partitionFilter ?? (() => true);
  const input = await openReplayInput(plan, program, opts.input, opts.partitionFilter, opts.sliced);
  try {
    const labelIndexes = await loadLabelIndexes(plan, program, input);
    // Ranges are complete once the input is read, before any training file is closed.
    const training = new TrainingSink(opts.out, program, (output, partition) => trainingMetadata(plan, input.ranges())(output, partition), labelIndexes);
    const dead = new PartitionedNdjson(opts.deadLetterDir ?? join(opts.out, '_dead_letters'));
    const deadRecords = new DeadLetterRecords(input);
    const late = new PartitionedNdjson(join(opts.out, '_late_records'));
    const droppedLate = opts.droppedLateDir === undefined ? undefined : new PartitionedNdjson(opts.droppedLateDir);
    const lateJson = (l: LateRecord): Record<string, unknown> => ({ source: l.source, partition: l.partition, offset: l.offset, key: l.key, event_time: l.eventTime, stream_time: l.streamTime, reason: l.reason, value: l.value });
    const sinks: TaskSinks = {
      feature: (r) => training.feature(r),
      window: (r) => training.window(r),
      deadLetter: (d) => dead.write(d.partition, deadRecords.json(d)),
      late: (l) => late.write(l.partition, lateJson(l)),
      ...(droppedLate ? { lateDropped: (l: LateRecord) => droppedLate.write(l.partition, lateJson(l)) } : {}),
    };

    const keyFilter = keyFilterOf(opts.keys);
    const tasks = new Map<number, Task>();
    const backends = new Map<number, LevelBackend>();
    const spills = new Map<number, OriginSpill>();
    let processed = 0;
    let failed = false;
    const pressure = new HeapPressure({ semiSpaceBytes: opts.semiSpaceBytes });
    let stateCheckpoints = 0;
    const cacheKeys = opts.cacheKeys ?? DEFAULT_MAX_CACHED_KEYS;
    let lowestBound = cacheKeys;
    /**
     * Quiet keys' state goes first, as at a live commit (Task.sweepExpired; outputs do not
     * change): the store then holds what a live worker's would, not every key of the history,
     * and a state kept for bootstrap seeds the changelog with it alone.
     */
    const checkpoint = async (task: Task): Promise<void> => {
      await task.sweepExpired(DEFAULT_SWEEP_ENTRIES);
      await task.checkpoint();
    };
    const openTask = async (partition: number): Promise<Task> => {
      const backend = await LevelBackend.open(taskStateDir(opts.stateDir, partition));
      backends.set(partition, backend);
      let taskSinks = sinks;
      if (opts.regroup !== undefined) {
        const spill = new OriginSpill(opts.regroup.dir, program, partition, opts.regroup.partitions, opts.regroup.recordQueries === true);
        spills.set(partition, spill);
        taskSinks = { ...sinks, regroup: spill };
      }
      const task = await Task.open(program, partition, backend, taskSinks, { keyFilter, maxCachedKeys: lowestBound });
      tasks.set(partition, task);
      return task;
    };
    try {
      for await (const batch of input.engineBatches()) {
        if (!mine(batch.partition)) continue;
        const task = tasks.get(batch.partition) ?? (await openTask(batch.partition));
        deadRecords.hold(batch);
        await task.process(batch);
        // The store under the state root holds what memory may not: a checkpoint, then the colder keys leave.
        if (pressure.episodes < pressure.look()) for (const t of tasks.values()) lowestBound = Math.min(lowestBound, t.capCache(pressure.keep, MIN_CACHE_KEYS));
        if (task.overCacheBound) {
          await checkpoint(task);
          stateCheckpoints++;
        } else task.endBatch();
        spills.get(batch.partition)?.watermarkAt(task.regroupWatermark);
        deadRecords.release(batch.partition, task);
        processed += batch.records.length;
        opts.onProgress?.(processed);
      }
      // A regrouped task's state lives in its partition's store (task-state-keys.ts), which a
      // kept state root must hold with a checkpoint even where the input had no record: live
      // publishes a store to the changelog only when it has one (task-store.ts).
      if (opts.regroup !== undefined) for (let p = 0; p < opts.regroup.partitions; p++) if (mine(p) && !tasks.has(p)) await openTask(p);
      const partitions = [...tasks.keys()].sort((a, b) => a - b);
      if (opts.stopAtFrontier !== true) for (const p of partitions) for (const s of program.sources) await tasks.get(p)!.endOfInput(s.node.name);
      if (opts.discardState !== true) for (const p of partitions) await checkpoint(tasks.get(p)!);
      for (const [p, spill] of spills) spill.watermarkAt(tasks.get(p)!.regroupWatermark);
    } catch (e) {
      failed = true;
      training.abort();
      throw e;
    } finally {
      pressure.close();
      const closing = await closeEach([() => dead.close(), () => late.close(), () => droppedLate?.close(), ...[...spills.values()].map((s) => () => s.close()), ...[...backends.values()].map((b) => () => b.close())]);
      // After a failure its own error is the one to report (a full disk fails the flushes here too).
      if (closing !== undefined && !failed) {
        training.abort();
        throw closing;
      }
    }
    const files = training.close();
    const counters = emptyCounters();
    for (const t of tasks.values()) addCounters(counters, t.counters);
    const labels: Record<string, { events: number; malformed: number; dataEnd: number | null }> = {};
    for (const [o, idx] of labelIndexes) labels[o] = { events: idx.size, malformed: idx.malformed, dataEnd: Number.isFinite(idx.dataEnd) ? idx.dataEnd : null };
    return {
      version: plan.version,
      counters,
      files,
      inputRanges: input.ranges().filter((r) => mine(r.partition)),
      deadLetters: { count: dead.count, dir: dead.dir },
      lateRecords: { count: late.count, dir: late.dir },
      labels,
      stateCache: {
        bound: cacheKeys,
        checkpoints: stateCheckpoints,
        evictions: [...tasks.values()].reduce((n, t) => n + t.cacheStats.evictions, 0),
        lowestBound,
        expiredKeys: [...tasks.values()].reduce((n, t) => n + t.cacheStats.expiredKeys, 0),
      },
    };
  } finally {
    await input.close();
  }
}
