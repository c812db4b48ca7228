/**
 * A broker-free LiveCluster for tests of the live driver, in the spirit of Kafka Streams'
 * TopologyTestDriver: partitions with offsets, transactions with commit/abort markers and
 * read_committed visibility, per-transactional-id epochs that fence older producers, a
 * consumer group with committed offsets, rebalances and seeks. Nothing runs by itself: the
 * test calls poll() to deliver fetched batches, so commit order, failures and rebalances
 * happen exactly where the test puts them. Fault hooks let a commit fail at chosen points.
 */
import type { SchemaRegistryPort, WriterSchema } from '../../io/avro/registry-client.js';
import avsc from 'avsc';
import { TaskFencedError, topicPartitionId, type LastOffsets, type TaskOffsets, type TaskRecord } from '../../io/kafka/task-producer.js';
import type { OutgoingMessage } from '../../io/kafka/topic-producer.js';
import { producedDeadLetter } from '../../io/kafka/produced-dead-letter.js';
import { placeTasks } from '../../io/kafka/task-placement.js';
import { EMPTY_SUBSCRIPTION, type MemberSubscription } from '../../io/kafka/co-partitioned-assigner.js';
import type { BatchControl, ConsumedBatch, GroupConsumerOptions, GroupMember, KafkaRecord, LiveCluster, PartitionRangeOf, PartitionRecords, TaskOutputPort, TopicLimits, TopicPartitionOffset } from './live-cluster.js';

interface Txn {
  state: 'open' | 'committed' | 'aborted';
}

interface Entry {
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Reassigned when the commit markers of its transaction are lost on its partition. */
  txn?: Txn;
  /** A transaction marker: takes an offset, never delivered. */
  readonly control?: boolean;
}

interface Partition {
  entries: Entry[];
  /** Offsets below were deleted (retention). */
  logStart: number;
}

/** Where a commit may be made to fail, for tests. */
export interface CommitFaults {
  /** Before anything is written; an error returned is thrown. */
  beforeSend?: (transactionalId: string | undefined, records: readonly TaskRecord[]) => Error | undefined;
  /** After the records are written into the transaction, before it commits: the transaction is aborted. */
  beforeCommit?: (transactionalId: string | undefined) => Error | undefined;
  /**
   * When it returns true for a partition of a transaction that ends, the outcome stands (a commit
   * is acknowledged) but no marker reaches that partition (as a restarted broker's coordinator can
   * skip them): its records stay undecided until a later transaction of the same id writes a
   * marker there, which decides them with its own outcome (Kafka keeps one open transaction per
   * producer and partition).
   */
  loseMarkers?: (transactionalId: string, topic: string, partition: number, outcome: 'committed' | 'aborted') => boolean;
}

