/**
 * What a topic's broker accepts from a producer: record size and timestamp bounds. The live
 * driver checks outputs against them before a transaction, since one refused record would
 * otherwise fail the whole batch on every retry.
 */
import kafkajs from './kafkajs-runtime.js';
import type { KafkaConnection } from './kafka-connection.js';
import { withKafkaRetry } from './kafka-retry.js';

const { ConfigResourceTypes } = kafkajs;

export interface TopicLimits {
  readonly maxMessageBytes: number;
  readonly timestampType: 'CreateTime' | 'LogAppendTime';
  readonly timestampAfterMaxMs: number;
  readonly timestampBeforeMaxMs: number;
  /** retention.ms: records whose timestamp is older go with their segment (Infinity: kept for good). */
  readonly retentionMs: number;
}

/** The largest value Kafka takes for a long config: no bound. */
export const UNBOUNDED_MS = '9223372036854775807';

/**
 * Configs for topics skewless creates for its outputs: record timestamps are event times (of
 * any age, e.g. during a bootstrap of old history), so the broker must not bound them, and
 * time-based retention is off: under a cluster default of 7 days, outputs stamped with older
 * event times would be deleted as soon as their segment rolled. Users who want a bound set
 * retention.bytes, or retention.ms knowing that it counts from event time.
 *
 * Segments roll by size only: Kafka rolls once a segment's record timestamps span segment.ms
 * (7 days by default), so history written with its event times became one small segment per
 * week of event time, and a fetch, which never crosses a segment's end, read one week at a time.
 * Retention deletes whole closed segments only, so a user who bounds such a topic also sets
 * segment.bytes to a fraction of the bound.
 */
export const EVENT_TIME_TOPIC_CONFIGS: Readonly<Record<string, string>> = {
  'message.timestamp.type': 'CreateTime',
  'message.timestamp.after.max.ms': UNBOUNDED_MS,
  'message.timestamp.before.max.ms': UNBOUNDED_MS,
  'retention.ms': '-1',
  'segment.ms': UNBOUNDED_MS,
};

const num = (v: string | undefined, fallback: number): number => {
  const n = Number(v);
  return v === undefined || !Number.isFinite(n) ? fallback : n;
};

/** Kafka's -1 (any negative value) means no time limit. */
const retention = (v: string | undefined): number => {
  const n = num(v, -1);
  return n < 0 ? Number.POSITIVE_INFINITY : n;
};

export async function topicLimits(conn: KafkaConnection, topics: readonly string[]): Promise<Map<string, TopicLimits>> {
  const out = new Map<string, TopicLimits>();
  if (topics.length === 0) return out;
  const res = await withKafkaRetry('reading topic configs', () =>
    conn.admin.describeConfigs({
      includeSynonyms: false,
      resources: topics.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
    }),
  );
  for (const r of res.resources) {
    const entries = new Map(r.configEntries.map((e) => [e.configName, e.configValue]));
    out.set(r.resourceName, {
      maxMessageBytes: num(entries.get('max.message.bytes'), 1_048_588),
      timestampType: entries.get('message.timestamp.type') === 'LogAppendTime' ? 'LogAppendTime' : 'CreateTime',
      // Kafka before 3.6 had only message.timestamp.difference.max.ms (both directions).
      timestampAfterMaxMs: num(entries.get('message.timestamp.after.max.ms') ?? entries.get('message.timestamp.difference.max.ms'), Number.MAX_SAFE_INTEGER),
      timestampBeforeMaxMs: num(entries.get('message.timestamp.before.max.ms') ?? entries.get('message.timestamp.difference.max.ms'), Number.MAX_SAFE_INTEGER),
      retentionMs: retention(entries.get('retention.ms')),
    });
  }
  return out;
}

/** retention.ms as people write it: the largest whole unit. */
function retentionText(ms: number): string {
  for (const [size, unit] of [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'm'], [1000, 's']] as const) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms} ms`;
}

/**
 * One line per output topic that deletes by record age: skewless stamps output records with
 * their event time, so outputs of events older than the topic's retention.ms (a bootstrap of
 * last year's history, a backfill of late data) are deleted as soon as their segment rolls.
 */
export function retentionWarnings(limits: ReadonlyMap<string, TopicLimits>): string[] {
  const out: string[] = [];
  for (const [topic, l] of [...limits].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (!Number.isFinite(l.retentionMs)) continue;
    out.push(
      `skewless: warning: output topic ${topic} deletes records older than retention.ms ${retentionText(l.retentionMs)} by their timestamp, and skewless stamps records with event time: ` +
        `outputs of older events are deleted at once; set retention.ms=-1 on the topic (and bound it with retention.bytes) to keep them`,
    );
  }
  return out;
}
