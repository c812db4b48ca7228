/**
 * Fixes what a Kafka replay reads before it reads anything: per source, its topic and per
 * partition an offset range [start, end). The end is a snapshot of the latest offsets taken
 * now, so a replay over a live topic is still a replay of a definite history, and every
 * worker thread reads exactly the same records.
 */
import type { KafkaConnection } from '../io/kafka/kafka-connection.js';
import { fetchOffsets, offsetsForTime, topicPartitionCount } from '../io/kafka/topic-admin.js';
import type { CompiledPlan } from '../plan/compile.js';
import type { KafkaInputSpec, KafkaPartitionRange } from './replay-input.js';

export interface KafkaSnapshotOptions {
  readonly plan: CompiledPlan;
  /** Source name → topic, overriding the topology's `topic` (default: the source name). */
  readonly topics?: Readonly<Record<string, string>>;
  /**
   * Engine streams start at the first record with a Kafka timestamp ≥ since (ms); default the
   * earliest offset. Tables are read from their earliest offset whatever `since`: the version
   * in force at `since` was published before it, and the first events of the range look it up.
   */
  readonly since?: number;
  /** Every source ends before the first record with a Kafka timestamp ≥ until (ms); default the latest offset now. */
  readonly until?: number;
}

export type KafkaSnapshot = Omit<KafkaInputSpec, 'kind' | 'brokers' | 'registryUrl' | 'security' | 'verbose' | 'batchSize'>;

export async function snapshotKafkaRanges(conn: KafkaConnection, opts: KafkaSnapshotOptions): Promise<KafkaSnapshot> {
  const { plan } = opts;
  const topicOf = (source: string): string => opts.topics?.[source] ?? plan.topology.sources.find((s) => s.name === source)!.topic;
  const roles: Array<{ source: string; label: boolean }> = [
    ...plan.engineSources.map((source) => ({ source, label: false })),
    // Only sources some output joins labels from; a declared but unused source needs no topic.
    ...plan.labelSources.filter((source) => plan.topology.outputs.some((o) => o.labelJoin?.source === source)).map((source) => ({ source, label: true })),
  ];
  const seen = new Map<string, string>();
  for (const { source } of roles) {
    const topic = topicOf(source);
    const other = seen.get(topic);
    // The topic tells a record's source apart; two sources on one topic would be ambiguous.
    if (other !== undefined) throw new Error(`sources "${other}" and "${source}" both read Kafka topic "${topic}": give each source its own topic (--topic ${source}=<topic>)`);
    seen.set(topic, source);
  }

  let partitions: number | undefined;
  let partitionsOf = '';
  const sources: KafkaSnapshot['sources'][number][] = [];
  for (const { source, label } of roles) {
    const topic = topicOf(source);
    const count = await topicPartitionCount(conn, topic);
    if (count === undefined) {
      throw new Error(`Kafka topic "${topic}" of source "${source}" does not exist: produce it (skewless produce <topology> --source ${source} --input <file>) or pass --topic ${source}=<topic>`);
    }
    if (!label) {
      // Co-partitioned inputs: partition p of every engine topic feeds task p.
      if (partitions !== undefined && count !== partitions) {
        throw new Error(`engine sources must be co-partitioned: topic "${topic}" has ${count} partitions, "${partitionsOf}" has ${partitions}`);
      }
      partitions = count;
      partitionsOf = topic;
    }
    // The snapshot: latest offsets now. Offsets for `until` are read after it, and capped by it.
    const offsets = await fetchOffsets(conn, topic);
    const table = plan.topology.sources.find((s) => s.name === source)?.table !== undefined;
    const from = !label && !table && opts.since !== undefined ? await offsetsForTime(conn, topic, opts.since) : undefined;
    const to = opts.until !== undefined ? await offsetsForTime(conn, topic, opts.until) : undefined;
    const ranges: KafkaPartitionRange[] = offsets.map((o) => {
      const end = Math.max(o.low, Math.min(o.high, to?.get(o.partition) ?? o.high));
      const start = Math.min(end, Math.max(o.low, from?.get(o.partition) ?? o.low));
      return { partition: o.partition, start, end };
    });
    sources.push({ source, topic, ranges });
  }
  return { partitions: partitions ?? 0, sources };
}

/** Offsets the snapshot selects from the engine sources' topics (transaction markers included, so an upper bound on records). */
export function snapshotEngineOffsets(plan: CompiledPlan, snapshot: KafkaSnapshot): number {
  return snapshot.sources.filter((s) => plan.engineSources.includes(s.source)).reduce((n, s) => n + s.ranges.reduce((m, r) => m + r.end - r.start, 0), 0);
}
