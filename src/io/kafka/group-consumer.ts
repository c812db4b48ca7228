/**
 * A consumer-group member that hands whole fetched batches to its caller. It never commits by
 * itself: the live driver commits offsets inside its transaction (exactly-once) or after its
 * state is durable (at-least-once), and moves the fetch position to where its state stands.
 * Inputs are read with read_committed.
 */
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { KafkaConnection } from './kafka-connection.js';
import { CO_PARTITIONED_ASSIGNER_NAME, coPartitionedAssigner, decodeAssignment, EMPTY_SUBSCRIPTION, type MemberSubscription } from './co-partitioned-assigner.js';
import { producedDeadLetter, type ProducedDeadLetter } from './produced-dead-letter.js';
import kafkajs from './kafkajs-runtime.js';

const { PartitionAssigners } = kafkajs;

export interface ConsumedMessage {
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Broker timestamp (ms): for metrics only, never for event time. */
  readonly timestamp: number;
  /** Set for a record `skewless produce` could not encode (produced-dead-letter.ts). */
  readonly deadLetter: ProducedDeadLetter | undefined;
}

export interface ConsumedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly ConsumedMessage[];
  /**
   * The offset this fetch started from, for a read_committed reader: offsets before the first
   * message hold no data (transaction markers and aborted records included).
   */
  readonly fetchedOffset: number;
  /** The partition's log end offset when the batch was fetched. */
  readonly highWatermark: number;
}

/** What a batch handler may do with the member while it works. */
export interface BatchControl {
  /** Keep the group session alive during long work. */
  heartbeat(): Promise<void>;
  /** The batch was handled: fetching continues after it. */
  done(): void;
}

export interface TopicPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface GroupConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /**
   * Handle one batch. Call ctl.done() once it is applied; without it (and without a seek) the
   * member fetches the same records again.
   */
  readonly onBatch: (batch: ConsumedBatch, ctl: BatchControl) => Promise<void>;
  /** The partitions this member now owns, per topic (after every rebalance). */
  readonly onAssignment?: (assignment: Readonly<Record<string, readonly number[]>>) => void;
  /**
   * After each rebalance, once known: the tasks whose standby copies the group's leader placed
   * on this member (co-partitioned-assigner.ts). Not called when the group settled on another
   * assignor (a member of an older build).
   */
  readonly onStandbys?: (tasks: readonly number[]) => void;
  /**
   * What this member tells the group's leader at each join besides the tasks it owns: its
   * identity across restarts (kept in its state root: members are ordered by it), the tasks it
   * owned when it last stopped and those it keeps standby copies of. The leader keeps tasks
   * where their state is (task-placement.ts). Default: an instance id '' and nothing held.
   */
  readonly subscription?: () => Omit<MemberSubscription, 'owned'>;
  /** The member failed in a way it cannot recover from by itself (kafkajs gave up restarting). */
  readonly onFatal?: (error: Error) => void;
  /** Batches of different partitions handled at once (default 1). */
  readonly partitionsConcurrently?: number;
  /** Upper bound on bytes fetched per partition and request (kafkajs default 1 MiB). */
  readonly maxBytesPerPartition?: number;
  /**
   * How long the group waits for a silent member before giving its partitions to others
   * (default 10 s): the failover time after a kill -9. A clean stop leaves at once.
   */
  readonly sessionTimeoutMs?: number;
  /** Longest wait for a fetch to fill up (default 500 ms): bounds the latency of a quiet input. */
  readonly maxWaitMs?: number;
  /** Retries of a failing fetch or batch before kafkajs restarts the member as a new one (default 10). */
  readonly retries?: number;
  readonly log?: (line: string) => void;
}

export class GroupConsumer {
  /** Per `topic:partition`: the offset after the last one fetched, control records included. */
  private readonly fetched = new Map<string, number>();
  /**
   * Per `topic:partition`: offsets [from, to) right before the next fetch that a read_committed
   * reader never sees: the transaction marker that ended the last delivered batch (kafkajs
   * counts it in the batch's last offset and fetches on after it) and fetches that held only
   * markers or aborted records (kafkajs passes over those by itself). The next batch reports
   * its fetch as starting at `from`, so a task whose state ends right before a marker does not
   * take the marker for a gap and seek back onto it again and again.
   */
  private readonly invisible = new Map<string, { from: number; to: number }>();
  /** Batches handed to onBatch, `topic:partition@lastOffset` → the offset after their last message. */
  private readonly delivered = new Map<string, number>();
  /**
   * Delivered batches whose records a task took (ctl.done()). Only these, and fetches without
   * messages, move `fetched`: a batch that failed is fetched again from the last one taken, and one
   * that made the task seek is fetched from the seek, so until then the input is not read that far
   * (the idle rule takes an input read up to the end offset as caught up).
   */
  private readonly taken = new Set<string>();
  /** `topic:partition` paused by the caller and not resumed since (pause). */
  private readonly paused = new Set<string>();

