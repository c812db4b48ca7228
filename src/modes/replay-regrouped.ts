import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { InputRange } from '../engine/input.js';
import { buildProgram, type Program } from '../engine/program.js';
import { readRegroupAnswer, readRegroupMessage, regroupMessageTarget, writeRegroupAnswer } from '../engine/regroup-codec.js';
import type { RegroupMessage } from '../engine/regroup-messages.js';
import { RegroupedTask } from '../engine/regrouped-task.js';
import { RowAssembler } from '../engine/row-assembler.js';
import type { TrainingFileSummary } from '../io/files/parquet-training-writer.js';
import type { CompiledPlan } from '../plan/compile.js';
import { ByteReader, ByteWriter } from '../state/codec.js';
import { LevelBackend } from '../state/state-backend.js';
import { DEFAULT_MAX_CACHED_KEYS, DEFAULT_SWEEP_ENTRIES } from '../engine/task.js';
import { HeapPressure, MIN_CACHE_KEYS } from './heap-pressure.js';
import type { ReplayStateCache } from './replay-partitions.js';
import { loadLabelIndexes, type LabelIndex } from './label-index.js';
import { openReplayInput } from './open-replay-input.js';
import { endOfUpstream, RegroupHandover, type RegroupStateTarget } from './regroup-handover.js';
import { answerFile, messageFile, readPartialRow, readQueriedTargets, rowFile } from './regroup-spill.js';
import type { ReplayInputSpec } from './replay-input.js';
import { SpillReader, SpillWriter } from './spill-file.js';
import { closeEach } from './close-each.js';
import { TrainingSink, trainingMetadata } from './training-sink.js';

/**
 * Passes 2 and 3 of a replay with regroupings (pass 1 is the origin tasks of
 * replay-partitions.ts, spilling through OriginSpill):
 *   2. each regroup partition's RegroupedTask reads the messages every origin partition sent it
 *      and writes its answers per origin partition;
 *   3. each origin partition's RowAssembler joins its partial rows with their answers and
 *      writes the training Parquet as the training sink always does.
 */

/** Messages read from one upstream before looking at the others: keeps upstreams close in time, so little is held. */
const CHUNK = 4096;
const EMPTY = new Uint8Array(0);

/**
 * Pass 2 for regroup partition `r` of `partitions` (as many as origin partitions); returns its
 * table lookups without a version. With `keep`, its state as of the end of the history goes into
 * task r's store for live (regroup-handover.ts); otherwise it is thrown away.
 */
