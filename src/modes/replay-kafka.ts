import { SchemaRegistryClient } from '../io/avro/registry-client.js';
import { registryEndpoint } from '../io/avro/registry-http.js';
import type { ClientEndpoints } from '../io/client-security.js';
import { KafkaConnection } from '../io/kafka/kafka-connection.js';
import type { CompiledPlan } from '../plan/compile.js';
import { emptyRangeWarnings } from './kafka-empty-range.js';
import { snapshotEngineOffsets, snapshotKafkaRanges } from './kafka-snapshot.js';
import { replayInParallel } from './replay-parallel.js';
import type { ReplayOutputOptions, ReplaySummary } from './replay-partitions.js';

export interface KafkaBackfillOptions extends ReplayOutputOptions, ClientEndpoints {
  readonly plan: CompiledPlan;
  /** Source name → topic, overriding the topology's topics. */
  readonly topics?: Readonly<Record<string, string>>;
  /** Kafka record timestamps (ms) bounding the engine sources' history: [since, until). */
  readonly since?: number;
  readonly until?: number;
  readonly stateDir?: string;
  /** Keep the regrouped tasks' state in stateDir too (see ParallelReplayOptions). */
  readonly keepRegroupedState?: boolean;
  readonly batchSize?: number;
  readonly workers?: number;
  /** kafkajs logs on stderr. */
  readonly verbose?: boolean;
  /** Called once the snapshot is taken, with the number of engine records the replay will read (for a progress total). */
  readonly onTotal?: (records: number) => void;
}

export interface KafkaReplaySummary extends ReplaySummary {
  /** Problems worth a user's attention that did not stop the replay, e.g. a --since/--until range that selected nothing. */
  readonly warnings: readonly string[];
}

/**
 * Replay Kafka topic history into training data: the same tasks, sinks and files as a file
 * backfill, so the same per-partition records give the same training rows. The input ranges
 * in the file metadata are the topic offsets read.
 */
export async function replayKafka(opts: KafkaBackfillOptions): Promise<KafkaReplaySummary> {
  // Both endpoints are checked before anything is planned, so a missing one is the first and only error.
  const conn = await KafkaConnection.open({ brokers: opts.brokers, security: opts.security?.kafka, verbose: opts.verbose });
  let snapshot;
  let warnings: string[];
  try {
    await SchemaRegistryClient.open(registryEndpoint(opts.registryUrl, opts.security?.registry));
    snapshot = await snapshotKafkaRanges(conn, { plan: opts.plan, topics: opts.topics, since: opts.since, until: opts.until });
    warnings = await emptyRangeWarnings(conn, opts.plan, snapshot, opts.since, opts.until);
  } finally {
    await conn.close();
  }
  opts.onTotal?.(snapshotEngineOffsets(opts.plan, snapshot));
  const summary = await replayInParallel({
    plan: opts.plan,
    input: { kind: 'kafka', brokers: opts.brokers, registryUrl: opts.registryUrl, security: opts.security, verbose: opts.verbose, batchSize: opts.batchSize, ...snapshot },
    partitions: snapshot.partitions,
    out: opts.out,
    deadLetterDir: opts.deadLetterDir,
    droppedLateDir: opts.droppedLateDir,
    stateDir: opts.stateDir,
    keepRegroupedState: opts.keepRegroupedState,
    stopAtFrontier: opts.stopAtFrontier,
    cacheKeys: opts.cacheKeys,
    workers: opts.workers,
    onProgress: opts.onProgress,
  });
  return { ...summary, warnings };
}
