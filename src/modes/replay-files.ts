import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InputBatch, InputRange } from '../engine/input.js';
import type { TaskSinks } from '../engine/outputs.js';
import { buildProgram, type Program } from '../engine/program.js';
import { Task } from '../engine/task.js';
import { addCounters, emptyCounters, type TaskCounters } from '../engine/task-counters.js';
import { openFileInput, type FileInput } from '../io/files/partitioned-file-input.js';
import type { TrainingFileSummary } from '../io/files/parquet-training-writer.js';
import { canonicalJson } from '../plan/canonical-json.js';
import type { CompiledPlan } from '../plan/compile.js';
import { LevelBackend, type StateBackend } from '../state/state-backend.js';
import { LabelIndex } from './label-index.js';
import { NdjsonSink, rawForJson } from './ndjson-sink.js';
import { TrainingSink } from './training-sink.js';

export interface FileReplayOptions {
  readonly plan: CompiledPlan;
  /** Source name → file or directory. Every engine source needs one; label sources too when joined. */
  readonly inputs: Readonly<Record<string, string>>;
  /** Output directory: `<out>/<output>/part-NNNNN.parquet`, plus `_dead_letters.ndjson` / `_late_records.ndjson`. */
  readonly out: string;
  /** Partitions to split a single input file into by the source key, as a keyed Kafka topic would be. */
  readonly partitions?: number;
  /** Keep the final state here (for bootstrap); default a temporary directory removed at the end. */
  readonly stateDir?: string;
  readonly deadLetterPath?: string;
  readonly batchSize?: number;
  readonly onProgress?: (processed: number) => void;
}

export interface ReplaySummary {
  readonly version: string;
  readonly counters: TaskCounters;
  readonly files: readonly TrainingFileSummary[];
  readonly inputRanges: readonly InputRange[];
  readonly deadLetterPath?: string;
  readonly lateRecordsPath?: string;
  readonly labels: Readonly<Record<string, { events: number; malformed: number; dataEnd: number | null }>>;
}

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

function requireInput(opts: FileReplayOptions, source: string): string {
  const p = opts.inputs[source];
  if (!p) throw new Error(`no input for source "${source}": pass --input ${source}=<file or directory>`);
  return p;
}

/** Replay archived source data through the engine into training data. */
export async function replayFiles(opts: FileReplayOptions): Promise<ReplaySummary> {
  const { plan } = opts;
  const program: Program = buildProgram(plan);
  mkdirSync(opts.out, { recursive: true });

  const labelIndexes = new Map<string, LabelIndex>();
  for (const o of program.outputs) {
    if (!o.labelJoin) continue;
    const src = plan.topology.sources.find((s) => s.name === o.labelJoin!.source)!;
    const idx = new LabelIndex(src, o.labelJoin);
    const input = openFileInput({ source: src.name, path: requireInput(opts, src.name), readerSchema: plan.schemas.get(src.name)?.json });
    for await (const batch of input.batches()) idx.add(batch);
    labelIndexes.set(o.name, idx);
  }

  const inputs = program.sources.map((s) =>
    openFileInput({
      source: s.node.name,
      path: requireInput(opts, s.node.name),
      readerSchema: plan.schemas.get(s.node.name)?.json,
      partitions: opts.partitions ?? 1,
      partitionKey: (v) => {
        const k = s.node.key(v);
        return k === null || k === undefined ? null : String(k);
      },
      batchSize: opts.batchSize,
    }),
  );
  const rangesFor = (partition: number): InputRange[] => inputs.flatMap((i) => i.ranges()).filter((r) => r.partition === partition);

  const fingerprints: Record<string, string> = {};
  for (const [name, s] of plan.schemas) fingerprints[name] = s.fingerprint;
  const training = new TrainingSink(
    opts.out,
    program,
    (output, partition) => ({
      'skewless.version': plan.version,
      'skewless.topology': plan.topology.name,
      'skewless.output': output,
      'skewless.partition': String(partition),
      'skewless.input_ranges': JSON.stringify(rangesFor(partition)),
      'skewless.schema_fingerprints': canonicalJson(fingerprints),
      'skewless.plan': canonicalJson(plan.canonical),
    }),
    labelIndexes,
  );
  const deadPath = opts.deadLetterPath ?? join(opts.out, '_dead_letters.ndjson');
  const dead = new NdjsonSink(deadPath);
  const late = new NdjsonSink(join(opts.out, '_late_records.ndjson'));
  const sinks: TaskSinks = {
    feature: (r) => training.feature(r),
    window: (r) => training.window(r),
    deadLetter: (d) => dead.write({ source: d.source, partition: d.partition, offset: d.offset, reason: d.reason, raw: rawForJson(d.raw) }),
    late: (l) =>
      late.write({ source: l.source, partition: l.partition, offset: l.offset, event_time: l.eventTime, stream_time: l.streamTime, reason: l.reason, value: l.value }),
  };

  const tempState = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'skewless-state-'));
  const backend: StateBackend = await LevelBackend.open(stateDir);
  const tasks = new Map<number, Task>();
  let processed = 0;
  try {
    for await (const batch of roundRobin(inputs)) {
      let task = tasks.get(batch.partition);
      if (!task) {
        task = await Task.open(program, batch.partition, backend, sinks);
        tasks.set(batch.partition, task);
      }
      await task.process(batch);
      processed += batch.records.length;
      opts.onProgress?.(processed);
    }
    const partitions = [...tasks.keys()].sort((a, b) => a - b);
    for (const p of partitions) for (const s of program.sources) await tasks.get(p)!.endOfInput(s.node.name);
    for (const p of partitions) await tasks.get(p)!.checkpoint();
  } catch (e) {
    training.abort();
    throw e;
  } finally {
    dead.close();
    late.close();
    await backend.close();
    if (tempState) rmSync(stateDir, { recursive: true, force: true });
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
    inputRanges: inputs.flatMap((i) => i.ranges()),
    deadLetterPath: dead.count > 0 ? deadPath : undefined,
    lateRecordsPath: late.count > 0 ? late.path : undefined,
    labels,
  };
}
