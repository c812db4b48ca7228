import type { CompiledPlan } from '../plan/compile.js';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { functionFingerprint } from '../plan/function-fingerprint.js';
import { filePartitionBytes } from './file-replay-input.js';
import type { FileInputSpec, ReplayInputSpec } from './replay-input.js';
import { cacheDir, writeAtomically } from './build-cache.js';

/**
 * Per engine partition, how much input its task will read, in units comparable within one
 * input: records of the snapshot's offset ranges for Kafka, bytes of file for archives; undefined
 * when that is not known without reading the input (a large file split by key). Replay gives
 * partitions to threads by it (partition-shares.ts).
 */
export async function inputPartitionWeights(plan: CompiledPlan, spec: ReplayInputSpec): Promise<number[] | undefined> {
  if (spec.kind === 'files') return cachedFileWeights(plan, spec);
  const weights = new Array<number>(spec.partitions).fill(0);
  for (const s of spec.sources) {
    if (!plan.engineSources.includes(s.source)) continue;
    for (const r of s.ranges) if (r.partition < spec.partitions) weights[r.partition] += r.end - r.start;
  }
  return weights;
}

/**
 * filePartitionBytes, kept under node_modules/.cache by what it depends on: each engine
 * source's file (path, size, modification time), its key function's code, and the partition
 * count. Weighing a large split Parquet file reads its key column whole (0.2-0.4 s on the
 * coordinator while the replay threads start); a replay of the same archive again (a new
 * topology version over the same history, a benchmark) takes the weights from the cache. Only
 * the threads' shares depend on them, never an output, so a file rewritten in place with the
 * same size and time costs balance at worst.
 */
async function cachedFileWeights(plan: CompiledPlan, spec: FileInputSpec): Promise<number[] | undefined> {
  let path: string | undefined;
  try {
    const parts: unknown[] = [spec.partitions];
    for (const name of plan.engineSources) {
      const file = resolve(spec.inputs[name] ?? '');
      const st = statSync(file);
      // A directory's weights are its files' sizes: nothing to save.
      if (st.isDirectory()) return await filePartitionBytes(plan, spec);
      const node = plan.topology.sources.find((s) => s.name === name)!;
      parts.push([name, file, st.size, st.mtimeMs, functionFingerprint(node.key)]);
    }
    path = join(cacheDir, 'weights', `${createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 24)}.json`);
    const known = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (Array.isArray(known) && known.length === spec.partitions && known.every((w) => typeof w === 'number')) return known as number[];
  } catch {
    // Not weighed yet (or an input that cannot be read: filePartitionBytes says so).
  }
  const weights = await filePartitionBytes(plan, spec);
  if (weights !== undefined && path !== undefined) {
    try {
      writeAtomically(path, JSON.stringify(weights));
      pruneWeights();
    } catch {
      // A read-only install weighs every time.
    }
  }
  return weights;
}

/** At most 256 weighed inputs are kept (tests weigh many temporary files): the oldest half goes. */
function pruneWeights(): void {
  const dir = join(cacheDir, 'weights');
  const files = readdirSync(dir);
  if (files.length <= 256) return;
  const byAge = files.map((f) => [f, statSync(join(dir, f)).mtimeMs] as const).sort((a, b) => a[1] - b[1]);
  for (const [f] of byAge.slice(0, files.length >> 1)) rmSync(join(dir, f), { force: true });
}