export async function answerRegroupPartition(program: Program, dir: string, r: number, partitions: number, keep: RegroupStateTarget | undefined, queriedKeysOnly: boolean, memory: AnswerMemory): Promise<number> {
  const writers: SpillWriter[] = [];
  let handover: RegroupHandover | undefined;
  // State thrown away afterwards still needs a store to leave memory for (as pass 1's tasks do):
  // one per regroup partition under the spill directory, removed with it.
  let own: LevelBackend | undefined;
  let task: RegroupedTask | undefined;
  let failed = false;
  try {
    for (let p = 0; p < partitions; p++) writers.push(new SpillWriter(answerFile(dir, p, r)));
    handover = keep === undefined ? undefined : await RegroupHandover.open(program, keep, r);
    own = keep === undefined ? await LevelBackend.open(regroupStateDir(dir, r)) : undefined;
    const w = new ByteWriter(256);
    task = await RegroupedTask.open(
      program,
      r,
      partitions,
      handover?.backend ?? own!,
      (a) => {
        w.reset();
        writeRegroupAnswer(w, a);
        writers[a.partition].writeFrom(w);
      },
      { maxCachedKeys: memory.bound },
    );
    const readers = Array.from({ length: partitions }, (_, p) => (existsSync(messageFile(dir, r, p)) ? new SpillReader(messageFile(dir, r, p)) : undefined));
    const frames = new ByteReader(EMPTY);
    const watermark = new Array<number>(partitions).fill(-Infinity);
    const ended = (p: number): RegroupMessage[] => handover?.ended(p, watermark[p]) ?? [endOfUpstream(p)];
    // Each key's state is its own: one no query reads changes no answer (and this state is not kept).
    const queried = queriedKeysOnly && handover === undefined ? readQueriedTargets(dir, r, readers.map((reader) => reader !== undefined)) : undefined;
    // Origin partitions without input never send anything: they are done from the start (idle, when the state is kept).
    await task.receive(readers.flatMap((reader, p) => (reader === undefined ? ended(p) : [])));
    try {
      for (;;) {
        // The upstream furthest behind goes next; ties by number, so the reading order is fixed too.
        let p = -1;
        for (let i = 0; i < partitions; i++) if (readers[i] !== undefined && (p < 0 || watermark[i] < watermark[p])) p = i;
        if (p < 0) break;
        const reader = readers[p]!;
        const batch: RegroupMessage[] = [];
        for (let i = 0; i < CHUNK; i++) {
          const frame = reader.nextInto(frames);
          if (frame === undefined) {
            batch.push(...ended(p));
            reader.close();
            readers[p] = undefined;
            break;
          }
          if (queried !== undefined) {
            const at = regroupMessageTarget(frame);
            if (at !== undefined && !at.query && !queried.has(at.target)) continue;
          }
          const m = readRegroupMessage(frame);
          if (m.kind === 'watermark') watermark[p] = m.watermark;
          batch.push(m);
        }
        await task.receive(batch);
        if (memory.pressure.episodes < memory.pressure.look()) memory.bound = Math.min(memory.bound, task.capCache(memory.pressure.keep, MIN_CACHE_KEYS));
        if (task.overCacheBound) {
          // Only to make room: the hand-over (kept state) takes the held queries out before its
          // checkpoint, so none may be stored before it; a bootstrap killed in between is refused
          // as a whole (unfinished-bootstrap.ts). Quiet keys' state goes first, as at a live
          // commit (RegroupedTask.sweepExpired; answers do not change).
          memory.expiredKeys += await task.sweepExpired(DEFAULT_SWEEP_ENTRIES);
          await task.checkpoint(false);
          memory.checkpoints++;
        }
      }
    } finally {
      for (const reader of readers) reader?.close();
    }
    if (handover !== undefined) await task.receive(await handover.checkpoint(task));
    if (task.pending > 0) throw new Error(`regroup partition ${r}: ${task.pending} messages still held after every upstream ended`);
    return task.lookupMisses;
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // Every answer file and the kept store are closed whatever fails first (a full disk fails
    // the flushes): a store left open holds its lock for the rest of the process.
    memory.evictions += task?.cacheStats.evictions ?? 0;
    const closing = await closeEach([...writers.map((writer) => () => writer.close()), () => handover?.close(), () => own?.close()]);
    if (own !== undefined) rmSync(regroupStateDir(dir, r), { recursive: true, force: true });
    // After a failure its own error is the one to report.
    if (closing !== undefined && !failed) throw closing;
  }
}

/**
 * How pass 2 keeps regrouped state within memory where it is not kept for live: the bound of
 * keys per group or table (--cache-keys), lowered when the thread's heap runs short
 * (heap-pressure.ts), and what it cost.
 */
export interface AnswerMemory {
  readonly pressure: HeapPressure;
  bound: number;
  checkpoints: number;
  evictions: number;
  /** Regrouped keys whose state the checkpoints freed (RegroupedTask.sweepExpired). */
  expiredKeys: number;
}


const regroupStateDir = (dir: string, r: number): string => join(dir, `state-r${r}`);

/** Pass 3 for origin partition `p`: its complete rows into `training`. */
export function assembleOriginPartition(program: Program, dir: string, p: number, partitions: number, training: TrainingSink): void {
  if (!existsSync(rowFile(dir, p))) return;
  const assembler = new RowAssembler(program, p, (row) => training.feature(row));
  const rows = new SpillReader(rowFile(dir, p));
  const answers: Array<SpillReader | undefined> = Array.from({ length: partitions }, (_, r) => new SpillReader(answerFile(dir, p, r)));
  const frames = new ByteReader(EMPTY);
  const rowFrames = new ByteReader(EMPTY);
  // Answers come roughly in time order from each regroup partition, as rows do: reading a
  // chunk of each whenever the oldest row waits keeps the early answers few.
  const readAnswers = (): boolean => {
    let any = false;
    for (let r = 0; r < partitions; r++) {
      const reader = answers[r];
      if (reader === undefined) continue;
      any = true;
      for (let i = 0; i < CHUNK; i++) {
        const frame = reader.nextInto(frames);
        if (frame === undefined) {
          reader.close();
          answers[r] = undefined;
          break;
        }
        assembler.answer(readRegroupAnswer(frame));
      }
    }
    return any;
  };
  try {
    for (let row = readPartialRow(rows, rowFrames); row !== undefined; row = readPartialRow(rows, rowFrames)) {
      assembler.row(row);
      while (assembler.pending > 0 && readAnswers());
    }
    while (readAnswers());
    if (assembler.pending > 0) throw new Error(`origin partition ${p}: ${assembler.pending} rows never got their regrouped features; the spill files in ${dir} are incomplete`);
  } finally {
    rows.close();
    for (const reader of answers) reader?.close();
  }
}

