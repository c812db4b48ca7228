import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { CompiledPlan } from '../plan/compile.js';
import { seedNormalizedSources } from '../plan/function-fingerprint.js';
import { loadTopology } from '../plan/load-topology.js';
import type { ReplayInputSpec } from './replay-input.js';
import type { InputRange } from '../engine/input.js';
import type { TrainingFileSummary } from '../io/files/parquet-training-writer.js';
import { replayPartitions, type KeySelection, type RegroupSpillOptions, type ReplaySummary } from './replay-partitions.js';
import { answerRegroupPartitions, assembleOriginPartitions, type AnsweredPartitions } from './replay-regrouped.js';
import { receiveSlices } from './slice-feed.js';

/** What a replay thread is started with: the topology it loads while the coordinator prepares the first stage. */
export interface ReplayWorkerData {
  readonly topologyFile: string;
  /** This module and what it imports as one JavaScript file (replay-worker-bundle.ts); the TypeScript sources through tsx when absent. */
  readonly bundle?: string;
  /** The topology file built to JavaScript (replay-worker-bundle.ts topologyBundle): loaded without tsx when its plan has the expected version. */
  readonly topologyBundle?: string;
  /** The coordinator's normalized function sources (function-fingerprint.ts), so compiling the plan here makes no esbuild call. */
  readonly normalizedSources?: ReadonlyArray<readonly [string, string]>;
  /** The process's largest semi-space (heap-pressure.ts): V8's flags hold for every thread, but a thread is not given them on its command line. */
  readonly semiSpaceBytes?: number;
  readonly version: string;
  readonly worker: number;
  readonly workers: number;
}

/** The replay a stage belongs to: its input, outputs and options (the same for every stage of one replay). */
export interface ReplayJob {
  readonly input: ReplayInputSpec;
  readonly out: string;
  readonly stateDir: string;
  readonly deadLetterDir?: string;
  readonly droppedLateDir?: string;
  readonly keys?: KeySelection;
  readonly stopAtFrontier?: boolean;
  readonly cacheKeys?: number;
  /** The state root goes after the replay (ReplayPartitionsOptions.discardState). */
  readonly discardState?: boolean;
  /** Topologies with a regrouping: the spill the passes write and read. */
  readonly regroup?: RegroupSpillOptions;
  /** For the answer stage: keep the regroup partitions' state in stateDir (ParallelReplayOptions.keepRegroupedState). */
  readonly keepRegroupedState?: boolean;
}

/** One stage for a worker: the origin tasks, or pass 2 or 3 of a regrouped replay (replay-regrouped.ts). */
export interface ReplayStage {
  readonly stage: 'origin' | 'answer' | 'assemble';
  readonly job: ReplayJob;
  /** For the answer and assemble stages: the input ranges pass 1 read. */
  readonly inputRanges?: readonly InputRange[];
  /** This worker's partitions in the stage (partition-shares.ts); default those with p % workers === worker. */
  readonly partitions?: readonly number[];
  /** Origin stage: this source's records arrive as slices over this port instead of from its file (slice-feed.ts). */
  readonly sliced?: { readonly source: string; readonly port: MessagePort };
}

/** The coordinator's messages: a stage to run, or the end (the thread then exits). */
export type ReplayWorkerRequest = ReplayStage | { readonly stage: 'end' };

export type ReplayWorkerMessage =
  | { readonly type: 'progress'; readonly processed: number }
  | { readonly type: 'done'; readonly summary: ReplaySummary }
  | { readonly type: 'files'; readonly files: readonly TrainingFileSummary[]; readonly answered?: AnsweredPartitions }
  | { readonly type: 'error'; readonly message: string };

const data = workerData as ReplayWorkerData;
const post = (m: ReplayWorkerMessage): void => parentPort!.postMessage(m);

