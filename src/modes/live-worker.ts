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
import { AnswerWithoutRowError } from '../engine/durable-row-assembler.js';
import { buildProgram, hasRegrouping, type Program } from '../engine/program.js';
import type { RegroupSinks } from '../engine/regroup-messages.js';
import { GroupKeyError, PartialCheckpointError, StateFormatError, Task, VersionMismatchError } from '../engine/task.js';
import { SchemaRegistryClient, type SchemaRegistryPort } from '../io/avro/registry-client.js';
import { registryEndpoint } from '../io/avro/registry-http.js';
import type { ClientEndpoints } from '../io/client-security.js';
import { WireDecoder } from '../io/avro/wire-decoder.js';
import type { BatchControl, ConsumedBatch } from '../io/kafka/group-consumer.js';
import { KafkaConnection } from '../io/kafka/kafka-connection.js';
import { kafkaErrorText } from '../io/kafka/kafka-retry.js';
import { formatCount } from '../io/number-format.js';
import { TaskFencedError, TRANSACTION_TIMEOUT_MS } from '../io/kafka/task-producer.js';
import { EVENT_TIME_TOPIC_CONFIGS, retentionWarnings } from '../io/kafka/topic-limits.js';
import { LiveParityLog } from '../parity/parity-log.js';
import { regroupedParts, type CompiledPlan } from '../plan/compile.js';
import { STATE_FORMAT } from '../state/task-state-keys.js';
import { MetricsRegistry } from '../serve/metrics.js';
import { CHANGELOG_CONFIGS, changelogTopic } from './live/changelog.js';
import { KafkaLiveCluster, type GroupMember, type LiveCluster } from './live/live-cluster.js';
import { FailureBackoff } from './live/failure-backoff.js';
import { HangingTransactionError, HangingTransactionWatch } from './live/hanging-transaction.js';
import { IdleInputs } from './live/idle-inputs.js';
import { IdleCheckTimer } from './live/idle-check-timer.js';
import { workerInstanceId } from './live/worker-instance.js';
import { checkInputPosition } from './live/input-position.js';
import { LiveTask } from './live/live-task.js';
import { LiveRegroupTask, REGROUP_TOPIC_CONFIGS, regroupTopics, type RegroupTopics } from './live/live-regroup-task.js';
import { TaskRegistry } from './live/task-registry.js';
import { deadLetterTopic, lateTopic, RecordCollector } from './live/record-collector.js';
import { commitTask, DEFAULT_SWEEP_ENTRIES, type CommitContext } from './live/task-commit.js';
import { RegroupPurge } from './live/regroup-purge.js';
import { SerialQueue } from './live/serial-queue.js';
import { ChangelogFormatError, ChangelogUndecidedError, MissingRegroupedStateError, openTaskStore, StoreLockedError, type OpenedStore, type TaskStoreContext } from './live/task-store.js';
import { StoreUnavailableError } from '../state/state-backend.js';
import { unreadableChangelog, UnreadableChangelogError, type ChangelogOwner } from './live/unreadable-changelog.js';
import { publishTaskMetrics } from './live/task-metrics.js';
import { StandbyCopies } from './live/standby-copies.js';
import { readLastOwnedTasks, writeLastOwnedTasks } from './live/last-owned-tasks.js';
import { HeapPressure } from './heap-pressure.js';
import { RegroupBackpressure } from './live/regroup-backpressure.js';
import { refuseUnfinishedBootstrap } from './unfinished-bootstrap.js';

export { deadLetterTopic, lateTopic } from './live/record-collector.js';

export type Delivery = 'exactly-once' | 'at-least-once';

/**
 * Partitions processed at once unless LiveOptions.partitionsConcurrently says otherwise. With
 * more, one task computes while another commits (exactly-once transactions still take turns,
 * CommitContext.transactions); measured, that gained nothing over one (README, Performance).
 */
export const DEFAULT_CONCURRENCY = 1;

/**
 * Bytes fetched per partition and request unless LiveOptions.maxBytesPerPartition says
 * otherwise. A fetched batch is one engine step and one commit (one transaction under
 * exactly-once), so on a backlog, twice kafkajs' 1 MiB halves the commits and the changelog's
 * rewrites of each key's last segment (README, Performance). A caught-up worker fetches what
 * has arrived, far less.
 */
export const DEFAULT_FETCH_BYTES = 2 * 1024 * 1024;

/** Records applied between two looks at the heap within a fetched batch (HeapPressure.look). */
const HEAP_LOOK_RECORDS = 4096;

