import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { InputRecord } from '../engine/input.js';
import type { DeadLetter, FeatureRow, LateRecord, OutputColumn, TaskSinks, WindowRowOut } from '../engine/outputs.js';
import { buildProgram, type Program } from '../engine/program.js';
import { Task } from '../engine/task.js';
import { featureRecordSchema, windowRecordSchema } from '../io/avro/feature-record-schema.js';
import { SchemaRegistryClient } from '../io/avro/registry-client.js';
import { WireDecoder } from '../io/avro/wire-decoder.js';
import { WireEncoder } from '../io/avro/wire-encoder.js';
import { GroupConsumer, type ConsumedBatch } from '../io/kafka/group-consumer.js';
import { KafkaConnection } from '../io/kafka/kafka-connection.js';
import { ensureTopic, topicPartitionCount } from '../io/kafka/topic-admin.js';
import { TopicProducer, type OutgoingMessage } from '../io/kafka/topic-producer.js';
import type { AggValue } from '../ops/aggregation.js';
import { LiveParityLog } from '../parity/parity-log.js';
import type { CompiledPlan } from '../plan/compile.js';
import { MetricsRegistry } from '../serve/metrics.js';
import { LevelBackend } from '../state/state-backend.js';
import { taskStateDir } from '../state/task-state-dir.js';

export interface LiveOptions {
  readonly plan: CompiledPlan;
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  /** State root: one LevelDB per task. */
  readonly stateDir: string;
  /** Consumer group; default `skewless-<topology>`. */
  readonly group?: string;
  /** Apply at most this many records per engine call (small values exercise batching in tests). */
  readonly maxBatch?: number;
  /** Bytes fetched per partition and request. */
  readonly maxBytesPerPartition?: number;
  /** Keys of lookback state kept in memory per group and task (default 250,000; see TaskOptions). */
  readonly maxCachedKeys?: number;
  /** Partitions processed at once (default 1; on 2 cores with the broker beside it, more only adds latency). */
  readonly partitionsConcurrently?: number;
  /** Topic per source, overriding the topology's (deployment config, like the group). */
  readonly sourceTopics?: Readonly<Record<string, string>>;
  /** Topic per output (feature or window output name), overriding the topology's. */
  readonly outputTopics?: Readonly<Record<string, string>>;
  /** Prefix of the late-records and dead-letter topics; default the topology name. */
  readonly sideTopicPrefix?: string;
  readonly metrics?: MetricsRegistry;
  readonly verbose?: boolean;
  readonly log?: (line: string) => void;
  /** Also write served vectors of sampled keys (rate in [0, 1], by key hash) to this parity log topic, and optionally a local file (src/parity/parity-log.ts). */
  readonly parity?: { readonly rate: number; readonly topic: string; readonly file?: string };
  /**
   * Profiling hook (default off): called once per fetched batch after its outputs are acked and
   * its state checkpointed (before the group offset commit), with where the batch's time went.
   */
  readonly onBatchTiming?: (timing: LiveBatchTiming) => void;
}

/** Where one fetched batch's time went (ms; instants are performance.now()). */
export interface LiveBatchTiming {
  readonly topic: string;
  readonly partition: number;
  readonly records: number;
  /** When the batch was handed to the worker (fetched). */
  readonly fetchedAt: number;
  /** When its last outputs were acknowledged and its state checkpointed. */
  readonly doneAt: number;
  /** Task open (first batch of a partition) and wire decoding. */
  readonly decodeMs: number;
  /** Waiting for this task's earlier work (idle skips) to finish. */
  readonly queueMs: number;
  /** Task.process: the engine, including output encoding in the sinks. */
  readonly engineMs: number;
  /** Handing the outputs to the producer and waiting for their acks. */
  readonly produceMs: number;
  /** Task.checkpoint (one LevelDB batch) and task metrics. */
  readonly checkpointMs: number;
  /** Output messages produced for the batch. */
  readonly outputs: number;
}

interface TimingAcc {
  produceMs: number;
  checkpointMs: number;
  outputs: number;
}

