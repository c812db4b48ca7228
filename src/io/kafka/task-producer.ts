/**
 * One producer per live task. Exactly-once: each commit is one Kafka transaction holding the
 * task's outputs, its changelog records and its consumer offsets; the transactional id is
 * derived from the group and the task, so a new owner of the task fences every earlier one
 * (kafkajs has no KIP-447, hence one id per task rather than per worker). At-least-once: the
 * same records are sent idempotently with acks from all in-sync replicas, and the caller
 * commits offsets after its state is durable.
 */
import type { Message, Producer, RecordMetadata, Transaction } from 'kafkajs';
import kafkajs from './kafkajs-runtime.js';
import type { KafkaConnection } from './kafka-connection.js';
import { errorChain } from './kafka-retry.js';
import type { TopicPartitionOffset } from './group-consumer.js';
import { messageBytes, toKafkaMessage, type OutgoingMessage } from './topic-producer.js';

const { Partitioners } = kafkajs;

export interface TaskRecord {
  readonly topic: string;
  readonly message: OutgoingMessage;
}

export interface TaskOffsets {
  readonly groupId: string;
  readonly offsets: readonly TopicPartitionOffset[];
}

/** Where the records of one commit landed: the last offset written per `topic:partition`. */
export type LastOffsets = ReadonlyMap<string, number>;

export const topicPartitionId = (topic: string, partition: number): string => `${topic}:${partition}`;

/** Another producer took over this task's transactional id: this worker no longer owns the task. */
export class TaskFencedError extends Error {
  constructor(transactionalId: string, cause: string) {
    super(`task producer ${transactionalId} was fenced by a newer owner of the task (${cause})`);
    this.name = 'TaskFencedError';
  }
}

const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTION_COORDINATOR_FENCED', 'INVALID_PRODUCER_ID_MAPPING']);
const FENCED_CODES = new Set([47, 90, 52, 49]);

export function isFencedError(e: unknown): boolean {
  return errorChain(e).some((x) => {
    const k = x as { type?: string; code?: number; name?: string };
    return (k.type !== undefined && FENCED_TYPES.has(k.type)) || (k.code !== undefined && FENCED_CODES.has(k.code)) || k.name === 'TaskFencedError';
  });
}

/** Longest a task's transaction may stay open before the broker aborts it, unless set otherwise. */
export const TRANSACTION_TIMEOUT_MS = 60_000;

/** Up to this many key+value bytes per produce request (the broker's default batch limit is 1 MiB). */
const MAX_REQUEST_BYTES = 512 * 1024;
const MAX_REQUEST_MESSAGES = 8192;

export interface TaskProducerOptions {
  /** Set for exactly-once delivery; absent for at-least-once. */
  readonly transactionalId?: string;
  /** Longest a transaction may stay open before the broker aborts it (default 60 s). */
  readonly transactionTimeoutMs?: number;
}

export class TaskProducer {
  private constructor(
    private readonly producer: Producer,
    readonly transactionalId: string | undefined,
  ) {}

  /**
   * Connect; with a transactional id, also claim it: any transaction an earlier owner left open
   * is aborted and that owner is fenced, before this one reads the task's changelog.
   */
  static async open(conn: KafkaConnection, options: TaskProducerOptions = {}): Promise<TaskProducer> {
    const producer = conn.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      transactionalId: options.transactionalId,
      transactionTimeout: options.transactionTimeoutMs ?? TRANSACTION_TIMEOUT_MS,
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
    });
    await producer.connect();
    const tp = new TaskProducer(producer, options.transactionalId);
    try {
      if (options.transactionalId !== undefined) {
        const txn = await producer.transaction();
        await txn.abort();
      }
    } catch (e) {
      await producer.disconnect().catch(() => undefined);
      throw e;
    }
    return tp;
  }

  get exactlyOnce(): boolean {
    return this.transactionalId !== undefined;
  }

  /**
   * Write one batch's records, and with exactly-once also its consumer offsets, atomically.
   * Resolves once all of it is committed (or, at-least-once, acknowledged); rejects with
   * nothing visible to read_committed readers otherwise.
   */
  async commit(records: readonly TaskRecord[], offsets: TaskOffsets | undefined): Promise<LastOffsets> {
    const last = new Map<string, number>();
    if (!this.exactlyOnce) {
      await this.sendAll(records, (req) => this.producer.sendBatch(req), last);
      return last;
    }
    let txn: Transaction | undefined;
    try {
      txn = await this.producer.transaction();
      const t = txn;
      await this.sendAll(records, (req) => t.sendBatch(req), last);
      if (offsets !== undefined && offsets.offsets.length > 0) {
        await t.sendOffsets({
          consumerGroupId: offsets.groupId,
          topics: groupByTopic(offsets.offsets),
        });
      }
      await t.commit();
      return last;
    } catch (e) {
      if (txn?.isActive()) await txn.abort().catch(() => undefined);
      if (isFencedError(e)) throw new TaskFencedError(this.transactionalId!, e instanceof Error ? e.message : String(e));
      throw e;
    }
  }

  private async sendAll(
    records: readonly TaskRecord[],
    send: (req: { topicMessages: Array<{ topic: string; messages: Message[] }>; acks: number }) => Promise<RecordMetadata[]>,
    last: Map<string, number>,
  ): Promise<void> {
    // Per topic: its messages and how many go to each partition (to find the last offset of each).
    let pending = new Map<string, { messages: Message[]; perPartition: Map<number, number> }>();
    let count = 0;
    let bytes = 0;
    const flush = async (): Promise<void> => {
      if (count === 0) return;
      const sent = pending;
      pending = new Map();
      count = 0;
      bytes = 0;
      const meta = await send({ topicMessages: [...sent].map(([topic, t]) => ({ topic, messages: t.messages })), acks: -1 });
      for (const m of meta) {
        const n = sent.get(m.topicName)?.perPartition.get(m.partition);
        if (m.baseOffset !== undefined && n !== undefined) last.set(topicPartitionId(m.topicName, m.partition), Number(m.baseOffset) + n - 1);
      }
    };
    for (const r of records) {
      let t = pending.get(r.topic);
      if (!t) pending.set(r.topic, (t = { messages: [], perPartition: new Map() }));
      t.messages.push(toKafkaMessage(r.message));
      const p = r.message.partition ?? -1;
      t.perPartition.set(p, (t.perPartition.get(p) ?? 0) + 1);
      count++;
      bytes += messageBytes(r.message);
      if (count >= MAX_REQUEST_MESSAGES || bytes >= MAX_REQUEST_BYTES) await flush();
    }
    await flush();
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

function groupByTopic(offsets: readonly TopicPartitionOffset[]): Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> {
  const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
  for (const o of offsets) {
    let list = byTopic.get(o.topic);
    if (!list) byTopic.set(o.topic, (list = []));
    list.push({ partition: o.partition, offset: String(o.offset) });
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}
