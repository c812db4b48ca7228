import { mkdtempSync, rmSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { addCounters, emptyCounters } from '../engine/task-counters.js';
import type { TrainingFileSummary } from '../io/files/parquet-training-writer.js';
import { hasRegrouping, type CompiledPlan } from '../plan/compile.js';
import type { ReplayInputSpec } from './replay-input.js';
import { replayPartitions, type RegroupSpillOptions, type ReplayOutputOptions, type ReplayStateCache, type ReplaySummary } from './replay-partitions.js';
import { answerRegroupPartitions, assembleOriginPartitions, type AnsweredPartitions } from './replay-regrouped.js';
import { inputPartitionWeights } from './input-weights.js';
import { balancedShares } from './partition-shares.js';
import { answerPassWeights, assemblePassWeights } from './regroup-spill.js';
import { clearOwnOutputs, removePartialFiles } from './replay-targets.js';
import type { ReplayJob } from './replay-worker-main.js';
import { ReplayWorkerPool, type WorkerResult } from './replay-worker-pool.js';
import { replayWorkerBundle, topologyBundle } from './replay-worker-bundle.js';
import { normalizedSources } from '../plan/function-fingerprint.js';
import { maxSemiSpaceBytes, processFlags } from './heap-pressure.js';
import { sliceableSplit } from './file-replay-input.js';
import { feedSlices } from './slice-feed.js';
import { splitParquetSlices } from '../io/files/parquet-split-slices.js';

export interface ParallelReplayOptions extends ReplayOutputOptions {
  readonly plan: CompiledPlan;
  readonly input: ReplayInputSpec;
  /** Number of partitions (tasks) the input has: workers never outnumber them. */
  readonly partitions: number;
  /** Keep the final state here (one LevelDB per task) for bootstrap; default a temporary directory removed at the end. */
  readonly stateDir?: string;
  /**
   * Topologies with a regrouping: keep each regroup partition's state in `stateDir` too, as of
   * the end of the input (bootstrap: live continues from it; see regroup-handover.ts).
   */
  readonly keepRegroupedState?: boolean;
  /** Worker threads, each taking a share of the partitions balanced by input size (partition-shares.ts). Default: min(cores, partitions). */
  readonly workers?: number;
  /**
   * Threads started earlier for this plan (startReplayPool), used instead of `workers` and left
   * running for the caller to close. A thread may then get no partition.
   */
  readonly pool?: ReplayWorkerPool;
}

/** Replay threads for `plan`, started now so they load while the caller prepares the replay; close them when done. */
export function startReplayPool(plan: CompiledPlan, workers: number = availableParallelism()): ReplayWorkerPool {
  const bundle = replayWorkerBundle();
  // The topology's build only serves threads that load the bundle (the sources need tsx anyway).
  const topologyBuild = bundle === undefined ? undefined : topologyBundle(plan.file);
  return new ReplayWorkerPool({ topologyFile: plan.file, version: plan.version, workers, bundle, topologyBundle: topologyBuild, normalizedSources: normalizedSources(), semiSpaceBytes: maxSemiSpaceBytes(processFlags()) });
}

/**
 * Replay into training data with partitions split across worker threads (DESIGN.md: replay
 * splits partitions across processes). Partitions are independent tasks and each worker
 * writes only its own partitions' files, so the output bytes do not depend on the number of
 * workers, nor on whether the input is files or Kafka.
 */
export async function replayInParallel(opts: ParallelReplayOptions): Promise<ReplaySummary> {
  const workers = opts.pool?.size ?? Math.max(1, Math.min(opts.workers ?? availableParallelism(), opts.partitions));
  // Part files of an earlier run into the same directories would mix with this run's.
  clearOwnOutputs(opts.out, [opts.deadLetterDir ?? join(opts.out, '_dead_letters'), join(opts.out, '_late_records'), ...(opts.droppedLateDir === undefined ? [] : [opts.droppedLateDir])]);
  const tempState = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'skewless-state-'));
  try {
    if (hasRegrouping(opts.plan.topology)) return await replayRegrouped(opts, stateDir, workers);
    if (workers === 1 && opts.pool === undefined) {
      const { plan, input, out, deadLetterDir, droppedLateDir, onProgress, keys, stopAtFrontier, cacheKeys } = opts;
      return await replayPartitions({ plan, input, out, deadLetterDir, droppedLateDir, onProgress, keys, stopAtFrontier, cacheKeys, stateDir, discardState: tempState });
    }
    const stage = { ...job(opts, stateDir), discardState: tempState };
    return await withPool(opts, workers, async (pool) => mergeSummaries((await runOrigin(opts, pool, stage, await inputShares(opts, pool.size), totalProgress(opts))).map((r) => r.summary!)));
  } catch (e) {
    try {
      removePartialFiles(opts.out);
    } catch {
      // The replay's own error says what went wrong; a sweep that cannot run must not hide it.
    }
    throw e;
  } finally {
    if (tempState) rmSync(stateDir, { recursive: true, force: true });
  }
}

