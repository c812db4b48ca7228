/**
 * The regrouping side of one live task P (DESIGN.md, "Regrouping and features across
 * entities"). Task P owns partition P of the inputs, of the repartition topic and of the
 * answers topic (the group's assigner keeps them together), so one transactional producer,
 * one store and one changelog partition cover all three parts:
 *
 *  - origin: the engine task's updates and queries go to the repartition partition of their
 *    key (Kafka's murmur2, as replay's shuffle places them), followed after every batch by the
 *    task's watermark to every repartition partition; its partial rows wait here;
 *  - regrouped: repartition partition P's messages feed regroup partition P's RegroupedTask,
 *    whose answers go to the answers partition of the row's origin task;
 *  - assembler: answers partition P's answers complete the waiting rows, emitted in the order
 *    the engine task produced them.
 *
 * Everything a batch writes goes out in that batch's transaction (task-commit.ts), and the
 * internal topics are read with read_committed, so a record is applied once or not at all.
 */
import type { Program } from '../../engine/program.js';
import type { FeatureRow } from '../../engine/outputs.js';
import { readRegroupAnswer, readRegroupMessage, writeRegroupAnswer, writeRegroupMessage } from '../../engine/regroup-codec.js';
import type { PartialRow, RegroupAnswer, RegroupMessage, RegroupQuery, RegroupSinks, RegroupUpdate } from '../../engine/regroup-messages.js';
import { RegroupedTask } from '../../engine/regrouped-task.js';
import { DEFAULT_MAX_CACHED_KEYS } from '../../engine/task.js';
import { DurableRowAssembler } from '../../engine/durable-row-assembler.js';
import type { ConsumedMessage, TopicPartitionOffset } from '../../io/kafka/group-consumer.js';
import type { TaskRecord } from '../../io/kafka/task-producer.js';
import { ByteReader, ByteWriter } from '../../state/codec.js';
import type { BatchOp, StateBackend } from '../../state/state-backend.js';
import { regroupPartition } from '../regroup-spill.js';

/** The two internal topics of a topology's regroupings, with as many partitions as its inputs. */
export interface RegroupTopics {
  /** Updates, queries, watermarks and idle marks, by regrouped key. */
  readonly messages: string;
  /** Answers, by the origin partition of the row they belong to. */
  readonly answers: string;
  readonly partitions: number;
}

/** Named after the group and the topology version, like the changelog: a new version starts clean. */
export const regroupTopics = (group: string, version: string, partitions: number): RegroupTopics => ({
  messages: `${group}-${version}-regroup`,
  answers: `${group}-${version}-regroup-answers`,
  partitions,
});

/**
 * Internal records are needed only until every task that reads them has committed past them;
 * a week covers any outage a worker comes back from (a task further behind stops at the gap).
 */
export const REGROUP_TOPIC_CONFIGS: Readonly<Record<string, string>> = {
  'cleanup.policy': 'delete',
  'retention.ms': String(7 * 24 * 3600 * 1000),
  'message.timestamp.type': 'CreateTime',
};

/**
 * Messages for one partition go out as one record per commit (split past this size): a record
 * per update, query and answer would make Kafka's per-record work the cost of a regrouping.
 * Messages are self-delimiting, so a record is their concatenation.
 */
const BUNDLE_BYTES = 256 * 1024;

export class LiveRegroupTask implements RegroupSinks {
  /** Per repartition partition, the messages of the batch so far. */
  private readonly messageBundles: ByteWriter[];
  /** Per origin partition, the answers of the batch so far. */
  private readonly answerBundles: ByteWriter[];
  private sentWatermark = -Infinity;
  /**
   * True until this owner sent a watermark, and again after it declared itself idle: the
   * regrouped tasks may hold this upstream as idle, so its next update or query is preceded by
   * a watermark that makes it count again.
   */
  private mustWake = true;
  /** The idle mark went out and nothing since. */
  private idleDeclared = false;
  private declaredAt: readonly number[] = [];
  /** Internal records handed to the commit since the last beforeCommit(). */
  private internalRecords = 0;

