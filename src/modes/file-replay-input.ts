import type { InputBatch } from '../engine/input.js';
import type { Program } from '../engine/program.js';
import { openFileInput, type FileInput } from '../io/files/partitioned-file-input.js';
import type { CompiledPlan } from '../plan/compile.js';
import type { FileInputSpec, ReplayInput } from './replay-input.js';

/** One batch from each partition's reader in turn, so every task makes progress. */
async function* roundRobin(inputs: readonly FileInput[]): AsyncGenerator<InputBatch> {
  const its = inputs.map((i) => i.batches()[Symbol.asyncIterator]());
  const live = its.map(() => true);
  while (live.some(Boolean)) {
    for (let i = 0; i < its.length; i++) {
      if (!live[i]) continue;
      const r = await its[i].next();
      if (r.done) live[i] = false;
      else yield r.value;
    }
  }
}

function requireInput(spec: FileInputSpec, source: string): string {
  const p = spec.inputs[source];
  if (!p) throw new Error(`no input for source "${source}": pass --input ${source}=<file or directory>`);
  return p;
}

/** Archive files as replay input. File layout problems throw here, before any reading. */
export function openFileReplayInput(plan: CompiledPlan, program: Program, spec: FileInputSpec, partitionFilter?: (partition: number) => boolean): ReplayInput {
  const inputs = program.sources.map((s) =>
    openFileInput({
      source: s.node.name,
      path: requireInput(spec, s.node.name),
      readerSchema: plan.schemas.get(s.node.name)?.json,
      partitions: spec.partitions,
      partitionKey: (v) => {
        const k = s.node.key(v);
        return k === null || k === undefined ? null : String(k);
      },
      batchSize: spec.batchSize,
      partitionFilter,
    }),
  );
  return {
    labelBatches: (source) => openFileInput({ source, path: requireInput(spec, source), readerSchema: plan.schemas.get(source)?.json }).batches(),
    engineBatches: () => roundRobin(inputs),
    ranges: () => inputs.flatMap((i) => i.ranges()),
    position: (source, partition, record) => inputs[program.sources.findIndex((s) => s.node.name === source)]?.position(partition, record),
    close: async () => undefined,
  };
}
