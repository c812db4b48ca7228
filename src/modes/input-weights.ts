import type { CompiledPlan } from '../plan/compile.js';
import { filePartitionBytes } from './file-replay-input.js';
import type { ReplayInputSpec } from './replay-input.js';

/**
 * Per engine partition, how much input its task will read, in units comparable within one
 * input: records of the snapshot's offset ranges for Kafka, bytes of file for archives; undefined
 * when that is not known without reading the input (a large file split by key). Replay gives
 * partitions to threads by it (partition-shares.ts).
 */
export async function inputPartitionWeights(plan: CompiledPlan, spec: ReplayInputSpec): Promise<number[] | undefined> {
  if (spec.kind === 'files') return filePartitionBytes(plan, spec);
  const weights = new Array<number>(spec.partitions).fill(0);
  for (const s of spec.sources) {
    if (!plan.engineSources.includes(s.source)) continue;
    for (const r of s.ranges) if (r.partition < spec.partitions) weights[r.partition] += r.end - r.start;
  }
  return weights;
}