export interface RegroupedPassOptions {
  readonly plan: CompiledPlan;
  readonly input: ReplayInputSpec;
  readonly out: string;
  readonly spillDir: string;
  readonly partitions: number;
  /** Input ranges pass 1 read, for the training files' metadata and the kept regrouped state. */
  readonly inputRanges: readonly InputRange[];
  /** Keep each regroup partition's state as of the end of the input in this state root (bootstrap); thrown away when absent. */
  readonly stateDir?: string;
  /** This thread's share of the partitions; all when absent. */
  readonly partitionFilter?: (partition: number) => boolean;
  /**
   * Rows are computed for some source keys only (parity's sample): a regrouped key that none of
   * their queries reads needs no state, so its updates are skipped (without the state kept).
   */
  readonly queriedKeysOnly?: boolean;
  /** Pass 2: regrouped keys per group or table kept in memory where the state is not kept (default DEFAULT_MAX_CACHED_KEYS). */
  readonly cacheKeys?: number;
  /** The process's largest semi-space, for the heap check (ReplayWorkerData.semiSpaceBytes). */
  readonly semiSpaceBytes?: number;
}

/** What pass 2 of this thread's regroup partitions counted: table lookups without a version, and how its state stayed within memory. */
export interface AnsweredPartitions {
  readonly lookupMisses: number;
  readonly stateCache: ReplayStateCache;
}

/** Pass 2 for this thread's regroup partitions. */
export async function answerRegroupPartitions(opts: RegroupedPassOptions): Promise<AnsweredPartitions> {
  const program = buildProgram(opts.plan);
  const mine = opts.partitionFilter ?? (() => true);
  const keep = opts.stateDir === undefined ? undefined : { stateDir: opts.stateDir, inputRanges: opts.inputRanges };
  const bound = opts.cacheKeys ?? DEFAULT_MAX_CACHED_KEYS;
  const memory: AnswerMemory = { pressure: new HeapPressure({ semiSpaceBytes: opts.semiSpaceBytes }), bound, checkpoints: 0, evictions: 0, expiredKeys: 0 };
  let misses = 0;
  try {
    for (let r = 0; r < opts.partitions; r++) if (mine(r)) misses += await answerRegroupPartition(program, opts.spillDir, r, opts.partitions, keep, opts.queriedKeysOnly === true, memory);
  } finally {
    memory.pressure.close();
  }
  return { lookupMisses: misses, stateCache: { bound, checkpoints: memory.checkpoints, evictions: memory.evictions, lowestBound: Math.min(bound, memory.bound), expiredKeys: memory.expiredKeys } };
}

/** Pass 3 for this thread's origin partitions: the training files of outputs with regrouped features. */
export async function assembleOriginPartitions(opts: RegroupedPassOptions): Promise<TrainingFileSummary[]> {
  const { plan } = opts;
  const program = buildProgram(plan);
  const mine = opts.partitionFilter ?? (() => true);
  let labels = new Map<string, LabelIndex>();
  if (program.outputs.some((o) => o.labelJoin !== undefined)) {
    const input = await openReplayInput(plan, program, opts.input, () => false);
    try {
      labels = await loadLabelIndexes(plan, program, input);
    } finally {
      await input.close();
    }
  }
  const training = new TrainingSink(opts.out, program, trainingMetadata(plan, opts.inputRanges), labels);
  try {
    for (let p = 0; p < opts.partitions; p++) if (mine(p)) assembleOriginPartition(program, opts.spillDir, p, opts.partitions, training);
  } catch (e) {
    training.abort();
    throw e;
  }
  return training.close();
}