export interface LiveWorker {
  /** Stop consuming after the batch in progress; every applied record is checkpointed and committed. */
  stop(): Promise<void>;
  /** Resolves with the error when processing failed in a way the worker cannot continue from. */
  readonly failed: Promise<Error>;
  readonly metrics: MetricsRegistry;
}

/** Topic names for the side outputs of a topology. */
export const lateTopic = (prefix: string): string => `${prefix}-late`;
export const deadLetterTopic = (prefix: string): string => `${prefix}-dead-letters`;

interface Encoders {
  readonly features: Map<string, { encoder: WireEncoder; columns: readonly OutputColumn[]; topic: string }>;
  readonly windows: Map<string, { encoder: WireEncoder; columns: readonly OutputColumn[]; topic: string }>;
}

function columnValue(v: AggValue, c: OutputColumn): unknown {
  if (v === null) return null;
  if (c.type === 'boolean') return v === 1;
  return v;
}

/** One partition's task with its store, and a queue so a batch and an idle skip never interleave. */
class LiveTask {
  private chain: Promise<unknown> = Promise.resolve();
  readonly out: OutgoingMessage[] = [];
  readonly topics: string[] = [];
  /** Served vectors written to the parity log (not checkpointed: a restart counts from 0). */
  paritySamples = 0;

  constructor(
    readonly task: Task,
    readonly backend: LevelBackend,
  ) {}

  serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  emit(topic: string, m: OutgoingMessage): void {
    this.topics.push(topic);
    this.out.push(m);
  }
}

/**
 * The live driver: a consumer-group member running one task per assigned partition through
 * the same engine as replay. Per fetched batch: decode (schema registry), apply, produce the
 * outputs and wait for their acks, checkpoint state + stream time + positions in one LevelDB
 * batch, then commit the group offset. A crash anywhere replays from the checkpoint and
 * reproduces the same output bytes, so outputs are at least once and never different.
 */
export async function startLiveWorker(opts: LiveOptions): Promise<LiveWorker> {
  const { plan } = opts;
  const program: Program = buildProgram(plan);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const metrics = opts.metrics ?? new MetricsRegistry();
  const conn = await KafkaConnection.open({ brokers: opts.brokers, verbose: opts.verbose });
  try {
    return await startOnConnection(opts, program, conn, log, metrics);
  } catch (e) {
    // Set-up failed (missing topic, state of another version, ...): release the connection.
    await conn.close().catch(() => undefined);
    throw e;
  }
}