export interface LiveOptions extends ClientEndpoints {
  readonly plan: CompiledPlan;
  /** State root: one LevelDB per task; may be shared by several workers on one host. */
  readonly stateDir: string;
  /** Consumer group; default `skewless-<topology>`. */
  readonly group?: string;
  /** Default exactly-once: outputs, changelog and offsets of a batch in one transaction. */
  readonly delivery?: Delivery;
  /** Apply at most this many records per engine call and commit (small values exercise batching in tests). */
  readonly maxBatch?: number;
  /** Bytes fetched per partition and request (default DEFAULT_FETCH_BYTES). */
  readonly maxBytesPerPartition?: number;
  /** Keys of lookback state kept in memory per group and task (default 250,000; see TaskOptions). */
  readonly maxCachedKeys?: number;
  /** Store keys the sweep of quiet keys walks per task and commit (default DEFAULT_SWEEP_ENTRIES; 0: no sweep; see Task.sweepExpired). */
  readonly sweepEntries?: number;
  /**
   * Batches of different partitions processed at once (default 1). With 2, one task's engine runs
   * while another's commit waits on the broker: about 5 % more throughput on 2 cores with the
   * broker beside the worker (bench/live-flights.ts --concurrency). Not the default: with two
   * commits in flight when a lone broker is killed, one is more often caught by a broker race
   * that leaves its commit markers unwritten (README, Performance), and its task then waits.
   */
  readonly partitionsConcurrently?: number;
  /** Topic per source, overriding the topology's (deployment config, like the group). */
  readonly sourceTopics?: Readonly<Record<string, string>>;
  /** Topic per output (feature or window output name), overriding the topology's. */
  readonly outputTopics?: Readonly<Record<string, string>>;
  /** Prefix of the late-records and dead-letter topics; default the topology name. */
  readonly sideTopicPrefix?: string;
  /** A multi-source task skips an input that is caught up and has been idle this long (default 5,000 ms). */
  readonly idleMs?: number;
  /** Messages the regrouped tasks may hold before input partitions running ahead are paused (default: no limit until the heap runs short). */
  readonly maxHeld?: number;
  /** How often the regrouping's internal topics are purged below the committed positions (default 30 s; Infinity: never, not even at stop). */
  readonly purgeIntervalMs?: number;
  /** Failover time after a kill -9: the group session timeout (default 10,000 ms). */
  readonly sessionTimeoutMs?: number;
  /**
   * Warm standby copies of each task kept on other workers (default 0; like Kafka Streams'
   * num.standby.replicas): see live/standby-copies.ts. Every worker of the group should run
   * with the same number.
   */
  readonly standbyCopies?: number;
  /** Pause between two rounds that bring the standby copies up to their changelogs' committed ends (default 1,000 ms; Infinity: only when syncStandbys() is called). */
  readonly standbyIntervalMs?: number;
  /** Keep retrying a failing partition (broker or registry outage) this long before the worker gives up (default 300,000 ms). */
  readonly retryDeadlineMs?: number;
  /**
   * Changelog records found undecided at this many ms of opens, each after the task's producer was
   * re-initialized, are a hanging transaction: the worker stops with the abort to run (default the
   * producer's transaction timeout, 60,000 ms; hanging-transaction.ts).
   */
  readonly hangingAfterMs?: number;
  readonly metrics?: MetricsRegistry;
  readonly verbose?: boolean;
  readonly log?: (line: string) => void;
  /** While a task's state is restored or caught up from the changelog: offsets applied of those to apply (a progress display). */
  readonly onRestoreProgress?: (partition: number, applied: number, total: number) => void;
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
  /** The commit: the transaction (outputs, changelog, offsets) until committed, then the local store write. */
  readonly produceMs: number;
  readonly outputs: number;
  readonly changelogRecords: number;
  readonly changelogBytes: number;
}

export interface LiveWorker {
  /** Leave the group after the batch in progress; every applied batch is already committed. */
  stop(): Promise<void>;
  /** Apply the idle-skip rule now (a timer does it when the first waiting input will have been quiet idleMs, and at least every idleMs / 2, 100 ms to 1 s; tests call it directly). */
  checkIdleInputs(): Promise<void>;
  /** Bring the standby copies up to the changelog now (a loop does it every standbyIntervalMs; tests with an injected clock call it). */
  syncStandbys(): Promise<void>;
  /** Tasks this worker holds standby copies of now. */
  readonly standbys: () => readonly number[];
  /** Delete what the regrouping's internal topics hold below the committed positions now (a timer does it every purgeIntervalMs); returns the partitions purged. */
  purgeRegroupTopics(): Promise<number>;
  /** Resolves with the error when processing failed in a way the worker cannot continue from. */
  readonly failed: Promise<Error>;
  readonly metrics: MetricsRegistry;
}

