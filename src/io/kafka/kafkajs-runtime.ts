/**
 * kafkajs, loaded with faster produce and fetch paths. Every module of skewless takes kafkajs
 * from here, never from 'kafkajs' directly, so the replacements below are in place before
 * kafkajs' producer, fetch decoder and connection capture the originals:
 *
 *  - grouping a send's messages per partition: kafkajs copies the partition's whole list for
 *    every message (quadratic); this one appends (same order, same result), and takes an
 *    explicit partition without asking the partitioner;
 *  - encoding a partition's records in a Produce request (v3 to v7, the versions any Kafka
 *    since 0.11 negotiates): record-batch-encoding.ts writes the same bytes into one buffer
 *    instead of allocating per record, header and varint;
 *  - framing every request: one buffer of its exact size instead of two Encoders grown by
 *    doubling around the payload, and one for the produce payload itself (their zero-filled
 *    buffers, as external memory, set off a quarter of a live worker's scavenges);
 *  - decoding a fetched record batch: record-batch-decoding.ts builds the same objects with
 *    number arithmetic instead of two Long parses per record (uncompressed batches; any other
 *    goes to kafkajs' decoder, exported here as `kafkajsRecordBatchDecoder` for the tests);
 *  - the consumer's Batch: fetched-batch.ts keeps the messages at or after the fetched offset
 *    comparing numbers, where kafkajs parses every offset into a Long (`kafkajsBatch` is its own).
 *
 * All are pinned to kafkajs 2.2.4 (the last release; the project is unmaintained), whose
 * internal layout this relies on; a layout change fails loudly at start-up, not silently.
 * Compressed sends keep kafkajs' own encoder.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as KafkaJs from 'kafkajs';
import { encodeRecordBatch, type BatchRecordInput } from './record-batch-encoding.js';
import { decodeFetchedRecordBatch, type FetchedRecordBatch } from './record-batch-decoding.js';
import { numericOffsetBatch, type AbortedFilter, type BatchClass } from './fetched-batch.js';

const require = createRequire(import.meta.url);
const root = dirname(require.resolve('kafkajs/package.json'));
const internal = (path: string): string => join(root, 'src', path);

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
  writeString(s: string | null): KafkajsEncoder;
  writeInt16(n: number): KafkajsEncoder;
  writeInt32(n: number): KafkajsEncoder;
  writeBuffer(b: Buffer): KafkajsEncoder;
}
interface PartitionData {
  readonly partition: number;
  readonly firstSequence?: number;
  readonly messages: readonly BatchRecordInput[];
}
interface TopicData {
  readonly topic: string;
  readonly partitions: readonly PartitionData[];
}
interface ProduceRequestArgs {
  readonly acks: number;
  readonly timeout: number;
  readonly transactionalId?: string | null;
  readonly producerId?: { toString(): string };
  readonly producerEpoch?: number;
  readonly compression?: number;
  readonly topicData: readonly TopicData[];
}
interface ProduceRequest {
  apiVersion: number;
  encode: () => Promise<KafkajsEncoder>;
}
type GroupArgs = {
  readonly topic: string;
  readonly partitionMetadata: readonly unknown[];
  readonly messages: readonly unknown[];
  readonly partitioner: (a: { topic: string; partitionMetadata: readonly unknown[]; message: unknown }) => number;
};

/** kafkajs' Decoder as the fetch path hands it to a record batch decoder. */
interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
}
type RecordBatchDecoder = (decoder: KafkajsDecoder) => Promise<FetchedRecordBatch>;

/** What kafkajs' connection hands its request framer. */
interface RequestFrameArgs {
  readonly correlationId: number;
  readonly clientId?: string | null;
  readonly request: { readonly apiKey: number; readonly apiVersion: number; encode(): Promise<{ readonly buffer: Buffer }> };
}
type CreateRequest = (args: RequestFrameArgs) => Promise<{ readonly buffer: Buffer }>;

/** Bytes of a Kafka STRING (int16 length, -1 for null, then UTF-8). */
const textSize = (s: string | null): number => 2 + (s === null ? 0 : Buffer.byteLength(s, 'utf8'));

function writeText(buf: Buffer, pos: number, s: string | null): number {
  if (s === null) return buf.writeInt16BE(-1, pos);
  const n = Buffer.byteLength(s, 'utf8');
  pos = buf.writeInt16BE(n, pos);
  return pos + buf.write(s, pos, n, 'utf8');
}

/** Whether the replacements were installed (false only if kafkajs was loaded elsewhere first). */
export let fastProducePath = false;
/** kafkajs' own record batch decoder, which the fetch path falls back to (and tests compare with). */
export let kafkajsRecordBatchDecoder: RecordBatchDecoder | undefined;
/** kafkajs' own consumer Batch (the tests compare with it); undefined when it was not replaced. */
export let kafkajsBatch: BatchClass | undefined;
/** kafkajs' own request framer (the tests compare with it). */
export let kafkajsCreateRequest: CreateRequest | undefined;

const layoutError = (): Error => new Error(`kafkajs at ${root} does not have the 2.2.x layout skewless patches (src/io/kafka/kafkajs-runtime.ts)`);

