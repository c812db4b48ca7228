import { countInputRecords } from '../io/files/input-record-count.js';
import type { CompiledPlan } from '../plan/compile.js';
import { replayInParallel } from './replay-parallel.js';
import type { ReplayOutputOptions, ReplaySummary } from './replay-partitions.js';

export type { ReplaySummary } from './replay-partitions.js';

export interface BackfillOptions extends ReplayOutputOptions {
  readonly plan: CompiledPlan;
  /** Source name → file or directory. Every engine source needs one; label sources too when joined. */
  readonly inputs: Readonly<Record<string, string>>;
  /** Partitions to split a single input file into by the source key, as a keyed Kafka topic would be. */
  readonly partitions?: number;
  /** Keep the final state here (one LevelDB per task) for bootstrap; default a temporary directory removed at the end. */
  readonly stateDir?: string;
  readonly batchSize?: number;
  /** Worker threads; partition p goes to worker p mod workers. Default: min(cores, partitions). */
  readonly workers?: number;
  /** Called before the replay with the number of engine records the input files hold (for a progress total). */
  readonly onTotal?: (records: number) => void;
}

/** Records of the engine sources' inputs; undefined when a file cannot be counted (the replay then says why). */
async function engineRecords(plan: CompiledPlan, inputs: Readonly<Record<string, string>>): Promise<number | undefined> {
  let total = 0;
  for (const source of plan.engineSources) {
    const path = inputs[source];
    if (path === undefined) return undefined;
    try {
      total += await countInputRecords(path);
    } catch {
      return undefined;
    }
  }
  return total;
}

/** Replay archived data (NDJSON, Avro OCF, Parquet) into training data. */
export async function replayFiles(opts: BackfillOptions): Promise<ReplaySummary> {
  const partitions = opts.partitions ?? 1;
  if (opts.onTotal) {
    const total = await engineRecords(opts.plan, opts.inputs);
    if (total !== undefined) opts.onTotal(total);
  }
  return replayInParallel({
    plan: opts.plan,
    input: { kind: 'files', inputs: opts.inputs, partitions, batchSize: opts.batchSize },
    partitions,
    out: opts.out,
    deadLetterDir: opts.deadLetterDir,
    droppedLateDir: opts.droppedLateDir,
    keys: opts.keys,
    stopAtFrontier: opts.stopAtFrontier,
    cacheKeys: opts.cacheKeys,
    stateDir: opts.stateDir,
    workers: opts.workers,
    onProgress: opts.onProgress,
  });
}
