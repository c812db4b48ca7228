/**
 * `backfill --from-kafka --since/--until` select by Kafka record timestamp. A range that selects
 * nothing from a topic that holds records is almost always a mistake (records stamped with the
 * time they were loaded, or a range outside the data), so it is reported with the timestamps the
 * topic's records do carry instead of ending in an empty output without a word.
 */
import type { KafkaConnection } from '../io/kafka/kafka-connection.js';
import { fetchOffsets } from '../io/kafka/topic-admin.js';
import { readTopicRanges } from '../io/kafka/topic-reader.js';
import { formatCount } from '../io/number-format.js';
import type { CompiledPlan } from '../plan/compile.js';
import { formatEventTime } from '../time/event-time.js';
import type { KafkaSnapshot } from './kafka-snapshot.js';

/** The first record's timestamp of each partition that has records. */
async function firstTimestamps(conn: KafkaConnection, topic: string, offsets: ReadonlyArray<{ partition: number; low: number; high: number }>): Promise<number[]> {
  const ranges = offsets.filter((o) => o.high > o.low).map((o) => ({ topic, partition: o.partition, start: o.low, end: o.low + 1 }));
  const out: number[] = [];
  for await (const batch of readTopicRanges(conn, ranges, { batchSize: 1 })) for (const r of batch.records) out.push(r.timestamp);
  return out;
}

const range = (since: number | undefined, until: number | undefined): string =>
  `${since === undefined ? '' : `--since ${formatEventTime(since)}`}${since !== undefined && until !== undefined ? ' ' : ''}${until === undefined ? '' : `--until ${formatEventTime(until)}`}`;

/** One warning per engine source whose topic has records of which the range selects none. */
export async function emptyRangeWarnings(conn: KafkaConnection, plan: CompiledPlan, snapshot: KafkaSnapshot, since: number | undefined, until: number | undefined): Promise<string[]> {
  if (since === undefined && until === undefined) return [];
  const warnings: string[] = [];
  for (const s of snapshot.sources) {
    if (!plan.engineSources.includes(s.source) || s.ranges.some((r) => r.end > r.start)) continue;
    const offsets = await fetchOffsets(conn, s.topic);
    const held = offsets.reduce((n, o) => n + o.high - o.low, 0);
    if (held === 0) continue;
    const stamps = await firstTimestamps(conn, s.topic, offsets);
    const lo = Math.min(...stamps);
    const hi = Math.max(...stamps);
    const carried = stamps.length === 0 ? '' : lo === hi ? `; its first record carries ${formatEventTime(lo)}` : `; the first records of its partitions carry ${formatEventTime(lo)} to ${formatEventTime(hi)}`;
    // A table is not cut by --since (kafka-snapshot.ts): only --until can have emptied it.
    const table = plan.topology.sources.find((x) => x.name === s.source)?.table !== undefined;
    warnings.push(
      `${range(table ? undefined : since, until)} selects none of the ${formatCount(held)} records of topic "${s.topic}" (source ${s.source}): the range is matched against Kafka record timestamps${carried}. ` +
        'skewless produce stamps records with their event time; other producers usually stamp the time of loading: choose a range within the timestamps the records carry, or leave out --since/--until',
    );
  }
  return warnings;
}
