/**
 * Batched, idempotent producing. Messages are collected and sent many per request (one
 * sendBatch per flush, acks from all in-sync replicas). Concurrent flushes are fine: kafkajs
 * sends one request at a time per broker (maxInFlightRequests 1, idempotent), so
 * per-partition order is the order of add() calls.
 */
import kafkajs from './kafkajs-runtime.js';
import type { IHeaders, Message, Producer } from 'kafkajs';
import type { KafkaConnection } from './kafka-connection.js';

const { Partitioners } = kafkajs;

export interface OutgoingMessage {
  /** Record key: bytes, or text sent as UTF-8; null for an unkeyed record. */
  readonly key: Uint8Array | string | null;
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

export const toBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** kafkajs takes strings and Buffers as header values; only other byte arrays need a copy of the object. */
export function kafkaHeaders(headers: Readonly<Record<string, string | Uint8Array>>): IHeaders {
  for (const k in headers) {
    const v = headers[k];
    if (typeof v !== 'string' && !Buffer.isBuffer(v)) {
      const out: IHeaders = {};
      for (const [key, value] of Object.entries(headers)) out[key] = typeof value === 'string' ? value : toBuffer(value);
      return out;
    }
  }
  return headers as IHeaders;
}

/** Frozen header objects (outputs share one per topology) already known to be in kafkajs' shape. */
const kafkaShapedHeaders = new WeakSet<object>();

/** kafkaHeaders(), remembering the frozen objects it returns as they are. */
function kafkaShaped(headers: Readonly<Record<string, string | Uint8Array>>): IHeaders {
  if (kafkaShapedHeaders.has(headers)) return headers as IHeaders;
  const shaped = kafkaHeaders(headers);
  if (shaped === headers && Object.isFrozen(headers)) kafkaShapedHeaders.add(headers);
  return shaped;
}

/**
 * kafkajs' message shape for one outgoing record: the record itself when it already has that
 * shape (text or Buffer key, Buffer value, text or Buffer headers), as live outputs do, since
 * kafkajs only reads it; otherwise a converted copy.
 */
export function toKafkaMessage(message: OutgoingMessage): Message {
  const { key, value, headers } = message;
  const shapedHeaders = headers === undefined ? undefined : kafkaShaped(headers);
  if ((key === null || typeof key === 'string' || Buffer.isBuffer(key)) && (value === null || Buffer.isBuffer(value)) && shapedHeaders === headers) {
    // kafkajs types the timestamp as text, but its encoders and ours (record-batch-encoding.ts)
    // take the number as it is; text would be printed and parsed back once per record.
    return message as unknown as Message;
  }
  const m: Message = {
    key: key === null || typeof key === 'string' ? key : toBuffer(key),
    value: value === null ? null : toBuffer(value),
  };
  if (message.partition !== undefined) m.partition = message.partition;
  if (message.timestamp !== undefined) m.timestamp = message.timestamp as unknown as string;
  if (shapedHeaders !== undefined) m.headers = shapedHeaders;
  return m;
}

/**
 * Bytes a record takes in a record batch, near enough for batch limits: key, value, headers
 * (names and values) and ~20 bytes of per-record framing. Keys and header values are counted
 * as UTF-16 length × 3 at worst for text, so a limit is never exceeded by multi-byte text.
 */
const textBytes = (s: string): number => (s.length < 64 ? s.length * 3 : Buffer.byteLength(s));

/** Header bytes of frozen header objects (shared by many records), counted once. */
const sharedHeaderBytes = new WeakMap<object, number>();

function headerBytes(h: Readonly<Record<string, string | Uint8Array>>): number {
  const known = sharedHeaderBytes.get(h);
  if (known !== undefined) return known;
  let n = 0;
  for (const k in h) {
    const v = h[k];
    n += 2 + k.length + (typeof v === 'string' ? textBytes(v) : v.byteLength);
  }
  if (Object.isFrozen(h)) sharedHeaderBytes.set(h, n);
  return n;
}

export function messageBytes(message: OutgoingMessage): number {
  const key = message.key;
  const n = 20 + (key === null ? 0 : typeof key === 'string' ? textBytes(key) : key.byteLength) + (message.value?.byteLength ?? 0);
  return message.headers === undefined ? n : n + headerBytes(message.headers);
}

export class TopicProducer {
  private pending = new Map<string, Message[]>();
  private pendingCount = 0;
  private pendingBytes = 0;
  /** Sends not acknowledged yet. */
  private readonly inFlight = new Set<Promise<void>>();
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
    if (this.buffer(topic, message)) await this.flush();
  }

  /**
   * Buffer one message without sending; true when the buffer is full and the caller should
   * flush(). For hot loops, where an await per message would cost more than the message.
   */
  buffer(topic: string, message: OutgoingMessage): boolean {
    const m = toKafkaMessage(message);
    let list = this.pending.get(topic);
    if (!list) this.pending.set(topic, (list = []));
    list.push(m);
    this.pendingCount++;
    this.pendingBytes += messageBytes(message);
    return this.pendingCount >= this.maxMessages || this.pendingBytes >= this.maxBytes;
  }

  /**
   * Send everything buffered and wait until all in-sync replicas have it, including messages
   * another caller's flush already took: when this resolves, every message added before the
   * call is acknowledged (callers checkpoint state right after).
   */
  async flush(): Promise<void> {
    if (this.pendingCount > 0) {
      const topicMessages = [...this.pending].map(([topic, messages]) => ({ topic, messages }));
      const count = this.pendingCount;
      this.pending = new Map();
      this.pendingCount = 0;
      this.pendingBytes = 0;
      const send = this.producer.sendBatch({ topicMessages, acks: -1 }).then(() => {
        this.sent += count;
      });
      this.inFlight.add(send);
      void send.then(
        () => this.inFlight.delete(send),
        () => this.inFlight.delete(send),
      );
    }
    if (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
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
