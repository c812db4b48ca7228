import { statSync } from 'node:fs';
import { SchemaRegistryClient } from '../io/avro/registry-client.js';
import { registryEndpoint } from '../io/avro/registry-http.js';
import type { ClientEndpoints } from '../io/client-security.js';
import { WireEncoder } from '../io/avro/wire-encoder.js';
import { detectFileFormat } from '../io/files/input-format.js';
import { readFileRecords } from '../io/files/read-file-records.js';
import { KafkaConnection } from '../io/kafka/kafka-connection.js';
import { withKafkaRetry } from '../io/kafka/kafka-retry.js';
import { checkTopicPartitions, ensureTopic } from '../io/kafka/topic-admin.js';
import { EVENT_TIME_TOPIC_CONFIGS, topicLimits } from '../io/kafka/topic-limits.js';
import { TopicProducer } from '../io/kafka/topic-producer.js';
import { recordKeyText, recordPartition, UNKEYED_PARTITION } from '../io/partitioning.js';
import { keyErrorRecord } from '../io/files/key-router.js';
import { producedDeadLetterMessage } from '../io/kafka/produced-dead-letter.js';
import type { InputRecord } from '../engine/input.js';
import type { CompiledPlan } from '../plan/compile.js';
import { toEventTime } from '../time/event-time.js';
import { RecordTimestamps, type LoadTimeReason } from './produce-timestamps.js';

export interface ProduceOptions extends ClientEndpoints {
  readonly plan: CompiledPlan;
  /** The source whose schema and key function the records follow. */
  readonly source: string;
  /** An NDJSON, Avro or Parquet file whose order is the arrival order. */
  readonly input: string;
  /** Default: the source's topic in the topology (its name unless declared). */
  readonly topic?: string;
  /** Partitions to create the topic with when it does not exist (default 8); an existing topic must have this many. */
  readonly partitions?: number;
  /** Messages per produce request (default 4096). */
  readonly batchSize?: number;
  readonly verbose?: boolean;
  /** Records of the file handled so far (dead letters included). */
  readonly onProgress?: (records: number) => void;
}

export interface ProduceSummary {
  readonly topic: string;
  readonly subject: string;
  readonly schemaId: number;
  readonly partitions: number;
  readonly topicCreated: boolean;
  /** Records produced Avro-encoded (dead letters not included). */
  readonly produced: number;
  /** Records of the file it could not encode (malformed, not fitting the schema, no key), produced to partition 0 as dead letters (produced-dead-letter.ts). */
  readonly deadLetters: number;
  /** The first few dead letters: position in the file and why. */
  readonly deadLetterExamples: ReadonlyArray<{ readonly index: number; readonly reason: string }>;
  /** Record timestamps: how many records carry their event time, and why the others carry the load time. */
  readonly timestamps: { readonly eventTime: number; readonly loadTime: number; readonly loadTimeReasons: readonly LoadTimeReason[] };
}

/**
 * A topic produce creates holds history stamped with event times: it accepts any timestamp and
 * keeps records for good (time-based retention would delete old event times at once).
 */
export const PRODUCED_TOPIC_CONFIGS: Readonly<Record<string, string>> = EVENT_TIME_TOPIC_CONFIGS;

const MAX_EXAMPLES = 10;

/** A dead letter has no event time: it carries the load time (RecordTimestamps counts it among the records without one). */
const DEAD_LETTER_TIME = 'a dead letter (a record produce could not encode) has no event time';

/**
 * Load a data file into a source's topic as a producer would: values Avro-encoded in
 * Confluent wire format under `<topic>-value`, keyed by the source's key function and placed
 * by Kafka's default (murmur2) partitioner, in file order. The topic's partitions then hold
 * exactly the records, in the same order, that a file backfill with the same partition count
 * assigns to them, so the two replays can be compared row for row. Each record's timestamp is
 * its event time where the topic keeps it so (produce-timestamps.ts), so --since/--until of a
 * Kafka backfill select by event time.
 *
 * A record that cannot be encoded (the file reader's error records, a value that does not fit
 * the schema, a key function that throws) goes to partition 0 as a dead letter, where the file
 * split puts it, with its reason and raw form in a header (produced-dead-letter.ts): every
 * consumer dead-letters it as the file backfill does, and the offsets after it stay those of the
 * file split. An unkeyed record goes to partition 0 too.
 */