/**
 * The origin stage on every thread. A split Parquet file of plain values (sliceableSplit) is
 * decoded and routed once, here, and each thread sent the slices of its partitions: two threads
 * each decoding the whole file to keep half of it spent a tenth of the replay's CPU on the half
 * they drop (README, performance). Any other input each thread reads itself.
 */
async function runOrigin(opts: ParallelReplayOptions, pool: ReplayWorkerPool, stage: ReplayJob, shares: number[][] | undefined, progress: (n: number) => void): Promise<WorkerResult[]> {
  const split = opts.input.kind === 'files' ? await sliceableSplit(opts.plan, opts.input) : undefined;
  if (split === undefined) return pool.run('origin', stage, progress, shares);
  const owner = new Int32Array(opts.partitions).map((_, p) => p % pool.size);
  shares?.forEach((share, t) => share.forEach((p) => (owner[p] = t)));
  const channels = Array.from({ length: pool.size }, () => new MessageChannel());
  const feed = feedSlices(splitParquetSlices(split), (p) => owner[p], channels.map((c) => c.port1));
  try {
    return await pool.run('origin', stage, progress, shares, undefined, { source: split.source, ports: channels.map((c) => c.port2) });
  } finally {
    feed.stop();
    await feed.done;
    for (const c of channels) c.port1.close();
  }
}

/**
 * A topology with a regrouping replays in three passes over spill files (replay-regrouped.ts):
 * origin tasks, then regrouped tasks, then row assembly; each pass splits its partitions over
 * the workers and ends before the next starts.
 */
async function replayRegrouped(opts: ParallelReplayOptions, stateDir: string, workers: number): Promise<ReplaySummary> {
  // A sampled replay answers only the regrouped keys its rows query: pass 1 lists them.
  const regroup: RegroupSpillOptions = { dir: mkdtempSync(join(tmpdir(), 'skewless-regroup-')), partitions: opts.partitions, recordQueries: opts.keys !== undefined };
  try {
    let origin: ReplaySummary;
    let files: TrainingFileSummary[];
    // Lookups of tables keyed by another entity are answered in pass 2: their misses count there.
    let answered: AnsweredPartitions[];
    const keptState = opts.keepRegroupedState === true ? stateDir : undefined;
    if (workers === 1 && opts.pool === undefined) {
      const { plan, input, out, deadLetterDir, droppedLateDir, onProgress, keys, stopAtFrontier, cacheKeys } = opts;
      origin = await replayPartitions({ plan, input, out, deadLetterDir, droppedLateDir, onProgress, keys, stopAtFrontier, cacheKeys, stateDir, regroup });
      const pass = { plan, input, out, spillDir: regroup.dir, partitions: regroup.partitions, inputRanges: origin.inputRanges, stateDir: keptState, queriedKeysOnly: regroup.recordQueries === true, cacheKeys };
      answered = [await answerRegroupPartitions(pass)];
      files = await assembleOriginPartitions(pass);
    } else {
      const stages = { ...job(opts, stateDir), regroup, keepRegroupedState: keptState !== undefined };
      const progress = totalProgress(opts);
      [origin, answered, files] = await withPool(opts, workers, async (pool) => {
        const first = mergeSummaries((await runOrigin(opts, pool, stages, await inputShares(opts, workers), progress)).map((r) => r.summary!));
        // Passes 2 and 3 split their partitions by the size of the spill each reads.
        const answers = await pool.run('answer', stages, progress, balancedShares(answerPassWeights(regroup.dir, regroup.partitions), workers), first.inputRanges);
        const assembled = await pool.run('assemble', stages, progress, balancedShares(assemblePassWeights(regroup.dir, regroup.partitions), workers), first.inputRanges);
        return [first, answers.flatMap((r) => (r.answered === undefined ? [] : [r.answered])), assembled.flatMap((r) => r.files)] as const;
      });
    }
    const counters = { ...origin.counters, lookupMisses: answered.reduce((n, a) => n + a.lookupMisses, origin.counters.lookupMisses) };
    const stateCache = mergeStateCaches([...(origin.stateCache === undefined ? [] : [origin.stateCache]), ...answered.map((a) => a.stateCache)]);
    return { ...origin, counters, stateCache, files: [...origin.files, ...files].sort((a, b) => (a.path < b.path ? -1 : 1)) };
  } finally {
    rmSync(regroup.dir, { recursive: true, force: true });
  }
}

