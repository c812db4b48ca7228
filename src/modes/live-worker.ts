/**
 * The live driver: a consumer-group member running one task per assigned partition through
 * the same engine as replay. Per fetched batch: decode (schema registry), apply, then commit
 * outputs + changelog + offsets in one Kafka transaction (src/modes/live/task-commit.ts).
 * A task only ever processes the input offset right after the one its state reflects; its
 * state comes from the changelog whenever the local copy does not match (task-store.ts).
 * Any failure before a commit drops the task's memory and retries from durable state.
 */
import { mkdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { InputRecord } from '../engine/input.js';
import { buildProgram, type Program } from '../engine/program.js';
import { GroupKeyError, InputGapError, StateFormatError, Task, VersionMismatchError } from '../engine/task.js';
import { SchemaRegistryClient, type SchemaRegistryPort } from '../io/avro/registry-client.js';
import { WireDecoder } from '../io/avro/wire-decoder.js';
import type { BatchControl, ConsumedBatch } from '../io/kafka/group-consumer.js';
import { KafkaConnection } from '../io/kafka/kafka-connection.js';
import { kafkaErrorText } from '../io/kafka/kafka-retry.js';
import { TaskFencedError } from '../io/kafka/task-producer.js';
import { EVENT_TIME_TOPIC_CONFIGS } from '../io/kafka/topic-limits.js';
import { LiveParityLog } from '../parity/parity-log.js';
import type { CompiledPlan } from '../plan/compile.js';
import { MetricsRegistry } from '../serve/metrics.js';
import { CHANGELOG_CONFIGS, changelogTopic } from './live/changelog.js';
import { KafkaLiveCluster, type GroupMember, type LiveCluster } from './live/live-cluster.js';
import { LiveTask } from './live/live-task.js';
import { deadLetterTopic, lateTopic, RecordCollector } from './live/record-collector.js';
import { commitTask, type CommitContext } from './live/task-commit.js';
import { openTaskStore, StoreLockedError, type TaskStoreContext } from './live/task-store.js';
import { publishTaskMetrics } from './live/task-metrics.js';

export { deadLetterTopic, lateTopic } from './live/record-collector.js';

export type Delivery = 'exactly-once' | 'at-least-once';

export interface LiveOptions {
  readonly plan: CompiledPlan;
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  /** State root: one LevelDB per task; may be shared by several workers on one host. */
  readonly stateDir: string;
  /** Consumer group; default `skewless-<topology>`. */
  readonly group?: string;
  /** Default exactly-once: outputs, changelog and offsets of a batch in one transaction. */
  readonly delivery?: Delivery;
  /** Apply at most this many records per engine call and commit (small values exercise batching in tests). */
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
  /** A multi-source task skips an input that is caught up and has been idle this long (default 5,000 ms). */
  readonly idleMs?: number;
  /** Failover time after a kill -9: the group session timeout (default 10,000 ms). */
  readonly sessionTimeoutMs?: number;
  /** Keep retrying a failing partition (broker or registry outage) this long before the worker gives up (default 300,000 ms). */
  readonly retryDeadlineMs?: number;
  readonly metrics?: MetricsRegistry;
  readonly verbose?: boolean;
  readonly log?: (line: string) => void;
  /** Also write served vectors of sampled keys (rate in [0, 1], by key hash) to this parity log topic, and optionally a local file (src/parity/parity-log.ts). */
  readonly parity?: { readonly rate: number; readonly topic: string; readonly file?: string };
  /** Profiling hook (default off): called once per fetched batch after it is committed. */
  readonly onBatchTiming?: (timing: LiveBatchTiming) => void;
  /** Wall clock for idle detection and back-off only; default Date.now. When given, no idle timer runs: call checkIdleInputs(). */
  readonly clock?: () => number;
}

/** Where one fetched batch's time went (ms; instants are performance.now()). */
export interface LiveBatchTiming {
  readonly topic: string;
  readonly partition: number;
  readonly records: number;
  readonly fetchedAt: number;
  readonly doneAt: number;
  /** Task open (restore) and wire decoding. */
  readonly decodeMs: number;
  /** Waiting for this task's earlier work to finish. */
  readonly queueMs: number;
  /** Task.process: the engine, including output encoding. */
  readonly engineMs: number;
  /** The transaction (outputs, changelog, offsets) until committed. */
  readonly produceMs: number;
  /** The local store write after the commit. */
  readonly checkpointMs: number;
  readonly outputs: number;
  readonly changelogRecords: number;
  readonly changelogBytes: number;
}

export interface LiveWorker {
  /** Leave the group after the batch in progress; every applied batch is already committed. */
  stop(): Promise<void>;
  /** Apply the idle-skip rule now (a timer does it every idleMs / 2; tests call it directly). */
  checkIdleInputs(): Promise<void>;
  /** Resolves with the error when processing failed in a way the worker cannot continue from. */
  readonly failed: Promise<Error>;
  readonly metrics: MetricsRegistry;
}

/** Errors retrying cannot fix: the worker stops with the message. */
function isFatal(e: unknown): boolean {
  return e instanceof VersionMismatchError || e instanceof GroupKeyError;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startLiveWorker(opts: LiveOptions): Promise<LiveWorker> {
  const conn = await KafkaConnection.open({ brokers: opts.brokers, verbose: opts.verbose });
  try {
    const registry = await SchemaRegistryClient.open(opts.registryUrl);
    const worker = await startLiveWorkerOn(new KafkaLiveCluster(conn), registry, opts);
    return {
      ...worker,
      checkIdleInputs: () => worker.checkIdleInputs(),
      async stop(): Promise<void> {
        await worker.stop();
        await conn.close();
      },
    };
  } catch (e) {
    await conn.close().catch(() => undefined);
    throw e;
  }
}

/** The live driver on any cluster (Kafka, or memory-cluster.ts in tests) and schema registry. */
export async function startLiveWorkerOn(cluster: LiveCluster, registry: SchemaRegistryPort, opts: Omit<LiveOptions, 'brokers' | 'registryUrl'>): Promise<LiveWorker> {
  const program: Program = buildProgram(opts.plan);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const metrics = opts.metrics ?? new MetricsRegistry();
  const clock = opts.clock ?? Date.now;
  const { plan } = opts;
  const delivery: Delivery = opts.delivery ?? 'exactly-once';
  const exactlyOnce = delivery === 'exactly-once';
  const groupId = opts.group ?? `skewless-${plan.topology.name}`;
  mkdirSync(opts.stateDir, { recursive: true });

  const sidePrefix = opts.sideTopicPrefix ?? plan.topology.name;
  const topicOfSource = new Map(program.sources.map((s) => [s.node.name, opts.sourceTopics?.[s.node.name] ?? s.node.topic]));
  const sourceOfTopic = new Map(program.sources.map((s) => [topicOfSource.get(s.node.name)!, s]));
  const decoders = new Map(program.sources.map((s) => [topicOfSource.get(s.node.name)!, new WireDecoder(registry, plan.schemas.get(s.node.name)!.json)]));
  let partitions = 0;
  for (const topic of sourceOfTopic.keys()) {
    const n = await cluster.partitionCount(topic);
    if (n === undefined) throw new Error(`source topic ${topic} does not exist; produce to it first (skewless produce) or create it`);
    if (partitions !== 0 && n !== partitions) throw new Error(`source topics are not co-partitioned: ${topic} has ${n} partitions, expected ${partitions}`);
    partitions = n;
  }

  const features = program.outputs.map((o) => ({ name: o.name, columns: o.columns, topic: opts.outputTopics?.[o.name] ?? o.topic }));
  const windows = program.windowOps.map((w) => ({ name: w.name, columns: w.columns, topic: opts.outputTopics?.[w.name] ?? w.node.topic }));
  const late = lateTopic(sidePrefix);
  const deadLetters = deadLetterTopic(sidePrefix);
  for (const t of [...features.map((f) => f.topic), ...windows.map((w) => w.topic), late, deadLetters]) await cluster.ensureTopic(t, partitions, EVENT_TIME_TOPIC_CONFIGS);
  let parityLog: LiveParityLog | undefined;
  if (opts.parity !== undefined) {
    // Same partition count as the inputs, so a sampled vector keeps its partition.
    await cluster.ensureTopic(opts.parity.topic, partitions, EVENT_TIME_TOPIC_CONFIGS);
    parityLog = await LiveParityLog.open(registry, opts.parity, topicOfSource, plan.version, plan.topology.name);
  }
  const changelog = changelogTopic(groupId, plan.version);
  await cluster.ensureTopic(changelog, partitions, CHANGELOG_CONFIGS);
  const outputTopicNames = [...features.map((f) => f.topic), ...windows.map((w) => w.topic), late, deadLetters, ...(parityLog ? [parityLog.topic] : [])];
  const collector = await RecordCollector.open({
    registry,
    features,
    windows,
    late,
    deadLetters,
    version: plan.version,
    topology: plan.topology.name,
    parityLog,
    limits: await cluster.topicLimits(outputTopicNames),
  });

  const storeContext: TaskStoreContext = {
    cluster,
    stateDir: opts.stateDir,
    changelog,
    version: plan.version,
    exactlyOnce,
    log,
    onRestore: (p, records, seconds) => {
      const labels = { partition: String(p) };
      metrics.inc('skewless_restored_records_total', 'Changelog records applied to restore task state', records, labels);
      metrics.inc('skewless_restore_seconds_total', 'Seconds spent restoring task state from the changelog', seconds, labels);
    },
  };

  const tasks = new Map<number, LiveTask>();
  /** Partitions whose local copy failed to load: rebuilt from the changelog on the next open. */
  const rebuild = new Set<number>();
  /** First failure of the current run of failures, per partition (for the retry deadline). */
  const failingSince = new Map<number, number>();
  const retryDeadlineMs = opts.retryDeadlineMs ?? 300_000;
  let consumer: GroupMember | undefined;
  let stopping = false;
  let fail: (e: Error) => void = () => {};
  const failed = new Promise<Error>((resolve) => (fail = resolve));

  async function openTask(partition: number): Promise<LiveTask> {
    const transactionalId = exactlyOnce ? `${groupId}-${plan.version}-task-${partition}` : undefined;
    // Claim the task first: an earlier owner's open transaction is aborted and that owner fenced,
    // so the changelog read next holds everything committed and nothing can follow it.
    const producer = await cluster.openTaskProducer(transactionalId);
    try {
      const store = await openTaskStore(storeContext, partition, rebuild.has(partition));
      rebuild.delete(partition);
      let holder: LiveTask | undefined;
      try {
        const task = await Task.open(program, partition, store.backend, collector.sinksFor(() => holder!), { maxCachedKeys: opts.maxCachedKeys });
        holder = new LiveTask(partition, task, store.backend, producer, store.seedChangelog, clock(), program.sources.map((s) => s.node.name));
      } catch (e) {
        await store.backend.close();
        throw e;
      }
      log(`skewless: task ${partition} ready at ${JSON.stringify(holder.task.resumePositions())}${store.restoredRecords > 0 ? ` after applying ${store.restoredRecords} changelog records` : ''}`);
      return holder;
    } catch (e) {
      await producer.close().catch(() => undefined);
      throw e;
    }
  }

  const opening = new Map<number, Promise<LiveTask>>();
  /** Partitions this member owns since the last rebalance. */
  let owned = new Set<number>();
  function taskFor(partition: number): Promise<LiveTask> {
    const lt = tasks.get(partition);
    if (lt) return Promise.resolve(lt);
    let p = opening.get(partition);
    if (!p) {
      p = openTask(partition).then(
        async (t) => {
          opening.delete(partition);
          if (!owned.has(partition) || stopping) {
            // Revoked (or stopping) while it opened: release the store and the id for the new owner.
            await t.close();
            throw new Error(`task ${partition} was revoked while it opened`);
          }
          tasks.set(partition, t);
          return t;
        },
        (e: unknown) => {
          opening.delete(partition);
          throw e;
        },
      );
      opening.set(partition, p);
    }
    return p;
  }

  async function dropTask(lt: LiveTask): Promise<void> {
    if (tasks.get(lt.partition) === lt) tasks.delete(lt.partition);
    parityLog?.discardFile();
    await lt.close();
  }

  const commitContext: CommitContext = {
    groupId,
    changelog,
    sourceTopics: topicOfSource,
    commitGroupOffsets: exactlyOnce ? undefined : (offsets) => consumer!.commit(offsets),
    beforeSend: () => parityLog?.flushFile(),
  };

  /** A failure while handling a partition: drop what is not durable, back off, let the fetch repeat. */
  async function onFailure(partition: number, lt: LiveTask | undefined, e: unknown, ctl?: BatchControl): Promise<void> {
    if (isFatal(e)) {
      fail(e as Error);
      return;
    }
    if (e instanceof StateFormatError) rebuild.add(partition);
    if (lt) await dropTask(lt);
    if (!owned.has(partition)) return; // revoked: the new owner takes it from its last commit
    if (e instanceof TaskFencedError) {
      log(`skewless: task ${partition}: ${e.message}; giving it up`);
      return;
    }
    const now = clock();
    const since = failingSince.get(partition) ?? now;
    failingSince.set(partition, since);
    const text = e instanceof StoreLockedError ? `state store busy (${e.message})` : kafkaErrorText(e);
    if (now - since > retryDeadlineMs) {
      fail(new Error(`partition ${partition} kept failing for ${Math.round((now - since) / 1000)} s: ${text}`));
      return;
    }
    const attempt = Math.round((now - since) / 1000);
    log(`skewless: task ${partition}: batch not committed (${text}); state dropped, retrying from the last commit${attempt > 0 ? ` (failing for ${attempt} s)` : ''}`);
    const delay = Math.min(10_000, 250 * 2 ** Math.min(6, Math.floor((now - since) / 2000)));
    for (let waited = 0; waited < delay && !stopping; waited += 500) {
      await sleep(Math.min(500, delay - waited));
      await ctl?.heartbeat().catch(() => undefined);
    }
  }

  /**
   * The gap rule at the driver: a fetch that starts beyond what the task needs would skip input
   * (e.g. the group offset is ahead of this task's state): move the fetch back instead. The same
   * seek repeating means the offsets are gone from the log: stop, naming both positions.
   */
  function checkPosition(lt: LiveTask, batch: ConsumedBatch, source: string): boolean {
    const need = lt.task.nextOffset(source);
    if (batch.fetchedOffset <= need) {
      lt.seeks.delete(batch.topic);
      return true;
    }
    const prev = lt.seeks.get(batch.topic);
    const again = prev?.offset === need;
    const count = again ? prev.count + 1 : 1;
    const since = again ? prev.since : clock();
    lt.seeks.set(batch.topic, { offset: need, count, since });
    // A batch or two fetched before the seek took effect can still arrive: only a position that
    // keeps coming back for a while means the broker no longer has the offsets.
    if (count > 5 && clock() - since > 5000) {
      fail(
        new Error(
          `${new InputGapError(lt.partition, source, need, batch.fetchedOffset).message}. The input offsets the state needs are no longer in ${batch.topic} ` +
            '(retention?): rebuild the state with skewless bootstrap into a new --state and --group.',
        ),
      );
      return false;
    }
    log(`skewless: task ${lt.partition}: ${batch.topic} fetched from offset ${batch.fetchedOffset} but the state needs ${need}; seeking back`);
    consumer!.seek(batch.topic, lt.partition, need);
    return false;
  }

  const onBatchTiming = opts.onBatchTiming;
  async function onBatch(batch: ConsumedBatch, ctl: BatchControl): Promise<void> {
    const fetchedAt = performance.now();
    const source = sourceOfTopic.get(batch.topic)!;
    const name = source.node.name;
    let lt: LiveTask | undefined;
    /** Set once the engine may have changed the task's memory: a failure after it drops the task. */
    let touched = false;
    try {
      lt = await taskFor(batch.partition);
      const decoded = await decoders.get(batch.topic)!.decodeAll(batch.messages.map((m) => m.value));
      const records: InputRecord[] = batch.messages.map((m, i) => {
        const d = decoded[i];
        return d.error === undefined ? { offset: m.offset, value: d.value, raw: m.value ?? undefined } : { offset: m.offset, error: d.error, raw: m.value ?? undefined };
      });
      const decodedAt = performance.now();
      const task = lt;
      await task.serial(async () => {
        if (task.closed) return; // revoked meanwhile: the new owner reads these records
        if (!checkPosition(task, batch, name)) return;
        touched = true;
        const startedAt = performance.now();
        task.lastInputAt.set(name, clock());
        let engineMs = 0;
        let produceMs = 0;
        const checkpointMs = 0;
        let outputs = 0;
        let changelogRecords = 0;
        let changelogBytes = 0;
        const step = opts.maxBatch ?? records.length;
        for (let i = 0; i < records.length; i += step) {
          const e0 = performance.now();
          await task.task.process({ source: name, partition: batch.partition, records: records.slice(i, i + step), fetchedFrom: i === 0 ? batch.fetchedOffset : undefined });
          const e1 = performance.now();
          const r = await commitTask(task, commitContext);
          const e2 = performance.now();
          engineMs += e1 - e0;
          produceMs += e2 - e1;
          outputs += r.outputs;
          changelogRecords += r.changelogRecords;
          changelogBytes += r.changelogBytes;
          await ctl.heartbeat();
        }
        ctl.done();
        failingSince.delete(batch.partition);
        publishTaskMetrics(metrics, task, parityLog !== undefined);
        metrics.inc('skewless_changelog_bytes_total', 'Bytes of changelog records written', changelogBytes, { partition: String(batch.partition) });
        const last = batch.messages[batch.messages.length - 1].offset;
        metrics.set('skewless_consumer_lag', 'gauge', 'Records between the last fetched offset and the log end', Math.max(0, batch.highWatermark - last - 1), {
          topic: batch.topic,
          partition: String(batch.partition),
        });
        onBatchTiming?.({
          topic: batch.topic,
          partition: batch.partition,
          records: records.length,
          fetchedAt,
          doneAt: performance.now(),
          decodeMs: decodedAt - fetchedAt,
          queueMs: startedAt - decodedAt,
          engineMs,
          produceMs,
          checkpointMs,
          outputs,
          changelogRecords,
          changelogBytes,
        });
      });
    } catch (e) {
      if (stopping) return;
      await onFailure(batch.partition, touched ? lt : undefined, e, ctl);
    }
  }

  // A multi-source task may skip an idle input (DESIGN.md rule 3) only when that input is
  // caught up with the broker and has been quiet for idleMs; each skip is logged and counted.
  const idleMs = opts.idleMs ?? 5000;
  // With an injected clock the caller drives idle checks (checkIdleInputs), so none runs by itself.
  // Single-source tasks need it too: a partition with fewer records than the future-skew
  // warm-up holds them until it is caught up and quiet.
  const idleTimer =
    opts.clock === undefined
      ? setInterval(() => void skipIdleInputs().catch((e: unknown) => log(`skewless: idle check failed: ${kafkaErrorText(e)}`)), Math.max(100, Math.min(1000, idleMs / 2)))
      : undefined;
  let idleCheckRunning = false;
  async function skipIdleInputs(): Promise<void> {
    if (idleCheckRunning || stopping) return;
    idleCheckRunning = true;
    try {
      const waiting = [...tasks.values()].filter((lt) => lt.task.pendingInputs > 0);
      if (waiting.length === 0) return;
      const ends = new Map<string, Map<number, number>>();
      for (const topic of sourceOfTopic.keys()) ends.set(topic, await cluster.endOffsets(topic));
      const now = clock();
      for (const lt of waiting) {
        for (const s of program.sources) {
          const name = s.node.name;
          const topic = topicOfSource.get(name)!;
          if (lt.task.pendingOf(name) > 0) continue;
          const end = ends.get(topic)?.get(lt.partition) ?? 0;
          const reached = Math.max(lt.task.nextOffset(name), consumer?.fetchedUpTo(topic, lt.partition) ?? 0);
          const quietFor = now - (lt.lastInputAt.get(name) ?? now);
          if (reached < end || quietFor < idleMs) continue;
          await lt.serial(async () => {
            if (lt.closed || lt.task.pendingOf(name) > 0) return;
            const before = lt.task.currentStreamTime;
            try {
              const released = await lt.task.skipIdleInput(name);
              if (released === 0) return;
              log(
                `skewless: task ${lt.partition}: merge skip ${lt.task.counters.mergeSkips}: input ${name} (${topic}) caught up at offset ${reached} and idle ${Math.round(quietFor)} ms; ` +
                  `released ${released} held records; stream time ${fmtTime(before)} → ${fmtTime(lt.task.currentStreamTime)}`,
              );
              await commitTask(lt, commitContext);
              publishTaskMetrics(metrics, lt, parityLog !== undefined);
            } catch (e) {
              await onFailure(lt.partition, lt, e);
            }
          });
        }
      }
    } finally {
      idleCheckRunning = false;
    }
  }

  consumer = await cluster.joinGroup({
    onFatal: (e) => fail(e),
    groupId,
    topics: [...sourceOfTopic.keys()],
    onBatch,
    maxBytesPerPartition: opts.maxBytesPerPartition,
    partitionsConcurrently: opts.partitionsConcurrently ?? 1,
    sessionTimeoutMs: opts.sessionTimeoutMs,
    log,
    onAssignment: (assignment) => {
      owned = new Set(Object.values(assignment).flat());
      for (const [p, lt] of tasks) {
        if (owned.has(p)) continue;
        // Revoked: every applied batch is committed; release the store for the new owner.
        tasks.delete(p);
        void lt.serial(() => lt.close());
      }
      log(`skewless: assigned partitions ${[...owned].sort((a, b) => a - b).join(', ') || '(none)'}`);
      // Open (and if needed restore) every assigned task now, not when its next record comes:
      // failover does not wait for traffic, and state of another version is refused at once.
      for (const p of owned) {
        if (tasks.has(p) || stopping) continue;
        void taskFor(p).catch((e: unknown) => onFailure(p, undefined, e));
      }
    },
  });
  log(`skewless: ${delivery} delivery, changelog ${changelog}`);

  return {
    metrics,
    failed,
    checkIdleInputs: skipIdleInputs,
    async stop(): Promise<void> {
      stopping = true;
      if (idleTimer) clearInterval(idleTimer);
      await consumer!.stop();
      for (const lt of tasks.values()) await lt.serial(() => lt.close());
      tasks.clear();
    },
  };
}

function fmtTime(t: number): string {
  if (!Number.isFinite(t)) return String(t);
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
}