  private constructor(private readonly consumer: Consumer) {
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const id = `${payload.topic}:${payload.partition}`;
      const next = Number(payload.lastOffset) + 1;
      const key = `${id}@${payload.lastOffset}`;
      const afterMessages = this.delivered.get(key);
      if (afterMessages !== undefined && !this.taken.delete(key)) {
        this.delivered.delete(key);
        return;
      }
      if (next > (this.fetched.get(id) ?? 0)) this.fetched.set(id, next);
      if (afterMessages !== undefined) {
        this.delivered.delete(key);
        if (afterMessages < next) this.invisible.set(id, { from: afterMessages, to: next });
        else this.invisible.delete(id);
        return;
      }
      const first = payload.firstOffset === null || payload.firstOffset === undefined ? Number(payload.lastOffset) : Number(payload.firstOffset);
      const prev = this.invisible.get(id);
      this.invisible.set(id, prev !== undefined && prev.to === first ? { from: prev.from, to: next } : { from: first, to: next });
    });
  }

  /** Where a fetch that started at `fetchedOffset` starts for a read_committed reader (see `invisible`). */
  private visibleFrom(id: string, fetchedOffset: number): number {
    const skipped = this.invisible.get(id);
    this.invisible.delete(id);
    return skipped !== undefined && skipped.to === fetchedOffset ? skipped.from : fetchedOffset;
  }

  /** The offset after the last record fetched from a partition (0 before any). */
  fetchedUpTo(topic: string, partition: number): number {
    return this.fetched.get(`${topic}:${partition}`) ?? 0;
  }

  static async start(conn: KafkaConnection, opts: GroupConsumerOptions): Promise<GroupConsumer> {
    const sessionTimeout = opts.sessionTimeoutMs ?? 10_000;
    /** The tasks of this member's last assignment (sent to the leader at the next join). */
    let owned: number[] = [];
    const consumer = conn.kafka.consumer({
      groupId: opts.groupId,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
      // kafkajs' whole-fetch default (10 MiB) would hold eight partitions below 2 MiB each.
      maxBytes: Math.max(10 * 1024 * 1024, 8 * (opts.maxBytesPerPartition ?? 0)),
      sessionTimeout,
      heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)),
      maxWaitTimeInMs: opts.maxWaitMs ?? 500,
      readUncommitted: false,
      // Round robin stays second so a group of older workers (which only offer it) can still form during an upgrade.
      partitionAssigners: [coPartitionedAssigner(() => ({ ...EMPTY_SUBSCRIPTION, ...opts.subscription?.(), owned })), PartitionAssigners.roundRobin],
      // Ride out broker restarts: kafkajs restarts the member after a crash it deems retriable.
      retry: { retries: opts.retries ?? 10, initialRetryTime: 300, maxRetryTime: 10_000 },
    });
    const member = new GroupConsumer(consumer);
    await consumer.connect();
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      owned = [...new Set(Object.values(e.payload.memberAssignment).flat())].sort((a, b) => a - b);
      member.pauseAgain();
    });
    if (opts.onAssignment) {
      consumer.on(consumer.events.GROUP_JOIN, (e) => opts.onAssignment!(e.payload.memberAssignment));
    }
    if (opts.onStandbys) {
      const onStandbys = opts.onStandbys;
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const { memberId, memberAssignment, groupProtocol } = e.payload;
        if (groupProtocol !== CO_PARTITIONED_ASSIGNER_NAME) return;
        void assignedStandbys(conn, opts.groupId, memberId, memberAssignment).then(
          (tasks) => {
            if (tasks === undefined) opts.log?.('skewless: the group changed again before its assignment could be read back; standby copies wait for the next rebalance');
            else if (tasks === 'not placed') opts.log?.("skewless: the group's leader runs an earlier build and placed no standby copies; the copies kept here stay as they are until a worker of this build leads the group");
            else onStandbys(tasks);
          },
          (err: unknown) => opts.log?.(`skewless: reading the group's assignment back failed (${err instanceof Error ? err.message : String(err)}); standby copies wait for the next rebalance`),
        );
      });
    }
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) opts.log?.(`skewless: consumer restarting after: ${payload.error.message}`);
      else opts.onFatal?.(payload.error);
    });
    await consumer.subscribe({ topics: [...opts.topics], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: opts.partitionsConcurrently ?? 1,
      eachBatch: async (p: EachBatchPayload) => {
        const { batch } = p;
        if (batch.messages.length === 0) return;
        const last = batch.lastOffset();
        const id = `${batch.topic}:${batch.partition}`;
        member.delivered.set(`${id}@${last}`, Number(batch.messages[batch.messages.length - 1].offset) + 1);
        // A batch delivered again (after a crash of the consumer mid-batch) is not taken until done() says so.
        member.taken.delete(`${id}@${last}`);
        await opts.onBatch(
          {
            topic: batch.topic,
            partition: batch.partition,
            fetchedOffset: member.visibleFrom(id, Number((batch as unknown as { fetchedOffset: string }).fetchedOffset)),
            highWatermark: Number(batch.highWatermark),
            messages: batch.messages.map((m) => ({ offset: Number(m.offset), key: m.key, value: m.value, timestamp: Number(m.timestamp), deadLetter: producedDeadLetter(m.headers, m.value) })),
          },
          {
            heartbeat: () => p.heartbeat(),
            done: () => {
              p.resolveOffset(last);
              member.taken.add(`${id}@${last}`);
            },
          },
        );
        await p.heartbeat();
      },
    });
    return member;
  }

  /** Fetch this partition from `offset` next (where the task's state stands). */
  seek(topic: string, partition: number, offset: number): void {
    this.fetched.delete(`${topic}:${partition}`);
    this.invisible.delete(`${topic}:${partition}`);
    this.consumer.seek({ topic, partition, offset: String(offset) });
  }

  /**
   * Fetch nothing more of these partitions until resumed. kafkajs keeps pauses across rebalances
   * but not across a restart of the member after a crash (a new group member, none paused), and
   * refuses them while it restarts: they are kept here and applied again at each join.
   */
  pause(topic: string, partitions: readonly number[]): void {
    for (const p of partitions) this.paused.add(`${topic}:${p}`);
    this.whileRunning(() => this.consumer.pause([{ topic, partitions: [...partitions] }]));
  }

  resume(topic: string, partitions: readonly number[]): void {
    for (const p of partitions) this.paused.delete(`${topic}:${p}`);
    this.whileRunning(() => this.consumer.resume([{ topic, partitions: [...partitions] }]));
  }

  /** After a join: the pauses again, in the member that joined (the same one, or one restarted after a crash). */
  private pauseAgain(): void {
    const byTopic = new Map<string, number[]>();
    for (const id of this.paused) {
      const at = id.lastIndexOf(':');
      const topic = id.slice(0, at);
      (byTopic.get(topic) ?? byTopic.set(topic, []).get(topic)!).push(Number(id.slice(at + 1)));
    }
    for (const [topic, partitions] of byTopic) this.whileRunning(() => this.consumer.pause([{ topic, partitions }]));
  }

  /** kafkajs refuses pause and resume between a crash and the restart of its member; the restarted member's join applies them. */
  private whileRunning(act: () => void): void {
    try {
      act();
    } catch (e) {
      if (!/Consumer group was not initialized/.test(e instanceof Error ? e.message : String(e))) throw e;
    }
  }

  /** Commit offsets for the group outside a transaction (at-least-once delivery). */
  async commit(offsets: readonly TopicPartitionOffset[], metadata?: string): Promise<void> {
    await this.consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset), metadata: metadata ?? null })));
  }

  /** Finish the batch in progress, leave the group and disconnect. */
  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