async function startOnConnection(
  opts: LiveOptions,
  program: Program,
  conn: KafkaConnection,
  log: (line: string) => void,
  metrics: MetricsRegistry,
): Promise<LiveWorker> {
  const { plan } = opts;
  const registry = await SchemaRegistryClient.open(opts.registryUrl);
  mkdirSync(opts.stateDir, { recursive: true });

  const sidePrefix = opts.sideTopicPrefix ?? plan.topology.name;
  const topicOf = (s: { node: { name: string; topic: string } }): string => opts.sourceTopics?.[s.node.name] ?? s.node.topic;
  const sources = new Map(program.sources.map((s) => [topicOf(s), s]));
  const decoders = new Map(program.sources.map((s) => [topicOf(s), new WireDecoder(registry, plan.schemas.get(s.node.name)!.json)]));
  let partitions = 0;
  for (const [topic] of sources) {
    const n = await topicPartitionCount(conn, topic);
    if (n === undefined) throw new Error(`source topic ${topic} does not exist; produce to it first (skewless produce) or create it`);
    if (partitions !== 0 && n !== partitions) throw new Error(`source topics are not co-partitioned: ${topic} has ${n} partitions, expected ${partitions}`);
    partitions = n;
  }

  const encoders: Encoders = { features: new Map(), windows: new Map() };
  for (const o of program.outputs) {
    const topic = opts.outputTopics?.[o.name] ?? o.topic;
    await ensureTopic(conn, topic, partitions);
    const schema = featureRecordSchema(o.name, o.columns);
    const id = await registry.register(`${topic}-value`, schema);
    encoders.features.set(o.name, { encoder: new WireEncoder(schema, id), columns: o.columns, topic });
  }
  for (const w of program.windowOps) {
    const topic = opts.outputTopics?.[w.name] ?? w.node.topic;
    await ensureTopic(conn, topic, partitions);
    const schema = windowRecordSchema(w.name, w.columns);
    const id = await registry.register(`${topic}-value`, schema);
    encoders.windows.set(w.name, { encoder: new WireEncoder(schema, id), columns: w.columns, topic });
  }
  await ensureTopic(conn, lateTopic(sidePrefix), partitions);
  await ensureTopic(conn, deadLetterTopic(sidePrefix), partitions);
  // Parity log: same partition count as the inputs, so a sampled vector keeps its partition.
  let parityLog: LiveParityLog | undefined;
  if (opts.parity !== undefined) {
    await ensureTopic(conn, opts.parity.topic, partitions);
    parityLog = await LiveParityLog.open(registry, opts.parity, new Map(program.sources.map((s) => [s.node.name, topicOf(s)])), plan.version, plan.topology.name);
  }
  const producer = await TopicProducer.open(conn);
  const versionHeader = { 'skewless-version': plan.version, 'skewless-topology': plan.topology.name };

  const tasks = new Map<number, LiveTask>();
  const sinksFor = (lt: () => LiveTask): TaskSinks => ({
    feature: (r: FeatureRow) => {
      const e = encoders.features.get(r.output)!;
      const value: Record<string, unknown> = { key: r.key, event_time: r.eventTime, partition: r.partition, offset: r.offset };
      e.columns.forEach((c, i) => {
        if (c.role !== 'label') value[c.name] = columnValue(r.values[i], c);
      });
      const enc = e.encoder.encode(value);
      if (enc.error !== undefined) throw new Error(`output ${r.output}: ${enc.error}`);
      lt().emit(e.topic, { key: r.key, value: enc.bytes, partition: r.partition, timestamp: r.eventTime, headers: { ...versionHeader, 'skewless-source': r.source, 'skewless-offset': String(r.offset) } });
      // The served record itself goes to the parity log, in the same batch as the feature record.
      const sampled = parityLog?.messageFor(r, value, lt().task.counters.mergeSkips);
      if (sampled !== undefined) {
        lt().emit(parityLog!.topic, sampled);
        lt().paritySamples++;
      }
    },
    window: (r: WindowRowOut) => {
      const e = encoders.windows.get(r.output)!;
      const value: Record<string, unknown> = { key: r.key, window_start: r.windowStart, window_end: r.windowEnd, partition: r.partition, final: r.final };
      e.columns.forEach((c, i) => (value[c.name] = columnValue(r.values[i], c)));
      const enc = e.encoder.encode(value);
      if (enc.error !== undefined) throw new Error(`window output ${r.output}: ${enc.error}`);
      lt().emit(e.topic, { key: r.key, value: enc.bytes, partition: r.partition, timestamp: r.windowEnd, headers: versionHeader });
    },
    deadLetter: (d: DeadLetter) => {
      const raw = d.raw === undefined ? null : typeof d.raw === 'string' ? Buffer.from(d.raw) : Buffer.from(d.raw);
      lt().emit(deadLetterTopic(sidePrefix), {
        key: null,
        value: raw,
        partition: d.partition,
        headers: { ...versionHeader, 'skewless-reason': d.reason, 'skewless-source': d.source, 'skewless-partition': String(d.partition), 'skewless-offset': String(d.offset) },
      });
    },
    late: (l: LateRecord) => {
      lt().emit(lateTopic(sidePrefix), {
        key: l.key,
        value: Buffer.from(JSON.stringify(l.value)),
        partition: l.partition,
        timestamp: l.eventTime,
        headers: { ...versionHeader, 'skewless-reason': l.reason, 'skewless-source': l.source, 'skewless-offset': String(l.offset) },
      });
      markLateForParity(lt(), l);
    },
    lateDropped: (l: LateRecord) => markLateForParity(lt(), l),
  });

  /** Late records of sampled keys go to the parity log too, so parity can tell which rows they touched. */
  function markLateForParity(task: LiveTask, l: LateRecord): void {
    const marker = parityLog?.lateMessageFor(l);
    if (marker !== undefined) task.emit(parityLog!.topic, marker);
  }

  async function taskFor(partition: number): Promise<LiveTask> {
    let lt = tasks.get(partition);
    if (lt) return lt;
    const backend = await LevelBackend.open(taskStateDir(opts.stateDir, partition));
    let holder: LiveTask | undefined;
    try {
      const task = await Task.open(program, partition, backend, sinksFor(() => holder!), { maxCachedKeys: opts.maxCachedKeys });
      holder = new LiveTask(task, backend);
    } catch (e) {
      await backend.close();
      throw e;
    }
    lt = holder;
    tasks.set(partition, lt);
    log(`skewless: task ${partition} resumes at ${JSON.stringify(lt.task.resumePositions())}`);
    return lt;
  }

  /** Produce what the task emitted, wait for the acks, then checkpoint: outputs are never behind state. */
  async function commitOutputs(lt: LiveTask, acc?: TimingAcc): Promise<void> {
    const t0 = acc ? performance.now() : 0;
    if (acc) acc.outputs += lt.out.length;
    for (let i = 0; i < lt.out.length; i++) if (producer.buffer(lt.topics[i], lt.out[i])) await producer.flush();
    lt.out.length = 0;
    lt.topics.length = 0;
    await producer.flush();
    parityLog?.flushFile();
    const t1 = acc ? performance.now() : 0;
    await lt.task.checkpoint();
    publishTaskMetrics(lt);
    if (acc) {
      acc.produceMs += t1 - t0;
      acc.checkpointMs += performance.now() - t1;
    }
  }

  function publishTaskMetrics(lt: LiveTask): void {
    const { task } = lt;
    const labels = { partition: String(task.partition) };
    const c = task.counters;
    metrics.set('skewless_records_total', 'counter', 'Input records applied (including late and dead-lettered)', c.processed, labels);
    metrics.set('skewless_features_total', 'counter', 'Feature vectors emitted', c.emitted, labels);
    metrics.set('skewless_late_total', 'counter', 'Late records (dropped or side output)', c.late, labels);
    metrics.set('skewless_dead_letters_total', 'counter', 'Records dead-lettered with a reason', c.deadLetters, labels);
    metrics.set('skewless_merge_skips_total', 'counter', 'Idle inputs skipped by the canonical merge', c.mergeSkips, labels);
    const cache = task.cacheStats;
    metrics.set('skewless_state_cached_keys', 'gauge', 'Keys whose lookback state is in memory', cache.cachedKeys, labels);
    metrics.set('skewless_state_cache_evictions_total', 'counter', 'Keys evicted from memory at checkpoints since start (read back when they come again)', cache.evictions, labels);
    if (parityLog) metrics.set('skewless_parity_samples_total', 'counter', 'Served vectors written to the parity log since start', lt.paritySamples, labels);
    if (Number.isFinite(task.currentStreamTime)) {
      metrics.set('skewless_stream_time_lag_seconds', 'gauge', 'Wall clock minus stream time', (Date.now() - task.currentStreamTime) / 1000, labels);
    }
  }

  const onBatchTiming = opts.onBatchTiming;
  async function onBatch(batch: ConsumedBatch): Promise<{ next: number; metadata: string }> {
    const fetchedAt = onBatchTiming ? performance.now() : 0;
    const source = sources.get(batch.topic)!;
    const lt = await taskFor(batch.partition);
    const decoded = await decoders.get(batch.topic)!.decodeAll(batch.messages.map((m) => m.value));
    const records: InputRecord[] = batch.messages.map((m, i) => {
      const d = decoded[i];
      return d.error === undefined ? { offset: m.offset, value: d.value, raw: m.value ?? undefined } : { offset: m.offset, error: d.error, raw: m.value ?? undefined };
    });
    const decodedAt = onBatchTiming ? performance.now() : 0;
    return lt.serial(async () => {
      const startedAt = onBatchTiming ? performance.now() : 0;
      const acc: TimingAcc | undefined = onBatchTiming ? { produceMs: 0, checkpointMs: 0, outputs: 0 } : undefined;
      let engineMs = 0;
      const step = opts.maxBatch ?? records.length;
      for (let i = 0; i < records.length; i += step) {
        const e0 = acc ? performance.now() : 0;
        await lt.task.process({ source: source.node.name, partition: batch.partition, records: records.slice(i, i + step) });
        if (acc) engineMs += performance.now() - e0;
        await commitOutputs(lt, acc);
      }
      if (onBatchTiming && acc) {
        onBatchTiming({
          topic: batch.topic,
          partition: batch.partition,
          records: records.length,
          fetchedAt,
          doneAt: performance.now(),
          decodeMs: decodedAt - fetchedAt,
          queueMs: startedAt - decodedAt,
          engineMs,
          produceMs: acc.produceMs,
          checkpointMs: acc.checkpointMs,
          outputs: acc.outputs,
        });
      }
      const last = batch.messages[batch.messages.length - 1].offset;
      metrics.set('skewless_consumer_lag', 'gauge', 'Records between the last fetched offset and the log end', Math.max(0, batch.highWatermark - last - 1), {
        topic: batch.topic,
        partition: String(batch.partition),
      });
      const streamTime = lt.task.currentStreamTime;
      // Stream time rides along with the group offset, so tools can see how far event time got.
      return {
        next: lt.task.resumePositions()[source.node.name] ?? last + 1,
        metadata: JSON.stringify({ streamTime: Number.isFinite(streamTime) ? streamTime : null, version: plan.version }),
      };
    });
  }

  // Live may skip an idle input of a multi-source task (DESIGN.md rule 3): counted as merge skips.
  const idleTimer =
    program.sources.length > 1
      ? setInterval(() => {
          for (const lt of tasks.values()) {
            if (lt.task.pendingInputs === 0) continue;
            void lt.serial(async () => {
              for (const s of program.sources) await lt.task.skipIdleInput(s.node.name);
              await commitOutputs(lt);
            });
          }
        }, 2000)
      : undefined;

  // Refuse state of another topology version before joining the group, with what changed
  // (the same check Task.open does per partition, done up front so the worker fails fast).
  for (const d of existsSync(opts.stateDir) ? readdirSync(opts.stateDir).filter((x) => /^task-\d+$/.test(x)).sort() : []) {
    const backend = await LevelBackend.open(join(opts.stateDir, d));
    try {
      await Task.open(program, Number(d.slice(5)), backend, { feature: () => {}, window: () => {}, deadLetter: () => {}, late: () => {} });
    } finally {
      await backend.close();
    }
  }

  let fail: (e: Error) => void = () => {};
  const failed = new Promise<Error>((resolve) => (fail = resolve));
  const consumer = await GroupConsumer.start(conn, {
    onFatal: (e) => fail(e),
    groupId: opts.group ?? `skewless-${plan.topology.name}`,
    topics: [...sources.keys()],
    onBatch,
    maxBytesPerPartition: opts.maxBytesPerPartition,
    partitionsConcurrently: opts.partitionsConcurrently ?? 1,
    onAssignment: (assignment) => {
      const owned = new Set(Object.values(assignment).flat());
      for (const [p, lt] of tasks) {
        if (owned.has(p)) continue;
        // Revoked: everything applied is already checkpointed; release the store for the new owner.
        tasks.delete(p);
        void lt.serial(() => lt.backend.close());
      }
      log(`skewless: assigned partitions ${[...owned].sort((a, b) => a - b).join(', ') || '(none)'}`);
    },
  });

  return {
    metrics,
    failed,
    async stop(): Promise<void> {
      if (idleTimer) clearInterval(idleTimer);
      await consumer.stop();
      for (const lt of tasks.values()) {
        await lt.serial(async () => {
          await commitOutputs(lt);
          await lt.backend.close();
        });
      }
      tasks.clear();
      await producer.close();
      await conn.close();
    },
  };
}
