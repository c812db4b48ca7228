/**
 * Where a replay's records come from. The replay loop (replay-partitions.ts) is the same for
 * archive files and Kafka topics; only this input differs, as DESIGN.md asks of modes.
 */
import type { InputBatch, InputRange, InputRecord } from '../engine/input.js';
import type { ClientSecurity } from '../io/client-security.js';

/** An opened input: label data for the training join, then the engine sources' records. */
export interface ReplayInput {
  /** Every record of a label source (all partitions), for the label index. Called before engineBatches(). */
  labelBatches(source: string): AsyncIterable<InputBatch>;
  /**
   * The engine sources' records of this replay's partitions: batches of one partition each,
   * each partition in offset order. Partitions may interleave in any way (each feeds its own task).
   */
  engineBatches(): AsyncIterable<InputBatch>;
  /** Engine input ranges per source and partition; complete once engineBatches() is done. */
  ranges(): InputRange[];
  /** Where an engine record is in the input (file path and line / record / row), for its dead letter; absent when offsets say it all. */
  position?(source: string, partition: number, record: InputRecord): Readonly<Record<string, unknown>> | undefined;
  /** Release connections and files. */
  close(): Promise<void>;
}

/** Archive files: one per source, a file (split by key into `partitions`) or a directory with one file per partition. */
export interface FileInputSpec {
  readonly kind: 'files';
  /** Source name → file or directory. */
  readonly inputs: Readonly<Record<string, string>>;
  readonly partitions: number;
  readonly batchSize?: number;
}

/** Offsets [start, end) of one partition of a source's topic. */
export interface KafkaPartitionRange {
  readonly partition: number;
  readonly start: number;
  readonly end: number;
}

/** Kafka topics, with the offset ranges fixed before the replay starts (see kafka-snapshot.ts). */
export interface KafkaInputSpec {
  readonly kind: 'kafka';
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  /** Passed on to every worker thread; undefined: plaintext, no registry auth. */
  readonly security: ClientSecurity | undefined;
  readonly verbose?: boolean;
  /** Engine partitions (every engine topic has this many). */
  readonly partitions: number;
  /** Per source (engine and label sources): its topic and the range of every partition. */
  readonly sources: ReadonlyArray<{ readonly source: string; readonly topic: string; readonly ranges: readonly KafkaPartitionRange[] }>;
  readonly batchSize?: number;
}

/**
 * Plain data, so a coordinator can hand it to replay worker threads: every worker opens
 * the same input and reads only its own partitions of it (but for a split Parquet file, which
 * the coordinator reads once and sends each thread its partitions' rows: replay-parallel.ts).
 */
export type ReplayInputSpec = FileInputSpec | KafkaInputSpec;