async function runOrigin(plan: CompiledPlan, job: ReplayJob, partitionFilter: (p: number) => boolean, sliced: ReplayStage['sliced']): Promise<void> {
  let reported = 0;
  // Posted often enough for a smooth progress bar, rarely enough to cost nothing (the clock drives display only).
  let postedAt = Date.now();
  const summary = await replayPartitions({
    plan,
    input: job.input,
    out: job.out,
    stateDir: job.stateDir,
    deadLetterDir: job.deadLetterDir,
    droppedLateDir: job.droppedLateDir,
    keys: job.keys,
    stopAtFrontier: job.stopAtFrontier,
    cacheKeys: job.cacheKeys,
    discardState: job.discardState,
    semiSpaceBytes: data.semiSpaceBytes,
    partitionFilter,
    regroup: job.regroup,
    sliced: sliced === undefined ? undefined : { source: sliced.source, groups: receiveSlices(sliced.port) },
    onProgress: (n) => {
      if (n - reported >= 65536 || (n > reported && Date.now() - postedAt >= 250)) {
        post({ type: 'progress', processed: n - reported });
        reported = n;
        postedAt = Date.now();
      }
    },
  });
  post({ type: 'progress', processed: summary.counters.processed - reported });
  post({ type: 'done', summary });
}

/** Passes 2 and 3 of a regrouped replay (replay-regrouped.ts). */
async function runRegroupPass(plan: CompiledPlan, job: ReplayJob, stage: 'answer' | 'assemble', partitionFilter: (p: number) => boolean, inputRanges: readonly InputRange[]): Promise<void> {
  const regroup = job.regroup!;
  const stateDir = job.keepRegroupedState === true ? job.stateDir : undefined;
  const pass = {
    plan, input: job.input, out: job.out, spillDir: regroup.dir, partitions: regroup.partitions, inputRanges, partitionFilter, stateDir,
    queriedKeysOnly: regroup.recordQueries === true, cacheKeys: job.cacheKeys, semiSpaceBytes: data.semiSpaceBytes,
  };
  const answered = stage === 'answer' ? await answerRegroupPartitions(pass) : undefined;
  post({ type: 'files', files: stage === 'assemble' ? await assembleOriginPartitions(pass) : [], answered });
}

let planLoaded: Promise<CompiledPlan> | undefined;

async function runStage(s: ReplayStage): Promise<void> {
  try {
    const plan = await planLoaded!;
    const mine = s.partitions;
    const partitionFilter = (p: number): boolean => (mine === undefined ? p % data.workers === data.worker : mine.includes(p));
    if (s.stage === 'origin') await runOrigin(plan, s.job, partitionFilter, s.sliced);
    else await runRegroupPass(plan, s.job, s.stage, partitionFilter, s.inputRanges ?? []);
  } catch (e) {
    post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
}

/**
 * Start serving the coordinator: load the topology while the coordinator prepares the first
 * stage, then run stages as they come. The topology comes from its JavaScript build when there
 * is one and it compiles to the expected version; otherwise `registerTsx` is called (idempotent)
 * and the file loads through tsx.
 */
export function startReplayWorker(registerTsx: () => Promise<void>): void {
  seedNormalizedSources(data.normalizedSources ?? []);
  planLoaded = (async () => {
    if (data.topologyBundle !== undefined) {
      try {
        const built = await loadTopology(data.topologyFile, data.topologyBundle);
        if (built.version === data.version) return built;
      } catch {
        // Loaded through tsx below, which reports what is wrong with the file.
      }
    }
    await registerTsx();
    const plan = await loadTopology(data.topologyFile);
    if (plan.version !== data.version) throw new Error(`topology ${data.topologyFile} changed while the backfill was starting (version ${plan.version}, expected ${data.version})`);
    return plan;
  })();
  // Unhandled until the first stage awaits it.
  planLoaded.catch(() => undefined);
  parentPort!.on('message', (m: ReplayWorkerRequest) => {
    if (m.stage === 'end') parentPort!.close();
    else void runStage(m);
  });
}
