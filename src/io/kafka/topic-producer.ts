/**
 * Batched, idempotent producing. Messages are collected and sent many per request (one
 * sendBatch per flush, acks from all in-sync replicas), and a flush is awaited before the
 * next one starts, so per-partition order is the order of add() calls.
 */
import kafkajs from 'kafkajs';
import type { IHeaders, Message, Producer } from 'kafkajs';
import type { KafkaConnection } from './kafka-connection.js';

const { Partitioners } = kafkajs;

export interface OutgoingMessage {
  /** Record key bytes; null for an unkeyed record. */
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers?: Readonly<Record<string, string | Uint8Array>>;
  /** Explicit partition; otherwise Kafka's default partitioner (murmur2 of the key) decides. */
  readonly partition?: number;
  /** Record timestamp (ms); the producer's clock when absent. */
  readonly timestamp?: number;
}

export interface TopicProducerOptions {
  /** Flush when this many messages are buffered (default 4096). */
  readonly maxBatchMessages?: number;
  /** Flush when the buffered keys and values reach this many bytes (default 512 KiB, under the broker's 1 MiB batch limit). */
  readonly maxBatchBytes?: number;
}

const toBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/**
 * Flush when one explicitly chosen partition of a topic holds this many messages. kafkajs
 * groups a send's messages per partition by copying the partition's list for every message
 * (quadratic in messages per partition), so a long single-partition list (a live task's
 * outputs) costs more CPU than the extra round trips of smaller sends.
 */
const MAX_MESSAGES_PER_PARTITION = 1024;

export class TopicProducer {
  private pending = new Map<string, Message[]>();
  private pendingCount = 0;
  private pendingBytes = 0;
  /** Buffered messages per `topic\0partition`, for messages with an explicit partition. */
  private perPartition = new Map<string, number>();
  private largestPartition = 0;
  /** Messages acknowledged by the broker. */
  sent = 0;

  private constructor(
    private readonly producer: Producer,
    private readonly maxMessages: number,
    private readonly maxBytes: number,
  ) {}

  static async open(conn: KafkaConnection, options: TopicProducerOptions = {}): Promise<TopicProducer> {
    const producer = conn.kafka.producer({
      // Idempotence: a retried request cannot duplicate or reorder records within a partition.
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // The Java-compatible murmur2 partitioner (src/io/partitioning.ts computes the same), named so kafkajs does not warn.
      createPartitioner: Partitioners.DefaultPartitioner,
      // A CLI must fail rather than retry forever (kafkajs' idempotent default); about a minute of back-off.
      retry: { retries: 10, maxRetryTime: 10_000 },
    });
    await producer.connect();
    return new TopicProducer(producer, options.maxBatchMessages ?? 4096, options.maxBatchBytes ?? 512 * 1024);
  }

  /** Buffer one message; sends the buffer when it is full (the returned promise then waits for the acks). */
  async add(topic: string, message: OutgoingMessage): Promise<void> {
    const m: Message = {
      key: message.key === null ? null : toBuffer(message.key),
      value: message.value === null ? null : toBuffer(message.value),
    };
    if (message.partition !== undefined) m.partition = message.partition;
    if (message.timestamp !== undefined) m.timestamp = String(message.timestamp);
    if (message.headers) {
      const headers: IHeaders = {};
      for (const [k, v] of Object.entries(message.headers)) headers[k] = typeof v === 'string' ? v : toBuffer(v);
      m.headers = headers;
    }
    let list = this.pending.get(topic);
    if (!list) this.pending.set(topic, (list = []));
    list.push(m);
    this.pendingCount++;
    this.pendingBytes += (message.key?.byteLength ?? 0) + (message.value?.byteLength ?? 0);
    if (message.partition !== undefined) {
      const bucket = `${topic}\0${message.partition}`;
      const n = (this.perPartition.get(bucket) ?? 0) + 1;
      this.perPartition.set(bucket, n);
      if (n > this.largestPartition) this.largestPartition = n;
    }
    if (this.pendingCount >= this.maxMessages || this.pendingBytes >= this.maxBytes || this.largestPartition >= MAX_MESSAGES_PER_PARTITION) await this.flush();
  }

  /** Send everything buffered and wait until all in-sync replicas have it. */
  async flush(): Promise<void> {
    if (this.pendingCount === 0) return;
    const topicMessages = [...this.pending].map(([topic, messages]) => ({ topic, messages }));
    const count = this.pendingCount;
    this.pending = new Map();
    this.pendingCount = 0;
    this.pendingBytes = 0;
    this.perPartition = new Map();
    this.largestPartition = 0;
    await this.producer.sendBatch({ topicMessages, acks: -1 });
    this.sent += count;
  }

  /** Flush, then disconnect. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.producer.disconnect();
    }
  }
}