/** Rounds of standby syncs until the worker stops; a failed round is logged (once per streak) and the next one tries again. */
async function followChangelogs(standbys: StandbyCopies, intervalMs: number, stopping: () => boolean, log: (line: string) => void): Promise<void> {
  let failing = false;
  while (!stopping()) {
    try {
      await standbys.sync();
      if (failing) log('skewless: standby copies follow their changelogs again');
      failing = false;
    } catch (e) {
      if (!failing) log(`skewless: standby copies could not read the changelog (${kafkaErrorText(e)}); retrying every round`);
      failing = true;
    }
    for (let waited = 0; waited < intervalMs && !stopping(); waited += 100) await sleep(Math.min(100, intervalMs - waited));
  }
}

/** Errors retrying cannot fix: the worker stops with the message. */
function isFatal(e: unknown): boolean {
  return e instanceof VersionMismatchError || e instanceof GroupKeyError || e instanceof UnreadableChangelogError || e instanceof PartialCheckpointError || e instanceof MissingRegroupedStateError;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Live regrouping needs exactly-once: a batch retried under at-least-once would send its
 * updates to the repartition topic again and the regrouped state would count them twice.
 */
function refuseRegroupedAtLeastOnce(plan: CompiledPlan, delivery: Delivery): void {
  const parts = regroupedParts(plan.topology);
  if (parts.length === 0 || delivery === 'exactly-once') return;
  throw new Error(
    `${plan.file}: topology ${plan.topology.name} regroups by another entity (${parts.join(', ')}), which live serves with exactly-once delivery only (a retried batch would count its updates twice): drop --delivery at-least-once`,
  );
}

export async function startLiveWorker(opts: LiveOptions): Promise<LiveWorker> {
  refuseRegroupedAtLeastOnce(opts.plan, opts.delivery ?? 'exactly-once');
  const conn = await KafkaConnection.open({ brokers: opts.brokers, security: opts.security?.kafka, verbose: opts.verbose });
  try {
    const registry = await SchemaRegistryClient.open(registryEndpoint(opts.registryUrl, opts.security?.registry));
    const worker = await startLiveWorkerOn(new KafkaLiveCluster(conn), registry, opts);
    return {
      ...worker,
      checkIdleInputs: () => worker.checkIdleInputs(),
      purgeRegroupTopics: () => worker.purgeRegroupTopics(),
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
export async function startLiveWorkerOn(cluster: LiveCluster, registry: SchemaRegistryPort, opts: Omit<LiveOptions, 'brokers' | 'registryUrl' | 'security'>): Promise<LiveWorker> {
  const program: Program = buildProgram(opts.plan);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const metrics = opts.metrics ?? new MetricsRegistry();
  const clock = opts.clock ?? Date.now;
  const { plan } = opts;
  const delivery: Delivery = opts.delivery ?? 'exactly-once';
  const exactlyOnce = delivery === 'exactly-once';
  refuseRegroupedAtLeastOnce(plan, delivery);
  const groupId = opts.group ?? `skewless-${plan.topology.name}`;
  mkdirSync(opts.stateDir, { recursive: true });
  refuseUnfinishedBootstrap(opts.stateDir);

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
  let regroup: RegroupTopics | undefined;
  /** Where each source's partitions end now (program source order): whether an idle origin still is. */
  const inputEnds = (): Promise<Array<Map<number, number>>> => Promise.all(program.sources.map((s) => cluster.endOffsets(topicOfSource.get(s.node.name)!)));
  if (hasRegrouping(program)) {
    regroup = regroupTopics(groupId, plan.version, partitions);
    await cluster.ensureTopic(regroup.messages, partitions, REGROUP_TOPIC_CONFIGS);
    await cluster.ensureTopic(regroup.answers, partitions, REGROUP_TOPIC_CONFIGS);
  }
  const purge = regroup === undefined || opts.purgeIntervalMs === Infinity ? undefined : new RegroupPurge(cluster, [regroup.messages, regroup.answers]);
  // Like Kafka Streams' repartition.purge.interval.ms; with an injected clock the caller purges (purgeRegroupTopics).
  const purgeTimer =
    purge !== undefined && opts.clock === undefined
      ? setInterval(() => void purge.purge().catch((e: unknown) => log(`skewless: purging the regroup topics failed: ${kafkaErrorText(e)}`)), opts.purgeIntervalMs ?? 30_000)
      : undefined;
  purgeTimer?.unref();
  const outputTopicNames = [...features.map((f) => f.topic), ...windows.map((w) => w.topic), late, deadLetters, ...(parityLog ? [parityLog.topic] : [])];
  const limits = await cluster.topicLimits(outputTopicNames);
  // Topics skewless creates keep records for good; ones that existed before may not.
  for (const warning of retentionWarnings(limits)) log(warning);
  const collector = await RecordCollector.open({
    registry,
    features,
    windows,
    late,
    deadLetters,
    version: plan.version,
    topology: plan.topology.name,
    parityLog,
    limits,
  });

  const storeContext: TaskStoreContext = {
    cluster,
    stateDir: opts.stateDir,
    changelog,
    version: plan.version,
    exactlyOnce,
    regrouped: regroup === undefined ? undefined : { topology: plan.topology.name },
    log,
    onRestoreProgress: opts.onRestoreProgress,
    onRestore: (p, records, seconds) => {
      const labels = { partition: String(p) };
      metrics.inc('skewless_restored_records_total', 'Changelog records applied to restore task state', records, labels);
      metrics.inc('skewless_restore_seconds_total', 'Seconds spent restoring task state from the changelog', seconds, labels);
    },
  };

  const standbys = (opts.standbyCopies ?? 0) > 0 ? new StandbyCopies({ store: storeContext, partitions, copies: opts.standbyCopies!, metrics }) : undefined;

  let consumer: GroupMember | undefined;
  let stopping = false;
  let fail: (e: Error) => void = () => {};
  const failed = new Promise<Error>((resolve) => (fail = resolve));
  const backoff = new FailureBackoff(opts.retryDeadlineMs ?? 300_000);
  const hanging = new HangingTransactionWatch(opts.hangingAfterMs ?? TRANSACTION_TIMEOUT_MS);
  /** Topics a task's transaction writes besides the changelog, on its own partition: where a hanging one may also be open. */
  const taskTopics = [...features.map((f) => f.topic), ...windows.map((w) => w.topic), late, deadLetters, ...(opts.parity === undefined ? [] : [opts.parity.topic])];
  const changelogOwner: ChangelogOwner = { group: groupId, changelog, topologyFile: plan.file, stateDir: opts.stateDir };

  function taskTransactionalId(partition: number): string {
    return `${groupId}-${plan.version}-task-${partition}`;
  }

  async function openTask(partition: number, rebuild: boolean): Promise<LiveTask> {
    const transactionalId = exactlyOnce ? taskTransactionalId(partition) : undefined;
    // Claim the task first: an earlier owner's open transaction is aborted and that owner fenced,
    // so the changelog read next holds everything committed and nothing can follow it.
    const producer = await cluster.openTaskProducer(transactionalId);
    try {
      let store: OpenedStore;
      try {
        // A standby copy of the task held here becomes the task's local copy.
        await standbys?.release(partition);
        store = await openTaskStore(storeContext, partition, rebuild);
      } catch (e) {
        // Checkpoints of another state format came from the changelog: the next restore reads them again.
        if (e instanceof ChangelogFormatError) throw unreadableChangelog(changelogOwner, partition, `holds state format ${e.format}, this build reads ${STATE_FORMAT}`);
        throw e;
      }
      let holder: LiveTask | undefined;
      try {
        const sinks = collector.sinksFor(() => holder!);
        // Rows the assembler completes leave through the same feature sink as any other: their
        // parity samples go out with them, in the transaction of the answers batch that completed them.
        // The engine task opens first: state of another topology version is refused by its
        // VersionMismatchError (fatal, with the plan's changes), not retried as the regrouped
        // part's own check would be. Its regroup sink forwards to the part opened next.
        let rg: LiveRegroupTask | undefined;
        const forward: RegroupSinks = { update: (u) => rg!.update(u), query: (q) => rg!.query(q), partialRow: (r) => rg!.partialRow(r) };
        const task = await Task.open(program, partition, store.backend, regroup === undefined ? sinks : { ...sinks, regroup: forward }, { maxCachedKeys: opts.maxCachedKeys });
        rg =
          regroup === undefined
            ? undefined
            : await LiveRegroupTask.open(program, partition, regroup, store.backend, () => holder!.out, () => holder!.task.regroupWatermark, inputEnds, sinks.feature, opts.maxCachedKeys);
        holder = new LiveTask(partition, task, store.backend, producer, store.seedChangelog, clock(), program.sources.map((s) => s.node.name));
        holder.regroup = rg;
        holder.rebuiltFromChangelog = store.rebuilt;
      } catch (e) {
        await store.backend.close();
        // State just rebuilt from the changelog that the engine cannot read: a rebuild brings it back.
        if (e instanceof StateFormatError && store.rebuilt) throw unreadableChangelog(changelogOwner, partition, `holds state this build cannot read (${e.message})`);
        throw e;
      }
      hanging.clear(partition);
      log(`skewless: task ${partition} ready at ${JSON.stringify(holder.task.resumePositions())}${store.restoredRecords > 0 ? ` after applying ${formatCount(store.restoredRecords)} changelog records` : ''}`);
      // A task reopened after its memory was dropped (a failed batch) lost the records its merge
      // held: their batches were done, so the fetch is past them, and when their input has nothing
      // more, no batch comes for the gap rule to move back (the idle rule would even take that
      // input as caught up). Fetch every input again from where the state stands.
      for (const s of program.sources) {
        const topic = topicOfSource.get(s.node.name)!;
        const need = holder.task.nextOffset(s.node.name);
        if (consumer !== undefined && consumer.fetchedUpTo(topic, partition) > need) consumer.seek(topic, partition, need);
      }
      return holder;
    } catch (e) {
      await producer.close().catch(() => undefined);
      throw e;
    }
  }
  const tasks = new TaskRegistry(openTask, (n) =>
    metrics.set('skewless_tasks_not_ready', 'gauge', 'Owned input partitions whose task is still opening or restoring its state (its rows, held messages and lag are not counted until it is ready)', n),
  );

  const heapPressure = new HeapPressure();
  const commitContext: CommitContext = {
    groupId,
    changelog,
    sourceTopics: topicOfSource,
    commitGroupOffsets: exactlyOnce ? undefined : (offsets) => consumer!.commit(offsets),
    beforeSend: (lt) => parityLog?.writeFile(lt.parityLines),
    afterCommit: purge === undefined ? undefined : (offsets) => purge.committed(offsets),
    transactions: new SerialQueue(),
    sweepEntries: opts.sweepEntries ?? DEFAULT_SWEEP_ENTRIES,
    heapPressure,
  };

  const backpressure = regroup === undefined ? undefined : new RegroupBackpressure(opts.maxHeld ?? Infinity, [...sourceOfTopic.keys()], () => consumer);
  let pauseReported = false;
  /** After a commit or a tick: pause and resume input partitions running ahead (regroup-backpressure.ts). */
  function alignInputs(): void {
    if (backpressure === undefined || stopping) return;
    const all = tasks.all();
    backpressure.update(all);
    if (backpressure.pauses > 0 && !pauseReported) {
      pauseReported = true;
      log(
        `skewless: holding back input partitions that run ahead in event time: the regrouped tasks hold ${formatCount(backpressure.held(all))} messages, over the limit of ${formatCount(backpressure.limit)} (--max-held, or half of what they held when the heap ran short); they resume as the partitions behind catch up (counted in skewless_regroup_pauses_total)`,
      );
    }
    metrics.set('skewless_regroup_paused_partitions', 'gauge', 'Input partitions held back for running ahead in event time while the regrouped tasks hold many messages', backpressure.pausedCount);
    metrics.set('skewless_regroup_pauses_total', 'counter', 'Times an input partition was held back for running ahead (regroup-backpressure.ts)', backpressure.pauses);
  }

  let heapReported = 0;
  /**
   * The heap found short (task-commit.ts lowers the tasks' bounds): counted, said once with what
   * to do, and it may set the regrouped tasks' limit on held messages (RegroupBackpressure.heapShort).
   */
  function reportHeap(): void {
    if (heapPressure.episodes === heapReported) return;
    backpressure?.heapShort(tasks.all());
    if (heapReported === 0) {
      const f = heapPressure.lastShort;
      const mib = (b: number): string => formatCount(Math.round(b / 2 ** 20));
      log(
        `skewless: the heap is short${f === undefined ? '' : ` (${mib(f.used)} of ${mib(f.limit)} MiB of old generation in use)`}: tasks keep fewer keys in memory and read the others back from their stores, which is slower; give the worker more heap (NODE_OPTIONS=--max-old-space-size=<MiB>) or fetch less per partition (--fetch-bytes)`,
      );
    }
    heapReported = heapPressure.episodes;
    metrics.set('skewless_heap_short_total', 'counter', "Times the worker found its heap short and lowered its tasks' bounds on keys in memory", heapReported);
  }

  /** A failure while handling a partition: drop what is not durable, back off, let the fetch repeat. */
  async function onFailure(partition: number, lt: LiveTask | undefined, e: unknown, ctl?: BatchControl): Promise<void> {
    // Stopping (e.g. on another partition's fatal error): an open cut short is no failure to retry or report.
    if (stopping) return;
    if (isFatal(e)) {
      fail(e as Error);
      return;
    }
    if (e instanceof StateFormatError || e instanceof AnswerWithoutRowError) {
      // Unreadable state in a store rebuilt from the changelog is in the changelog, and so is one
      // that disagrees with the answers topic: stop. Otherwise the local copy may be at fault: rebuild it.
      if (lt?.rebuiltFromChangelog) {
        const what = e instanceof StateFormatError ? `holds state this build cannot read (${e.message})` : `holds state that does not match the regroup answers topic ${regroup?.answers} (${e.message})`;
        fail(unreadableChangelog(changelogOwner, partition, what));
        return;
      }
      tasks.markForRebuild(partition);
    }
    // Dropping the task drops its uncommitted records and parity lines, and no other task's.
    if (lt) await tasks.drop(lt);
    if (!tasks.owns(partition)) return; // revoked: the new owner takes it from its last commit
    if (e instanceof TaskFencedError) {
      log(`skewless: task ${partition}: ${e.message}; giving it up`);
      return;
    }
    const text = e instanceof StoreLockedError ? `state store busy (${e.message})` : e instanceof StoreUnavailableError ? e.message : kafkaErrorText(e);
    if (e instanceof ChangelogUndecidedError && e.high > e.end) {
      // Thrown only after the task's producer was re-initialized (openTask claims the id first).
      // Without undecided records (a local copy ahead of a changelog that lost records) there is nothing to abort.
      const forMs = hanging.observe(partition, e.end, e.high, clock());
      if (forMs !== undefined) {
        fail(new HangingTransactionError(e, taskTransactionalId(partition), forMs, taskTopics, regroup === undefined ? [] : [regroup.messages, regroup.answers], groupId));
        return;
      }
    }
    const decision = backoff.failed(partition, clock());
    if (decision.giveUp) {
      fail(new Error(`partition ${partition} kept failing for ${decision.failingForS} s: ${text}`));
      return;
    }
    if (e instanceof ChangelogUndecidedError) {
      log(
        decision.failingForS === 0
          ? `skewless: task ${partition}: not opened: ${e.message}`
          : e.high > e.end
            ? `skewless: task ${partition}: changelog partition still undecided from offset ${e.end} to ${e.high}; waiting (${decision.failingForS} s)`
            : `skewless: task ${partition}: changelog partition still ends at offset ${e.end}, behind the local copy; waiting (${decision.failingForS} s)`,
      );
    } else {
      log(`skewless: task ${partition}: batch not committed (${text}); state dropped, retrying from the last commit${decision.failingForS > 0 ? ` (failing for ${decision.failingForS} s)` : ''}`);
    }
    for (let waited = 0; waited < decision.delayMs && !stopping; waited += 500) {
      await sleep(Math.min(500, decision.delayMs - waited));
      await ctl?.heartbeat().catch(() => undefined);
    }
  }

  /** The gap rule for one fetched batch: true to process it; otherwise the fetch moves back or the worker stops. */
  function atPosition(task: LiveTask, batch: ConsumedBatch, name: string, need: number): boolean {
    const position = checkInputPosition(task, batch, name, need, clock());
    if (position.kind === 'stop') fail(position.error);
    else if (position.kind === 'seek') {
      log(`skewless: task ${task.partition}: ${batch.topic} fetched from offset ${batch.fetchedOffset} but the state needs ${position.offset}; seeking back`);
      consumer!.seek(batch.topic, task.partition, position.offset);
    }
    return position.kind === 'process';
  }

  /** A batch of an internal regroup topic: the regrouped task's messages or the assembler's answers. */
  async function onRegroupBatch(batch: ConsumedBatch, ctl: BatchControl): Promise<void> {
    let lt: LiveTask | undefined;
    let touched = false;
    try {
      lt = await tasks.taskFor(batch.partition);
      const task = lt;
      await task.serial(async () => {
        if (task.closed) return;
        const rg = task.regroup!;
        if (!atPosition(task, batch, batch.topic, rg.nextOffset(batch.topic))) return;
        touched = true;
        const idleReleases = rg.idleReleases;
        if (batch.topic === regroup!.messages) await rg.receiveMessages(batch.messages);
        else rg.receiveAnswers(batch.messages);
        if (rg.idleReleases > idleReleases) {
          log(`skewless: task ${task.partition}: regroup idle release ${rg.idleReleases}: applied messages past the watermark of an idle input partition (it may send earlier events later; counted in skewless_regroup_idle_releases_total)`);
        }
        await commitTask(task, commitContext);
        ctl.done();
        backoff.succeeded(batch.partition);
        publishTaskMetrics(metrics, task, parityLog !== undefined);
        reportHeap();
        alignInputs();
      });
    } catch (e) {
      if (stopping) return;
      await onFailure(batch.partition, touched ? lt : undefined, e, ctl);
    }
  }

  const onBatchTiming = opts.onBatchTiming;
  async function onBatch(batch: ConsumedBatch, ctl: BatchControl): Promise<void> {
    if (regroup !== undefined && (batch.topic === regroup.messages || batch.topic === regroup.answers)) return onRegroupBatch(batch, ctl);
    const fetchedAt = performance.now();
    const source = sourceOfTopic.get(batch.topic)!;
    const name = source.node.name;
    let lt: LiveTask | undefined;
    /** Set once the engine may have changed the task's memory: a failure after it drops the task. */
    let touched = false;
    try {
      lt = await tasks.taskFor(batch.partition);
      const records = await decoders.get(batch.topic)!.decodeRecords(batch.messages, true);
      const decodedAt = performance.now();
      const task = lt;
      await task.serial(async () => {
        if (task.closed) return; // revoked meanwhile: the new owner reads these records
        // Fetched before its partition was paused: fetched again, from the task's position, once resumed.
        if (backpressure?.isPaused(task.partition)) return;
        if (!atPosition(task, batch, name, task.task.nextOffset(name))) return;
        touched = true;
        const startedAt = performance.now();
        task.lastInputAt.set(name, clock());
        const t = { engineMs: 0, produceMs: 0, outputs: 0, changelogRecords: 0, changelogBytes: 0 };
        const step = opts.maxBatch ?? records.length;
        for (let i = 0; i < records.length; ) {
          const e0 = performance.now();
          const end = Math.min(records.length, i + step);
          // A fetched batch can bring tens of thousands of keys into memory: a heap running short
          // part way ends the step there, so its commit lowers the bound and evicts before the rest.
          while (i < end) {
            const upto = Math.min(end, i + HEAP_LOOK_RECORDS);
            await task.task.process({ source: name, partition: batch.partition, records: records.slice(i, upto), fetchedFrom: i === 0 ? batch.fetchedOffset : undefined });
            i = upto;
            if (i < end && heapPressure.look() > task.heapEpisodes) break;
          }
          // Held for an input that is already quiet: released with this commit, not a tick later.
          if (i === records.length) await idle.releaseInBatch(task);
          const e1 = performance.now();
          const r = await commitTask(task, commitContext);
          t.engineMs += e1 - e0;
          t.produceMs += performance.now() - e1;
          t.outputs += r.outputs;
          t.changelogRecords += r.changelogRecords;
          t.changelogBytes += r.changelogBytes;
          await ctl.heartbeat();
        }
        ctl.done();
        backoff.succeeded(batch.partition);
        publishTaskMetrics(metrics, task, parityLog !== undefined);
        reportHeap();
        alignInputs();
        metrics.inc('skewless_changelog_bytes_total', 'Bytes of changelog records written', t.changelogBytes, { partition: String(batch.partition) });
        const last = batch.messages[batch.messages.length - 1].offset;
        metrics.set('skewless_consumer_lag', 'gauge', 'Records between the last fetched offset and the log end', Math.max(0, batch.highWatermark - last - 1), {
          topic: batch.topic,
          partition: String(batch.partition),
        });
        onBatchTiming?.({ topic: batch.topic, partition: batch.partition, records: records.length, fetchedAt, doneAt: performance.now(), decodeMs: decodedAt - fetchedAt, queueMs: startedAt - decodedAt, ...t });
      });
    } catch (e) {
      if (stopping) return;
      await onFailure(batch.partition, touched ? lt : undefined, e, ctl);
    }
  }

  const idleMs = opts.idleMs ?? 5000;
  const idle = new IdleInputs({
    cluster,
    sourceTopics: topicOfSource,
    idleMs,
    clock,
    log,
    tasks: () => (stopping ? [] : tasks.all()),
    member: () => consumer,
    commit: async (lt) => {
      await commitTask(lt, commitContext);
      publishTaskMetrics(metrics, lt, parityLog !== undefined);
      reportHeap();
    },
    onFailure: (lt, e) => onFailure(lt.partition, lt, e),
  });
  async function checkIdle(): Promise<void> {
    await idle.check();
    // An origin task declared idle no longer counts as behind: a partition held back may go on.
    alignInputs();
  }
  // With an injected clock the caller drives idle checks (checkIdleInputs). Single-source tasks
  // need the check too: a partition with fewer records than the future-skew warm-up holds them
  // until it is caught up and quiet.
  const idleTimer = opts.clock === undefined ? new IdleCheckTimer(idleMs, clock, (now) => idle.nextDue(now), () => checkIdle().catch((e: unknown) => log(`skewless: idle check failed: ${kafkaErrorText(e)}`))) : undefined;

  const instanceId = workerInstanceId(opts.stateDir);
  /** Until the first assignment: the tasks this worker owned when it last stopped (the leader gives them back: their stores are here). */
  let previouslyOwned = readLastOwnedTasks(opts.stateDir);
  if (previouslyOwned.length > 0) log(`skewless: ${opts.stateDir} last held tasks ${previouslyOwned.join(', ')}; the group's leader gives them back when it can`);
  const writeOwnedTasks = (owned: readonly number[]): void => {
    try {
      writeLastOwnedTasks(opts.stateDir, owned);
    } catch (e) {
      // Only a hint for the next start's placement: a full disk must not stop the worker here.
      log(`skewless: recording the assigned tasks in ${opts.stateDir} failed (${e instanceof Error ? e.message : String(e)}); a restart may not get them back`);
    }
  };
  consumer = await cluster.joinGroup({
    onFatal: (e) => fail(e),
    groupId,
    topics: [...sourceOfTopic.keys(), ...(regroup === undefined ? [] : [regroup.messages, regroup.answers])],
    onBatch,
    maxBytesPerPartition: opts.maxBytesPerPartition ?? DEFAULT_FETCH_BYTES,
    partitionsConcurrently: opts.partitionsConcurrently ?? DEFAULT_CONCURRENCY,
    sessionTimeoutMs: opts.sessionTimeoutMs,
    log,
    onAssignment: (assignment) => {
      const owned = Object.values(assignment).flat();
      previouslyOwned = [];
      writeOwnedTasks(owned);
      standbys?.own(owned);
      const toOpen = tasks.assign(owned);
      backpressure?.owned(owned);
      log(`skewless: assigned partitions ${[...new Set(owned)].sort((a, b) => a - b).join(', ') || '(none)'}`);
      // Open (and if needed restore) every assigned task now, not when its next record comes:
      // failover does not wait for traffic, and state of another version is refused at once.
      for (const p of toOpen) void tasks.taskFor(p).catch((e: unknown) => onFailure(p, undefined, e));
    },
    onStandbys: standbys === undefined ? undefined : (placed) => standbys.place(placed),
    subscription: () => ({ instanceId, previous: previouslyOwned, copies: standbys?.copies ?? new Map<number, number>(), standby: opts.standbyCopies ?? 0 }),
  });
  const standbyLoop = standbys !== undefined && opts.clock === undefined && opts.standbyIntervalMs !== Infinity ? followChangelogs(standbys, opts.standbyIntervalMs ?? 1000, () => stopping, log) : undefined;
  log(`skewless: ${delivery} delivery, changelog ${changelog}${regroup === undefined ? '' : `, regroup topics ${regroup.messages} and ${regroup.answers}`}`);

  return {
    metrics,
    failed,
    checkIdleInputs: () => checkIdle(),
    syncStandbys: () => standbys?.sync() ?? Promise.resolve(),
    standbys: () => standbys?.held ?? [],
    purgeRegroupTopics: () => purge?.purge() ?? Promise.resolve(0),
    async stop(): Promise<void> {
      stopping = true;
      idleTimer?.stop();
      idle.flushLog();
      if (purgeTimer) clearInterval(purgeTimer);
      await consumer!.stop();
      await tasks.closeAll();
      heapPressure.close();
      await standbyLoop;
      await standbys?.close();
      // What the last commits made purgeable; a failure here only leaves records for the next purge.
      await purge?.purge().catch((e: unknown) => log(`skewless: purging the regroup topics failed: ${kafkaErrorText(e)}`));
    },
  };
}