/**
 * The origin tasks' partitions per thread, balanced by how much input each partition holds
 * (keys by hash are far from even). When that is unknown (a large split file), or the input
 * cannot be read (the workers report the problem as they always do), p mod workers.
 */
async function inputShares(opts: ParallelReplayOptions, workers: number): Promise<number[][] | undefined> {
  let weights: number[] | undefined;
  try {
    weights = await inputPartitionWeights(opts.plan, opts.input);
  } catch {
    return undefined;
  }
  return weights === undefined ? undefined : balancedShares(weights, workers);
}

/**
 * The caller's pool, or threads of this replay's own, closed when it ends. A failed replay
 * closes the caller's pool too (it is of no further use): every thread has stopped before the
 * failure is passed on, so nothing writes into `out` any more.
 */
async function withPool<T>(opts: ParallelReplayOptions, workers: number, use: (pool: ReplayWorkerPool) => Promise<T>): Promise<T> {
  const pool = opts.pool ?? startReplayPool(opts.plan, workers);
  try {
    return await use(pool);
  } catch (e) {
    await pool.close();
    throw e;
  } finally {
    if (opts.pool === undefined) await pool.close();
  }
}

/** What every thread of the replay is given with each stage. */
function job(opts: ParallelReplayOptions, stateDir: string): ReplayJob {
  return {
    input: opts.input,
    out: opts.out,
    stateDir,
    deadLetterDir: opts.deadLetterDir,
    droppedLateDir: opts.droppedLateDir,
    keys: opts.keys,
    stopAtFrontier: opts.stopAtFrontier,
    cacheKeys: opts.cacheKeys,
  };
}

/** Progress summed over the threads, reported as the running total. */
function totalProgress(opts: ParallelReplayOptions): (n: number) => void {
  let processed = 0;
  return (n) => {
    processed += n;
    opts.onProgress?.(processed);
  };
}

function mergeSummaries(parts: readonly ReplaySummary[]): ReplaySummary {
  const counters = emptyCounters();
  for (const p of parts) addCounters(counters, p.counters);
  const first = parts[0];
  return {
    version: first.version,
    counters,
    files: parts.flatMap((p) => p.files).sort((a, b) => (a.path < b.path ? -1 : 1)),
    inputRanges: parts
      .flatMap((p) => p.inputRanges)
      .sort((a, b) => (a.source !== b.source ? (a.source < b.source ? -1 : 1) : a.partition - b.partition)),
    deadLetters: { count: parts.reduce((n, p) => n + p.deadLetters.count, 0), dir: first.deadLetters.dir },
    lateRecords: { count: parts.reduce((n, p) => n + p.lateRecords.count, 0), dir: first.lateRecords.dir },
    labels: first.labels,
    stateCache: mergeStateCaches(parts.flatMap((p) => (p.stateCache === undefined ? [] : [p.stateCache]))),
  };
}

function mergeStateCaches(parts: readonly ReplayStateCache[]): ReplayStateCache | undefined {
  if (parts.length === 0) return undefined;
  return {
    bound: parts[0].bound,
    checkpoints: parts.reduce((n, p) => n + p.checkpoints, 0),
    evictions: parts.reduce((n, p) => n + p.evictions, 0),
    lowestBound: Math.min(...parts.map((p) => p.lowestBound)),
    expiredKeys: parts.reduce((n, p) => n + p.expiredKeys, 0),
  };
}