  private constructor(
    readonly partition: number,
    private readonly topics: RegroupTopics,
    private readonly out: () => TaskRecord[],
    /** The engine task's watermark: stream time − grace (no later update lies below it). */
    private readonly watermark: () => number,
    /** Per source (program order), the end offset of each input partition now. */
    private readonly inputEnds: () => Promise<ReadonlyArray<ReadonlyMap<number, number>>>,
    private readonly regrouped: RegroupedTask,
    private readonly assembler: DurableRowAssembler,
    answerBundles: ByteWriter[],
  ) {
    this.messageBundles = Array.from({ length: topics.partitions }, () => new ByteWriter(4096));
    this.answerBundles = answerBundles;
  }

  static async open(
    program: Program,
    partition: number,
    topics: RegroupTopics,
    backend: StateBackend,
    out: () => TaskRecord[],
    watermark: () => number,
    inputEnds: () => Promise<ReadonlyArray<ReadonlyMap<number, number>>>,
    emit: (row: FeatureRow) => void,
    maxCachedKeys: number = DEFAULT_MAX_CACHED_KEYS,
  ): Promise<LiveRegroupTask> {
    // The regrouped task answers into bundles that exist before the task that flushes them.
    const answerBundles = Array.from({ length: topics.partitions }, () => new ByteWriter(4096));
    let self: LiveRegroupTask | undefined;
    // A long-running worker meets ever new regrouped keys: clean ones leave memory past the bound, as the origin task's do.
    const regrouped = await RegroupedTask.open(program, partition, topics.partitions, backend, (a) => self!.sendAnswer(a), { maxCachedKeys });
    const assembler = await DurableRowAssembler.open(program, partition, backend, emit);
    self = new LiveRegroupTask(partition, topics, out, watermark, inputEnds, regrouped, assembler, answerBundles);
    return self;
  }

  /** Lower the regrouped task's cache bound when the worker's heap runs short (RegroupedTask.capCache): the next commit evicts down to it. */
  capCache(fraction: number, floor: number): number {
    return this.regrouped.capCache(fraction, floor);
  }

  /** Messages held in the regrouped task below the watermarks. */
  get held(): number {
    return this.regrouped.pending;
  }

  /** Origin tasks feeding the regrouped task. */
  get upstreams(): number {
    return this.regrouped.upstreams;
  }

  /** RegroupedTask.upstreamWatermark: how far origin task `upstream` has come, as received here. */
  upstreamWatermark(upstream: number): number {
    return this.regrouped.upstreamWatermark(upstream);
  }

  /** Rows waiting for regrouped answers. */
  get waitingRows(): number {
    return this.assembler.pending;
  }

  get idleReleases(): number {
    return this.regrouped.idleReleases;
  }

  /** Lookups of tables keyed by another entity answered here without a version. */
  get lookupMisses(): number {
    return this.regrouped.lookupMisses;
  }

  /** Regrouped keys held in memory, and evicted since the task opened. */
  get cacheStats(): { readonly cachedKeys: number; readonly evictions: number } {
    return this.regrouped.cacheStats;
  }

  /** Regrouped keys whose state the sweep freed since the task opened. */
  get expiredKeys(): number {
    return this.regrouped.expiredKeys;
  }

  /** Free quiet regrouped keys' state (RegroupedTask.sweepExpired); before changes(). */
  sweepExpired(entries: number): Promise<number> {
    return this.regrouped.sweepExpired(entries);
  }

  /** True when this origin told the regrouped tasks it is idle and sent nothing since. */
  get declaredIdle(): boolean {
    return this.idleDeclared;
  }

  /** The input positions of the idle mark in force, while this origin is declared idle. */
  get idlePositions(): readonly number[] | undefined {
    return this.idleDeclared ? this.declaredAt : undefined;
  }

  // --- origin side (RegroupSinks of the engine task) ---

  update(u: RegroupUpdate): void {
    this.wake(u.t);
    this.send(regroupPartition(u.key, this.topics.partitions), u);
  }

  query(q: RegroupQuery): void {
    this.wake(q.qt);
    this.send(regroupPartition(q.key, this.topics.partitions), q);
  }

  partialRow(row: PartialRow): void {
    // The engine reuses row.values; the assembler copies what it keeps.
    this.assembler.row(row);
  }

