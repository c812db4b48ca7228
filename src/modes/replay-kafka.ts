import { SchemaRegistryClient } from '../io/avro/registry-client.js';
import { KafkaConnection } from '../io/kafka/kafka-connection.js';
import type { CompiledPlan } from '../plan/compile.js';
import { snapshotKafkaRanges } from './kafka-snapshot.js';
import { replayInParallel } from './replay-parallel.js';
import type { ReplayOutputOptions, ReplaySummary } from './replay-partitions.js';

export interface KafkaBackfillOptions extends ReplayOutputOptions {
  readonly plan: CompiledPlan;
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  /** Source name → topic, overriding the topology's topics. */
  readonly topics?: Readonly<Record<string, string>>;
  /** Kafka record timestamps (ms) bounding the engine sources' history: [since, until). */
  readonly since?: number;
  readonly until?: number;
  readonly stateDir?: string;
  readonly batchSize?: number;
  readonly workers?: number;
  /** kafkajs logs on stderr. */
  readonly verbose?: boolean;
}

/**
 * Replay Kafka topic history into training data: the same tasks, sinks and files as a file
 * backfill, so the same per-partition records give the same training rows. The input ranges
 * in the file metadata are the topic offsets read.
 */
export async function replayKafka(opts: KafkaBackfillOptions): Promise<ReplaySummary> {
  // Both endpoints are checked before anything is planned, so a missing one is the first and only error.
  const conn = await KafkaConnection.open({ brokers: opts.brokers, verbose: opts.verbose });
  let snapshot;
  try {
    await SchemaRegistryClient.open(opts.registryUrl);
    snapshot = await snapshotKafkaRanges(conn, { plan: opts.plan, topics: opts.topics, since: opts.since, until: opts.until });
  } finally {
    await conn.close();
  }
  return replayInParallel({
    plan: opts.plan,
    input: { kind: 'kafka', brokers: opts.brokers, registryUrl: opts.registryUrl, verbose: opts.verbose, batchSize: opts.batchSize, ...snapshot },
    partitions: snapshot.partitions,
    out: opts.out,
    deadLetterDir: opts.deadLetterDir,
    droppedLateDir: opts.droppedLateDir,
    stateDir: opts.stateDir,
    workers: opts.workers,
    onProgress: opts.onProgress,
  });
}