export async function produceFile(opts: ProduceOptions): Promise<ProduceSummary> {
  const node = opts.plan.topology.sources.find((s) => s.name === opts.source);
  if (!node) throw new Error(`unknown source "${opts.source}" (sources: ${opts.plan.topology.sources.map((s) => s.name).join(', ')})`);
  const schema = opts.plan.schemas.get(opts.source);
  if (!schema) throw new Error(`source "${opts.source}" has no schema`);
  const stat = statSync(opts.input, { throwIfNoEntry: false });
  if (!stat) throw new Error(`--input ${opts.input}: no such file`);
  if (!stat.isFile()) throw new Error(`--input ${opts.input}: not a file (produce reads one NDJSON, Avro or Parquet file)`);
  const format = detectFileFormat(opts.input);
  const topic = opts.topic ?? node.topic;
  const subject = `${topic}-value`;
  const partitions = opts.partitions ?? 8;

  const conn = await KafkaConnection.open({ brokers: opts.brokers, security: opts.security?.kafka, verbose: opts.verbose });
  try {
    const registry = await SchemaRegistryClient.open(registryEndpoint(opts.registryUrl, opts.security?.registry));
    // Check the topic before registering, so a wrong partition count leaves no schema behind.
    await checkTopicPartitions(conn, topic, partitions);
    const schemaId = await registry.register(subject, schema.json);
    const ensured = await ensureTopic(conn, topic, partitions, PRODUCED_TOPIC_CONFIGS);
    const timestamps = new RecordTimestamps(topic, (await topicLimits(conn, [topic])).get(topic));
    const encoder = new WireEncoder(schema.json, schemaId);
    // ensureTopic waited for the topic's leaders; the producer's own connect may still meet a broker that is (re)starting.
    const producer = await withKafkaRetry('connecting the producer', () => TopicProducer.open(conn, { maxBatchMessages: opts.batchSize }));
    let deadLetters = 0;
    const deadLetterExamples: Array<{ index: number; reason: string }> = [];
    // What a file backfill dead-letters goes to partition 0 as the same error record (produced-dead-letter.ts).
    const deadLetter = (rec: InputRecord): boolean => {
      const reason = rec.error ?? 'record has no value';
      deadLetters++;
      if (deadLetterExamples.length < MAX_EXAMPLES) deadLetterExamples.push({ index: rec.offset, reason });
      const { value, headers } = producedDeadLetterMessage({ reason, raw: rec.raw });
      return producer.buffer(topic, { key: null, value, headers, partition: UNKEYED_PARTITION, timestamp: timestamps.stamp(DEAD_LETTER_TIME) });
    };
    let handled = 0;
    try {
      for await (const batch of readFileRecords(opts.input, format, { readerSchema: schema.json })) {
        for (const rec of batch) {
          if (rec.error !== undefined || rec.value === undefined) {
            if (deadLetter(rec)) await producer.flush();
            continue;
          }
          let key: unknown;
          try {
            key = node.key(rec.value);
          } catch (e) {
            if (deadLetter(keyErrorRecord(rec, e))) await producer.flush();
            continue;
          }
          const encoded = encoder.encode(rec.value);
          if (encoded.error !== undefined) {
            if (deadLetter({ offset: rec.offset, error: encoded.error, raw: rec.raw })) await producer.flush();
            continue;
          }
          let eventTime: number | string;
          try {
            eventTime = toEventTime(node.eventTime(rec.value));
          } catch (e) {
            eventTime = `event-time extractor threw: ${e instanceof Error ? e.message : String(e)}`;
          }
          // The file split's rule. The partition is kafkajs' default partitioner's (murmur2 of the
          // key's UTF-8 bytes), computed here without its Long arithmetic, which allocated about a
          // kilobyte per record.
          const text = recordKeyText(key);
          const message = { key: text === null ? null : Buffer.from(text, 'utf8'), value: encoded.bytes, partition: recordPartition(text, partitions), timestamp: timestamps.stamp(eventTime) };
          if (producer.buffer(topic, message)) await producer.flush();
        }
        handled += batch.length;
        opts.onProgress?.(handled);
      }
      await producer.flush();
    } finally {
      await producer.close();
    }
    return { topic, subject, schemaId, partitions, topicCreated: ensured.created, produced: producer.sent - deadLetters, deadLetters, deadLetterExamples, timestamps: timestamps.summary() };
  } finally {
    await conn.close();
  }
}