  /**
   * Before a commit: tell every regrouped task how far this origin has come, if further, and
   * hand the batch's messages and answers to the commit, after everything the batch sent.
   * Returns how many internal records went to the commit since the last call (not outputs).
   */
  beforeCommit(): number {
    const w = this.watermark();
    if (w > this.sentWatermark) this.broadcast(w);
    for (let r = 0; r < this.topics.partitions; r++) {
      this.flush(this.topics.messages, r, this.messageBundles[r]);
      this.flush(this.topics.answers, r, this.answerBundles[r]);
    }
    const n = this.internalRecords;
    this.internalRecords = 0;
    return n;
  }

  /**
   * The origin is caught up and quiet, at these input positions (program source order): stop
   * holding the regrouped tasks back until it sends again or its inputs grow.
   */
  declareIdle(positions: readonly number[]): void {
    for (let r = 0; r < this.topics.partitions; r++) this.send(r, { kind: 'idle', upstream: this.partition, positions });
    this.idleDeclared = true;
    this.declaredAt = positions;
    this.mustWake = true;
  }

  private wake(time: number): void {
    if (!this.mustWake) return;
    // At most the time of what follows, so it never claims more than this origin can keep.
    this.broadcast(Math.min(this.watermark(), time));
  }

  private broadcast(w: number): void {
    for (let r = 0; r < this.topics.partitions; r++) this.send(r, { kind: 'watermark', upstream: this.partition, watermark: w });
    if (w > this.sentWatermark) this.sentWatermark = w;
    this.mustWake = false;
    this.idleDeclared = false;
  }

  private send(partition: number, m: RegroupMessage): void {
    const w = this.messageBundles[partition];
    writeRegroupMessage(w, m);
    if (w.written().length >= BUNDLE_BYTES) this.flush(this.topics.messages, partition, w);
  }

  private sendAnswer(a: RegroupAnswer): void {
    const w = this.answerBundles[a.partition];
    writeRegroupAnswer(w, a);
    if (w.written().length >= BUNDLE_BYTES) this.flush(this.topics.answers, a.partition, w);
  }

  private flush(topic: string, partition: number, w: ByteWriter): void {
    if (w.written().length === 0) return;
    this.out().push({ topic, message: { key: null, value: w.bytes(), partition } });
    this.internalRecords++;
    w.reset();
  }

  // --- regrouped and assembler sides ---

  /** Next offset of the internal topic `topic` (partition P) this state needs. */
  nextOffset(topic: string): number {
    return this.assembler.position(topic);
  }

  /** Apply a fetched batch of the repartition topic; records this state already reflects are skipped. */
  async receiveMessages(messages: readonly ConsumedMessage[]): Promise<void> {
    const batch: RegroupMessage[] = [];
    const next = this.take(this.topics.messages, messages, (bytes) => {
      for (const r = new ByteReader(bytes); !r.done; ) batch.push(readRegroupMessage(r));
    });
    await this.regrouped.receive(batch, async (idle) => {
      const ends = await this.inputEnds();
      return idle.map(({ upstream, positions }) => positions.every((p, i) => (ends[i]?.get(upstream) ?? 0) <= p));
    });
    this.assembler.setPosition(this.topics.messages, next);
  }

  /** Apply a fetched batch of the answers topic: complete rows are emitted. */
  receiveAnswers(messages: readonly ConsumedMessage[]): void {
    const next = this.take(this.topics.answers, messages, (bytes) => {
      for (const r = new ByteReader(bytes); !r.done; ) this.assembler.answer(readRegroupAnswer(r));
    });
    this.assembler.setPosition(this.topics.answers, next);
  }

  private take(topic: string, messages: readonly ConsumedMessage[], each: (bytes: Uint8Array) => void): number {
    let next = this.nextOffset(topic);
    for (const m of messages) {
      if (m.offset < next) continue;
      if (m.value === null) throw new Error(`${topic} partition ${this.partition} offset ${m.offset}: a record without a value; only skewless writes this topic`);
      each(m.value);
      next = m.offset + 1;
    }
    return next;
  }

  /** State changes of the regrouped task and the assembler since the last call. */
  changes(): BatchOp[] {
    return [...this.regrouped.changes(), ...this.assembler.changes()];
  }

  /** The internal topics' consumer offsets, committed with the batch. */
  offsets(): TopicPartitionOffset[] {
    return [this.topics.messages, this.topics.answers].map((topic) => ({ topic, partition: this.partition, offset: this.nextOffset(topic) }));
  }
}