function install(): void {
  const sendMessagesPath = internal('producer/sendMessages.js');
  const groupPath = internal('producer/groupMessagesPerPartition.js');
  const v3Path = internal('protocol/requests/produce/v3/request.js');
  const laterVersions = [4, 5, 6, 7].map((v) => internal(`protocol/requests/produce/v${v}/request.js`));
  const batchDecoderPath = internal('protocol/recordBatch/v0/decoder.js');
  const requestPath = internal('protocol/request.js');
  const connectionPath = internal('network/connection.js');
  const decodeMessagesPath = internal('protocol/requests/fetch/v4/decodeMessages.js');
  // Modules that captured the originals already: replacing them now would patch half a path.
  if (require.cache[sendMessagesPath] || require.cache[decodeMessagesPath] || require.cache[connectionPath] || laterVersions.some((p) => require.cache[p])) return;

  require(groupPath);
  const groupModule = require.cache[groupPath];
  const originalV3 = require(v3Path) as (args: ProduceRequestArgs) => ProduceRequest;
  const v3Module = require.cache[v3Path];
  const Encoder = require(internal('protocol/encoder.js')) as new (size?: number) => KafkajsEncoder;
  const compressionNone = (require(internal('protocol/message/compression/index.js')) as { Types: { None: number } }).Types.None;
  const originalDecoder = require(batchDecoderPath) as RecordBatchDecoder;
  const decoderModule = require.cache[batchDecoderPath];
  const originalCreateRequest = require(requestPath) as CreateRequest;
  const requestModule = require.cache[requestPath];
  if (!groupModule || !v3Module || !decoderModule || !requestModule || typeof originalV3 !== 'function' || typeof Encoder !== 'function' || typeof originalDecoder !== 'function' || typeof originalCreateRequest !== 'function') {
    throw layoutError();
  }

  /** A kafkajs Encoder holding exactly `buf` (its `buffer` is then a view of all of it). */
  const filledEncoder = (buf: Buffer): KafkajsEncoder => {
    const e = new Encoder(1);
    e.buf = buf;
    e.offset = buf.length;
    return e;
  };

  groupModule.exports = ({ topic, partitionMetadata, messages, partitioner }: GroupArgs): Record<number, unknown[]> => {
    const result: Record<number, unknown[]> = {};
    if (partitionMetadata.length === 0) return result;
    for (const message of messages) {
      // An explicit partition is what every kafkajs partitioner returns first; asking it would
      // cost a filtered copy of the partition list per message.
      const explicit = (message as { partition?: number | null }).partition;
      const p = explicit !== null && explicit !== undefined ? explicit : partitioner({ topic, partitionMetadata, message });
      (result[p] ??= []).push(message);
    }
    return result;
  };

  v3Module.exports = (args: ProduceRequestArgs): ProduceRequest => {
    const request = originalV3(args);
    if ((args.compression ?? compressionNone) !== compressionNone) return request;
    request.encode = async () => {
      const transactionalId = args.transactionalId ?? null;
      const producerId = BigInt(args.producerId?.toString() ?? '-1');
      const now = Date.now();
      // Sizes first, then one buffer of exactly the request's size: kafkajs' Encoder grows by
      // doubling into zero-filled buffers, a copy of the whole request each time.
      const batches: Buffer[] = [];
      let size = textSize(transactionalId) + 2 + 4 + 4;
      for (const { topic, partitions } of args.topicData) {
        size += textSize(topic) + 4;
        for (const { firstSequence, messages } of partitions) {
          const batch = encodeRecordBatch(messages, {
            producerId,
            producerEpoch: args.producerEpoch ?? 0,
            firstSequence: firstSequence ?? 0,
            transactional: transactionalId !== null,
            now,
          });
          batches.push(batch);
          size += 4 + 4 + batch.length;
        }
      }
      const out = Buffer.allocUnsafe(size);
      let pos = writeText(out, 0, transactionalId);
      pos = out.writeInt16BE(args.acks, pos);
      pos = out.writeInt32BE(args.timeout, pos);
      pos = out.writeInt32BE(args.topicData.length, pos);
      let b = 0;
      for (const { topic, partitions } of args.topicData) {
        pos = writeText(out, pos, topic);
        pos = out.writeInt32BE(partitions.length, pos);
        for (const { partition } of partitions) {
          const batch = batches[b++];
          pos = out.writeInt32BE(partition, pos);
          pos = out.writeInt32BE(batch.length, pos);
          pos += batch.copy(out, pos);
        }
      }
      return filledEncoder(out);
    };
    return request;
  };
  fastProducePath = true;

  // Every request's frame (size, api key and version, correlation id, client id, then the
  // payload) in one buffer of its exact size, where kafkajs copies the payload into two
  // Encoders grown by doubling: three zero-filled buffers and three copies of every produce
  // request, whose garbage of external memory set off a quarter of a live worker's scavenges.
  kafkajsCreateRequest = originalCreateRequest;
  requestModule.exports = async ({ correlationId, clientId, request }: RequestFrameArgs): Promise<KafkajsEncoder> => {
    const payload = (await request.encode()).buffer;
    const head = 2 + 2 + 4 + textSize(clientId ?? null);
    const out = Buffer.allocUnsafe(4 + head + payload.length);
    let pos = out.writeInt32BE(head + payload.length, 0);
    pos = out.writeInt16BE(request.apiKey, pos);
    pos = out.writeInt16BE(request.apiVersion, pos);
    pos = out.writeInt32BE(correlationId, pos);
    pos = writeText(out, pos, clientId ?? null);
    payload.copy(out, pos);
    return filledEncoder(out);
  };

  // The consumer's Batch, before consumerGroup.js captures it (fetched-batch.ts).
  const batchPath = internal('consumer/batch.js');
  if (!require.cache[internal('consumer/consumerGroup.js')]) {
    const OriginalBatch = require(batchPath) as BatchClass;
    const batchModule = require.cache[batchPath];
    const filterAborted = require(internal('consumer/filterAbortedMessages.js')) as AbortedFilter;
    if (batchModule === undefined || typeof OriginalBatch !== 'function' || typeof filterAborted !== 'function') {
      throw layoutError();
    }
    kafkajsBatch = OriginalBatch;
    batchModule.exports = numericOffsetBatch(OriginalBatch, filterAborted);
  }

  kafkajsRecordBatchDecoder = originalDecoder;
  decoderModule.exports = async (decoder: KafkajsDecoder): Promise<FetchedRecordBatch> => {
    const fast = decodeFetchedRecordBatch(decoder.buffer, decoder.offset);
    if (fast === undefined) return originalDecoder(decoder);
    decoder.offset = fast.end;
    return fast.batch;
  };
}

