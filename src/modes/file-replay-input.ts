import { statSync } from 'node:fs';
import type { InputBatch } from '../engine/input.js';
import type { Program } from '../engine/program.js';
import { detectFileFormat } from '../io/files/input-format.js';
import { flatValuesOnly } from '../io/files/parquet-reader.js';
import type { SliceGroup, SplitSlicesOptions } from '../io/files/parquet-split-slices.js';
import { openFileInput, partitionBytes, type FileInput, type FileInputOptions } from '../io/files/partitioned-file-input.js';
import { slicedFileInput } from '../io/files/sliced-file-input.js';
import type { CompiledPlan } from '../plan/compile.js';
import type { SourceNode } from '../dsl/nodes.js';
import type { FileInputSpec, ReplayInput } from './replay-input.js';

/**
 * One batch from each partition's reader in turn, so every task makes progress. A consumer that
 * stops early (a failed replay) ends the readers still open, so each closes its file at once
 * rather than when the garbage collector finds its handle.
 */
async function* roundRobin(inputs: readonly FileInput[]): AsyncGenerator<InputBatch> {
  const its = inputs.map((i) => i.batches()[Symbol.asyncIterator]());
  const live = its.map(() => true);
  try {
    while (live.some(Boolean)) {
      for (let i = 0; i < its.length; i++) {
        if (!live[i]) continue;
        const r = await its[i].next();
        if (r.done) live[i] = false;
        else yield r.value;
      }
    }
  } finally {
    await Promise.all(its.map((it, i) => (live[i] ? it.return?.(undefined) : undefined)));
  }
}

function requireInput(spec: FileInputSpec, source: string): string {
  const p = spec.inputs[source];
  if (!p) throw new Error(`no input for source "${source}": pass --input ${source}=<file or directory>`);
  return p;
}

/** How an engine source's files are read: split by the source's key into the spec's partitions. */
function engineFileOptions(plan: CompiledPlan, node: SourceNode, spec: FileInputSpec, partitionFilter?: (partition: number) => boolean): FileInputOptions {
  return {
    source: node.name,
    path: requireInput(spec, node.name),
    readerSchema: plan.schemas.get(node.name)?.json,
    partitions: spec.partitions,
    partitionKey: (v) => {
      const k = node.key(v);
      return k === null || k === undefined ? null : String(k);
    },
    batchSize: spec.batchSize,
    partitionFilter,
  };
}

/** A source whose split file another thread reads, and the slices of this thread's partitions it sends. */
export interface SlicedSource {
  readonly source: string;
  readonly groups: AsyncIterable<SliceGroup>;
}

/**
 * Archive files as replay input. File layout problems throw here, before any reading. The
 * `sliced` source's records come from its slices instead of its file (sliceableSplit).
 */
export function openFileReplayInput(plan: CompiledPlan, program: Program, spec: FileInputSpec, partitionFilter?: (partition: number) => boolean, sliced?: SlicedSource): ReplayInput {
  const inputs = program.sources.map((s) => {
    const options = engineFileOptions(plan, s.node, spec, partitionFilter);
    if (sliced === undefined || sliced.source !== s.node.name) return openFileInput(options);
    return slicedFileInput({ source: options.source, path: options.path, partitions: spec.partitions, partitionFilter: partitionFilter ?? (() => true), groups: sliced.groups, batchSize: spec.batchSize });
  });
  return {
    labelBatches: (source) => openFileInput({ source, path: requireInput(spec, source), readerSchema: plan.schemas.get(source)?.json }).batches(),
    engineBatches: () => roundRobin(inputs),
    ranges: () => inputs.flatMap((i) => i.ranges()),
    position: (source, partition, record) => inputs[program.sources.findIndex((s) => s.node.name === source)]?.position(partition, record),
    close: async () => undefined,
  };
}

/** Per engine partition, how many bytes of input files it holds (see partitionBytes); undefined when a split file is too large to count. */
export async function filePartitionBytes(plan: CompiledPlan, spec: FileInputSpec): Promise<number[] | undefined> {
  const total = new Array<number>(spec.partitions).fill(0);
  for (const name of plan.engineSources) {
    const node = plan.topology.sources.find((s) => s.name === name)!;
    const bytes = await partitionBytes(engineFileOptions(plan, node, spec), spec.partitions);
    if (bytes === undefined) return undefined;
    for (let p = 0; p < spec.partitions; p++) total[p] += bytes[p];
  }
  return total;
}

/**
 * When a file replay's only engine source is one Parquet file of plain values split into
 * partitions, how to slice it (splitParquetSlices): the coordinator then decodes and routes the
 * file once for all replay threads instead of each thread decoding all of it to keep its share.
 * Undefined for any other input, which each thread reads itself.
 */
export async function sliceableSplit(plan: CompiledPlan, spec: FileInputSpec): Promise<(SplitSlicesOptions & { readonly source: string }) | undefined> {
  if (spec.partitions < 2 || plan.engineSources.length !== 1) return undefined;
  const source = plan.engineSources[0];
  const node = plan.topology.sources.find((s) => s.name === source);
  const path = spec.inputs[source];
  if (node === undefined || path === undefined) return undefined;
  try {
    if (!statSync(path).isFile() || detectFileFormat(path) !== 'parquet') return undefined;
  } catch {
    return undefined;
  }
  const options = engineFileOptions(plan, node, spec);
  if (!(await flatValuesOnly(path, { readerSchema: options.readerSchema }))) return undefined;
  return { source, path, readerSchema: options.readerSchema, partitions: spec.partitions, key: options.partitionKey! };
}
