/**
 * kafkajs, loaded with a faster produce path. Every module of skewless takes kafkajs from
 * here, never from 'kafkajs' directly, so the two replacements below are in place before
 * kafkajs' producer captures the originals:
 *
 *  - grouping a send's messages per partition: kafkajs copies the partition's whole list for
 *    every message (quadratic); this one appends (same order, same result), and takes an
 *    explicit partition without asking the partitioner;
 *  - encoding a partition's records in a Produce request (v3 to v7, the versions any Kafka
 *    since 0.11 negotiates): record-batch-encoding.ts writes the same bytes into one buffer
 *    instead of allocating per record, header and varint;
 *  - decoding a fetched record batch: record-batch-decoding.ts builds the same objects with
 *    number arithmetic instead of two Long parses per record (uncompressed batches; any other
 *    goes to kafkajs' decoder, exported here as `kafkajsRecordBatchDecoder` for the tests).
 *
 * Both are pinned to kafkajs 2.2.4 (the last release; the project is unmaintained), whose
 * internal layout this relies on; a layout change fails loudly at start-up, not silently.
 * Compressed sends keep kafkajs' own encoder.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as KafkaJs from 'kafkajs';
import { encodeRecordBatch, type BatchRecordInput } from './record-batch-encoding.js';
import { decodeFetchedRecordBatch, type FetchedRecordBatch } from './record-batch-decoding.js';

const require = createRequire(import.meta.url);
const root = dirname(require.resolve('kafkajs/package.json'));
const internal = (path: string): string => join(root, 'src', path);

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
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

/** Whether the replacements were installed (false only if kafkajs was loaded elsewhere first). */
export let fastProducePath = false;
/** kafkajs' own record batch decoder, which the fetch path falls back to (and tests compare with). */
export let kafkajsRecordBatchDecoder: RecordBatchDecoder | undefined;

function install(): void {
  const sendMessagesPath = internal('producer/sendMessages.js');
  const groupPath = internal('producer/groupMessagesPerPartition.js');
  const v3Path = internal('protocol/requests/produce/v3/request.js');
  const laterVersions = [4, 5, 6, 7].map((v) => internal(`protocol/requests/produce/v${v}/request.js`));
  const batchDecoderPath = internal('protocol/recordBatch/v0/decoder.js');
  const decodeMessagesPath = internal('protocol/requests/fetch/v4/decodeMessages.js');
  // Modules that captured the originals already: replacing them now would patch half a path.
  if (require.cache[sendMessagesPath] || require.cache[decodeMessagesPath] || laterVersions.some((p) => require.cache[p])) return;

  require(groupPath);
  const groupModule = require.cache[groupPath];
  const originalV3 = require(v3Path) as (args: ProduceRequestArgs) => ProduceRequest;
  const v3Module = require.cache[v3Path];
  const Encoder = require(internal('protocol/encoder.js')) as new (size?: number) => KafkajsEncoder;
  const compressionNone = (require(internal('protocol/message/compression/index.js')) as { Types: { None: number } }).Types.None;
  const originalDecoder = require(batchDecoderPath) as RecordBatchDecoder;
  const decoderModule = require.cache[batchDecoderPath];
  if (!groupModule || !v3Module || !decoderModule || typeof originalV3 !== 'function' || typeof Encoder !== 'function' || typeof originalDecoder !== 'function') {
    throw new Error(`kafkajs at ${root} does not have the 2.2.x layout skewless patches (src/io/kafka/kafkajs-runtime.ts)`);
  }

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
      const out = new Encoder().writeString(transactionalId).writeInt16(args.acks).writeInt32(args.timeout).writeInt32(args.topicData.length);
      for (const { topic, partitions } of args.topicData) {
        out.writeString(topic).writeInt32(partitions.length);
        for (const { partition, firstSequence, messages } of partitions) {
          const batch = encodeRecordBatch(messages, {
            producerId,
            producerEpoch: args.producerEpoch ?? 0,
            firstSequence: firstSequence ?? 0,
            transactional: transactionalId !== null,
            now,
          });
          out.writeInt32(partition).writeInt32(batch.length).writeBuffer(batch);
        }
      }
      return out;
    };
    return request;
  };
  fastProducePath = true;

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