/**
 * The standby tasks the leader placed on this member, read back from the group's description
 * (kafkajs keeps only the partitions of a member's assignment, not the user data the leader
 * sent with them). Checked against what this member was assigned, so a description of a later
 * generation is not taken for this one; undefined when they never agree (the group is
 * rebalancing again), 'not placed' when the leader sent no placement (an earlier build).
 */
async function assignedStandbys(
  conn: KafkaConnection,
  groupId: string,
  memberId: string,
  assigned: Readonly<Record<string, readonly number[]>>,
): Promise<number[] | 'not placed' | undefined> {
  const same = (a: Readonly<Record<string, readonly number[]>>): boolean => {
    const topics = Object.keys(assigned).filter((t) => assigned[t].length > 0);
    const theirs = Object.keys(a).filter((t) => a[t].length > 0);
    return topics.length === theirs.length && topics.every((t) => a[t] !== undefined && [...a[t]].sort((x, y) => x - y).join() === [...assigned[t]].sort((x, y) => x - y).join());
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 500));
    const { groups } = await conn.admin.describeGroups([groupId]);
    const group = groups.find((g) => g.groupId === groupId);
    if (group === undefined || group.state !== 'Stable') continue;
    const self = group.members.find((m) => m.memberId === memberId);
    const decoded = self === undefined ? undefined : decodeAssignment(self.memberAssignment);
    if (decoded !== undefined && same(decoded.assignment)) return decoded.standby ?? 'not placed';
  }
  return undefined;
}