install();

const kafkajs = require('kafkajs') as typeof KafkaJs;
export default kafkajs;

/** The parts of kafkajs' Broker (broker/index.js) a groupless reader uses. */
export interface KafkajsBroker {
  fetch(request: {
    readonly isolationLevel: number;
    readonly maxWaitTime: number;
    readonly minBytes: number;
    readonly maxBytes: number;
    readonly topics: ReadonlyArray<{ readonly topic: string; readonly partitions: ReadonlyArray<{ readonly partition: number; readonly fetchOffset: string; readonly maxBytes: number }> }>;
  }): Promise<{ readonly responses: ReadonlyArray<{ readonly topicName: string; readonly partitions: readonly FetchedPartitionData[] }> }>;
}

/** One partition of a Fetch response, as kafkajs decodes it. */
export interface FetchedPartitionData {
  readonly partition: number;
  readonly highWatermark: string;
  readonly abortedTransactions?: readonly unknown[] | null;
  readonly messages: ReadonlyArray<KafkaJs.KafkaMessage & { readonly isControlRecord?: boolean }>;
}

/** The parts of kafkajs' Cluster (cluster/index.js) a groupless reader uses. */
export interface KafkajsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addMultipleTargetTopics(topics: readonly string[]): Promise<void>;
  refreshMetadata(): Promise<void>;
  /** Leader node id → the partitions it leads; partitions missing from the metadata are left out. */
  findLeaderForPartitions(topic: string, partitions: readonly number[]): Record<string, number[]>;
  findBroker(node: { readonly nodeId: string }): Promise<KafkajsBroker>;
}

/** What kafkajs' consumer Batch (consumer/batch.js, fetched-batch.ts here) gives a reader. */
export interface FetchedBatch {
  /** Neither control records nor records of aborted transactions. */
  readonly messages: ReadonlyArray<KafkaJs.KafkaMessage>;
  readonly rawMessages: readonly unknown[];
  /** The offset a consumer resolves after this batch (kafkajs' rule: the last one fetched, control records and a compacted gap included). */
  lastOffset(): string;
}

/**
 * A kafkajs Cluster with the client's own settings (brokers, TLS, SASL, socket factory,
 * retries), the way kafkajs builds one for each consumer, but for a reader that joins no
 * consumer group: kafkajs has no assign(), and a group of one's own waits out the broker's
 * group.initial.rebalance.delay.ms (3 s by default) before its first fetch.
 */
export function groupFreeCluster(client: KafkaJs.Kafka, isolationLevel: number): KafkajsCluster {
  const key = Object.getOwnPropertySymbols(client).find((s) => s.description === 'private:Kafka:createCluster');
  const create = key === undefined ? undefined : (client as unknown as Record<symbol, unknown>)[key];
  if (typeof create !== 'function') throw layoutError();
  return (create as (options: object) => KafkajsCluster)({ allowAutoTopicCreation: false, isolationLevel });
}

/** kafkajs' consumer Batch as installed above: the same filtering of aborted transactions and control records as a consumer. */
export function fetchedBatch(topic: string, fetchedOffset: string, partitionData: FetchedPartitionData): FetchedBatch {
  BatchOfConsumer ??= require(internal('consumer/batch.js')) as new (topic: string, fetchedOffset: string, data: FetchedPartitionData) => FetchedBatch;
  return new BatchOfConsumer(topic, fetchedOffset, partitionData);
}
let BatchOfConsumer: (new (topic: string, fetchedOffset: string, data: FetchedPartitionData) => FetchedBatch) | undefined;