const toBuffer = (b: Uint8Array | string | null): Buffer | null => (b === null ? null : typeof b === 'string' ? Buffer.from(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

function headerText(h: OutgoingMessage['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) out[k] = typeof v === 'string' ? v : Buffer.from(v).toString('utf8');
  return out;
}

export class MemoryCluster implements LiveCluster {
  private readonly topics = new Map<string, Partition[]>();
  private readonly epochs = new Map<string, number>();
  private readonly openTxns = new Map<string, { txn: Txn; touched: Set<string> }>();
  /** Per transactional id and partition, records left undecided by lost markers. */
  private readonly undecided = new Map<string, Txn>();
  private readonly groups = new Map<string, MemoryMember[]>();
  private readonly committed = new Map<string, Map<string, number>>();
  readonly faults: CommitFaults = {};
  /** Wall-clock-free record timestamps for records without one. */
  private tick = 0;
  private taskTransactionsOpen = 0;
  /** The most task transactions (commits of task producers) ever open at once. */
  peakTaskTransactions = 0;

  createTopic(topic: string, partitions: number): void {
    if (!this.topics.has(topic)) this.topics.set(topic, Array.from({ length: partitions }, () => ({ entries: [], logStart: 0 })));
  }

  private partition(topic: string, partition: number): Partition {
    const t = this.topics.get(topic);
    if (!t || !t[partition]) throw new Error(`memory cluster: no partition ${partition} of topic ${topic}`);
    return t[partition];
  }

  /** The partition's records from `offset` on are gone, as on a lone broker that lost acknowledged writes (tests). */
  loseRecordsFrom(topic: string, partition: number, offset: number): void {
    const p = this.partition(topic, partition);
    p.entries.length = Math.max(0, offset - p.logStart);
  }

  private append(topic: string, partition: number, m: OutgoingMessage, txn?: Txn): number {
    const p = this.partition(topic, partition);
    const offset = p.logStart + p.entries.length;
    p.entries.push({ offset, key: toBuffer(m.key), value: toBuffer(m.value), timestamp: m.timestamp ?? this.tick++, headers: headerText(m.headers), txn });
    return offset;
  }

  /** Append a record outside any transaction (a plain producer writing input). */
  produce(topic: string, partition: number, message: OutgoingMessage): number {
    return this.append(topic, partition, message);
  }

  async deleteRecordsBefore(topic: string, offsets: ReadonlyArray<{ readonly partition: number; readonly offset: number }>): Promise<void> {
    for (const o of offsets) this.truncate(topic, o.partition, o.offset);
  }

  /** The first offset a partition still holds. */
  logStartOf(topic: string, partition: number): number {
    return this.partition(topic, partition).logStart;
  }

  /** Delete offsets below `offset` (retention). */
  truncate(topic: string, partition: number, offset: number): void {
    const p = this.partition(topic, partition);
    const drop = Math.max(0, Math.min(offset - p.logStart, p.entries.length));
    p.entries = p.entries.slice(drop);
    p.logStart += drop;
  }

  private lso(p: Partition): number {
    const open = p.entries.find((e) => e.txn?.state === 'open');
    return open ? open.offset : p.logStart + p.entries.length;
  }

  /** Records a read_committed reader sees in [from, to). */
  private visible(p: Partition, from: number, to: number): Entry[] {
    const end = Math.min(to, this.lso(p));
    const out: Entry[] = [];
    for (const e of p.entries) {
      if (e.offset < from || e.offset >= end || e.control) continue;
      if (e.txn === undefined || e.txn.state === 'committed') out.push(e);
    }
    return out;
  }

  /** Every committed record of a topic partition (what a read_committed consumer reads from the start). */
  committedRecords(topic: string, partition: number): KafkaRecord[] {
    const p = this.partition(topic, partition);
    return this.visible(p, p.logStart, Infinity).map(toRecord);
  }

  groupOffset(groupId: string, topic: string, partition: number): number | undefined {
    return this.committed.get(groupId)?.get(`${topic}:${partition}`);
  }

  setGroupOffset(groupId: string, topic: string, partition: number, offset: number): void {
    let g = this.committed.get(groupId);
    if (!g) this.committed.set(groupId, (g = new Map()));
    g.set(`${topic}:${partition}`, offset);
  }

  /**
   * Members of a group in join order: the order the assignor gives them here. (Kafka's orders
   * them by instance id, which is random per state root: join order keeps the tests that drive
   * workers through this cluster deterministic.)
   */
  members(groupId: string): readonly MemoryMember[] {
    return this.groups.get(groupId) ?? [];
  }

  /** Remove a member as a session timeout would (the process is gone or paused); the group rebalances. */
  expel(member: MemoryMember): void {
    const list = this.groups.get(member.groupId) ?? [];
    const i = list.indexOf(member);
    if (i >= 0) list.splice(i, 1);
    member.active = false;
    this.rebalance(member.groupId);
  }

  private rebalance(groupId: string): void {
    const list = this.groups.get(groupId) ?? [];
    // Placed as the Kafka group's leader places them (task-placement.ts), members in join order (see members()).
    const claims = list.map((m) => ({ ...m.subscription(), memberId: m.id, instanceId: m.id }));
    const tasks = new Set<number>();
    for (const m of list) for (const topic of m.topics) for (let p = 0; p < (this.topics.get(topic)?.length ?? 0); p++) tasks.add(p);
    const placement = placeTasks(claims, [...tasks]);
    for (const m of list) {
      const mine = placement.active.get(m.id) ?? [];
      const assignment: Record<string, number[]> = {};
      for (const topic of m.topics) {
        const n = this.topics.get(topic)?.length ?? 0;
        assignment[topic] = mine.filter((p) => p < n);
      }
      m.assign(assignment, (topic, p) => this.groupOffset(groupId, topic, p) ?? 0);
    }
    // As a Kafka member reads its standby tasks back from the group's description once the rebalance settled.
    for (const m of list) m.standbys(placement.standby.get(m.id) ?? []);
  }

  /** Abort a transaction (the coordinator does it when a newer epoch claims the id). */
  private finish(id: string, state: 'committed' | 'aborted'): void {
    const open = this.openTxns.get(id);
    if (!open) return;
    open.txn.state = state;
    for (const tp of open.touched) {
      const [topic, p] = splitId(tp);
      const part = this.partition(topic, p);
      const left = this.undecided.get(`${id}|${tp}`);
      if (this.faults.loseMarkers?.(id, topic, p, state) === true) {
        const stuck = left ?? { state: 'open' };
        for (const e of part.entries) if (e.txn === open.txn) e.txn = stuck;
        this.undecided.set(`${id}|${tp}`, stuck);
        continue;
      }
      if (left !== undefined) {
        left.state = state;
        this.undecided.delete(`${id}|${tp}`);
      }
      part.entries.push({ offset: part.logStart + part.entries.length, key: null, value: null, timestamp: this.tick++, headers: {}, control: true });
    }
    this.openTxns.delete(id);
  }

  /**
   * Another producer's transaction with one record, left open: it holds the partition's
   * read_committed end at that record (as a transaction does whose commit markers the broker has
   * not written yet) until `end` decides it.
   */
  openTransaction(transactionalId: string, topic: string, partition: number, message: OutgoingMessage): { end(state: 'committed' | 'aborted'): void } {
    const txn: Txn = { state: 'open' };
    this.openTxns.set(transactionalId, { txn, touched: new Set([topicPartitionId(topic, partition)]) });
    this.append(topic, partition, message, txn);
    return { end: (state) => this.finish(transactionalId, state) };
  }

  /** A newer holder claims the transactional id: older producers are fenced, their open transaction aborted. */
  fence(transactionalId: string): number {
    const epoch = (this.epochs.get(transactionalId) ?? 0) + 1;
    this.epochs.set(transactionalId, epoch);
    this.finish(transactionalId, 'aborted');
    return epoch;
  }

  async commitFor(producer: { id: string | undefined; epoch: number }, records: readonly TaskRecord[], offsets: TaskOffsets | undefined): Promise<LastOffsets> {
    const { id } = producer;
    if (id !== undefined && this.epochs.get(id) !== producer.epoch) throw new TaskFencedError(id, 'INVALID_PRODUCER_EPOCH');
    const before = this.faults.beforeSend?.(id, records);
    if (before) throw before;
    const last = new Map<string, number>();
    if (id === undefined) {
      for (const r of records) last.set(topicPartitionId(r.topic, r.message.partition ?? 0), this.append(r.topic, r.message.partition ?? 0, r.message));
      return last;
    }
    const txn: Txn = { state: 'open' };
    const touched = new Set<string>();
    this.openTxns.set(id, { txn, touched });
    this.taskTransactionsOpen++;
    this.peakTaskTransactions = Math.max(this.peakTaskTransactions, this.taskTransactionsOpen);
    try {
      for (const r of records) {
        const p = r.message.partition ?? 0;
        touched.add(topicPartitionId(r.topic, p));
        last.set(topicPartitionId(r.topic, p), this.append(r.topic, p, r.message, txn));
      }
      // A turn of the event loop, as a broker round trip: other work (a rebalance, a fence, another
      // task's engine reading its store) may happen here.
      await new Promise((resolve) => setImmediate(resolve));
      const fault = this.faults.beforeCommit?.(id);
      if (this.epochs.get(id) !== producer.epoch) throw new TaskFencedError(id, 'INVALID_PRODUCER_EPOCH');
      if (fault) {
        this.finish(id, 'aborted');
        throw fault;
      }
      this.finish(id, 'committed');
      if (offsets) for (const o of offsets.offsets) this.setGroupOffset(offsets.groupId, o.topic, o.partition, o.offset);
      return last;
    } finally {
      this.taskTransactionsOpen--;
    }
  }

  // ---- LiveCluster

  async partitionCount(topic: string): Promise<number | undefined> {
    return this.topics.get(topic)?.length;
  }

  async ensureTopic(topic: string, partitions: number): Promise<void> {
    const n = this.topics.get(topic)?.length;
    if (n !== undefined && n !== partitions) throw new Error(`topic ${topic} has ${n} partitions, expected ${partitions}`);
    this.createTopic(topic, partitions);
  }

  async topicLimits(): Promise<Map<string, TopicLimits>> {
    return new Map();
  }

  async endOffsets(topic: string): Promise<Map<number, number>> {
    return new Map((this.topics.get(topic) ?? []).map((p, i) => [i, this.lso(p)]));
  }

  async highWatermark(topic: string, partition: number): Promise<number> {
    const p = this.partition(topic, partition);
    return p.logStart + p.entries.length;
  }

  async *readRange(topic: string, partition: number, start: number, end: number): AsyncIterable<readonly KafkaRecord[]> {
    const records = this.visible(this.partition(topic, partition), start, end).map(toRecord);
    if (records.length > 0) yield records;
  }

  async *readRanges(topic: string, ranges: readonly PartitionRangeOf[]): AsyncIterable<PartitionRecords> {
    for (const r of ranges) for await (const records of this.readRange(topic, r.partition, r.start, r.end)) yield { partition: r.partition, records };
  }

  async openTaskProducer(transactionalId: string | undefined): Promise<TaskOutputPort> {
    const epoch = transactionalId === undefined ? 0 : this.fence(transactionalId);
    const producer = { id: transactionalId, epoch };
    return {
      exactlyOnce: transactionalId !== undefined,
      commit: (records, offsets) => this.commitFor(producer, records, offsets),
      close: async () => undefined,
    };
  }

  async joinGroup(options: GroupConsumerOptions): Promise<GroupMember> {
    const member = new MemoryMember(this, options);
    let list = this.groups.get(options.groupId);
    if (!list) this.groups.set(options.groupId, (list = []));
    list.push(member);
    this.rebalance(options.groupId);
    return member;
  }

  /** Leave (a clean stop). */
  leave(member: MemoryMember): void {
    this.expel(member);
  }

  /**
   * One fetch round: every active member gets at most one batch per assigned partition (up to
   * `maxRecords` offsets), handled to completion, `partitionsConcurrently` of them at once as
   * kafkajs hands them over. Returns the batches delivered.
   */
  async poll(maxRecords = 100): Promise<number> {
    let delivered = 0;
    for (const list of [...this.groups.values()]) {
      for (const m of [...list]) {
        const owned = m.owned();
        for (let i = 0; i < owned.length && m.active; i += m.concurrency) {
          // Fetched just before they are handed over: a seek by the batches before them counts.
          const group: Array<Promise<void>> = [];
          for (const [topic, p] of owned.slice(i, i + m.concurrency)) {
            if (m.isPaused(topic, p)) continue;
            const part = this.partition(topic, p);
            let pos = m.position(topic, p);
            if (pos < part.logStart) pos = part.logStart; // out of range: auto.offset.reset=earliest
            const lso = this.lso(part);
            if (pos >= lso) continue;
            const to = Math.min(lso, pos + maxRecords);
            const records = this.visible(part, pos, to);
            if (records.length === 0) {
              m.advance(topic, p, to);
              continue;
            }
            const messages = records.map((e) => ({ offset: e.offset, key: e.key, value: e.value, timestamp: e.timestamp, deadLetter: producedDeadLetter(e.headers, e.value) }));
            group.push(m.deliver({ topic, partition: p, fetchedOffset: pos, highWatermark: lso, messages }, to));
          }
          delivered += group.length;
          await Promise.all(group);
        }
      }
    }
    return delivered;
  }

  /** Poll until a round delivers nothing (at most `rounds`). */
  async runUntilIdle(maxRecords = 100, rounds = 10_000): Promise<void> {
    for (let i = 0; i < rounds; i++) if ((await this.poll(maxRecords)) === 0) return;
    throw new Error(`memory cluster: still delivering after ${rounds} rounds`);
  }
}

let joined = 0;

export class MemoryMember implements GroupMember {
  active = true;
  /** Member id and instance id at once: join order is the assignor's order here. */
  readonly id = `member-${String(joined++).padStart(9, '0')}`;
  readonly groupId: string;
  readonly topics: readonly string[];
  private assignment: Record<string, number[]> = {};
  private readonly positions = new Map<string, number>();
  private readonly seeks = new Map<string, number>();
  /** Partitions not fetched until resumed (kept across rebalances, as kafkajs keeps them). */
  private readonly paused = new Set<string>();
  private readonly fetched = new Map<string, number>();

  constructor(
    private readonly cluster: MemoryCluster,
    private readonly options: GroupConsumerOptions,
  ) {
    this.groupId = options.groupId;
    this.topics = options.topics;
  }

  assign(assignment: Record<string, number[]>, committed: (topic: string, partition: number) => number): void {
    const before = new Set(this.owned().map(([t, p]) => `${t}:${p}`));
    this.assignment = assignment;
    for (const [t, p] of this.owned()) if (!before.has(`${t}:${p}`)) this.positions.set(`${t}:${p}`, committed(t, p));
    this.options.onAssignment?.(assignment);
  }

  standbys(tasks: readonly number[]): void {
    this.options.onStandbys?.(tasks);
  }

  /** What this member would send the leader at a join (its instance id is replaced by the join order here). */
  subscription(): MemberSubscription {
    return { ...EMPTY_SUBSCRIPTION, ...this.options.subscription?.(), owned: this.tasks() };
  }

  /** The tasks it owns now. */
  tasks(): number[] {
    return [...new Set(this.owned().map(([, p]) => p))].sort((a, b) => a - b);
  }

  owned(): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (const [t, ps] of Object.entries(this.assignment)) for (const p of ps) out.push([t, p]);
    return out.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  }

  position(topic: string, partition: number): number {
    return this.positions.get(`${topic}:${partition}`) ?? 0;
  }

  advance(topic: string, partition: number, to: number): void {
    this.positions.set(`${topic}:${partition}`, to);
    this.fetched.set(`${topic}:${partition}`, to);
  }

  /** Batches of different partitions handled at once. */
  get concurrency(): number {
    return Math.max(1, this.options.partitionsConcurrently ?? 1);
  }

  async deliver(batch: ConsumedBatch, rangeEnd: number): Promise<void> {
    const id = `${batch.topic}:${batch.partition}`;
    let done = false;
    const ctl: BatchControl = { heartbeat: async () => undefined, done: () => void (done = true) };
    this.seeks.delete(id);
    await this.options.onBatch(batch, ctl);
    const seek = this.seeks.get(id);
    if (seek !== undefined) {
      this.positions.set(id, seek);
      this.seeks.delete(id);
    } else if (done) this.advance(batch.topic, batch.partition, rangeEnd);
  }

  pause(topic: string, partitions: readonly number[]): void {
    for (const p of partitions) this.paused.add(`${topic}:${p}`);
  }

  resume(topic: string, partitions: readonly number[]): void {
    for (const p of partitions) this.paused.delete(`${topic}:${p}`);
  }

  isPaused(topic: string, partition: number): boolean {
    return this.paused.has(`${topic}:${partition}`);
  }

  seek(topic: string, partition: number, offset: number): void {
    this.seeks.set(`${topic}:${partition}`, offset);
    // As with Kafka, the next fetch of that partition starts there, also when it is not the one
    // being delivered (deliver() still lets a seek during a partition's own batch win over its advance).
    this.positions.set(`${topic}:${partition}`, offset);
    this.fetched.delete(`${topic}:${partition}`);
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    for (const o of offsets) this.cluster.setGroupOffset(this.groupId, o.topic, o.partition, o.offset);
  }

  fetchedUpTo(topic: string, partition: number): number {
    return this.fetched.get(`${topic}:${partition}`) ?? 0;
  }

  async stop(): Promise<void> {
    if (this.active) this.cluster.leave(this);
  }
}

function splitId(id: string): [string, number] {
  const i = id.lastIndexOf(':');
  return [id.slice(0, i), Number(id.slice(i + 1))];
}

function toRecord(e: Entry): KafkaRecord {
  return { offset: e.offset, key: e.key, value: e.value, timestamp: e.timestamp, headers: e.headers, deadLetter: producedDeadLetter(e.headers, e.value) };
}

/** A schema registry in memory: ids by registration order, one per distinct schema. */
export class MemorySchemaRegistry implements SchemaRegistryPort {
  private readonly ids = new Map<string, number>();
  private readonly schemas: avsc.Type[] = [];

  async register(_subject: string, schema: object): Promise<number> {
    const text = JSON.stringify(schema);
    let id = this.ids.get(text);
    if (id === undefined) {
      this.schemas.push(avsc.Type.forSchema(schema as avsc.Schema));
      id = this.schemas.length;
      this.ids.set(text, id);
    }
    return id;
  }

  async writerSchema(id: number): Promise<WriterSchema> {
    const type = this.schemas[id - 1];
    return type ? { type } : { missing: true };
  }
}
