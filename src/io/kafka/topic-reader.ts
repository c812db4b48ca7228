/**
 * Reads fixed offset ranges of topic partitions: the history a replay consumes, a task's
 * changelog tail, a standby copy's catch-up. Each range ends at an offset fixed before reading
 * starts (a snapshot of the end offsets), so records produced while it runs never change what
 * it reads.
 *
 * It fetches from the partition leaders directly, read_committed, without a consumer group:
 * kafkajs has no assign(), and the group of its own this reader used to join waited out the
 * broker's group.initial.rebalance.delay.ms before its first fetch, 3 s by default (measured
 * on such a broker: 3.0 to 3.5 s for 100 records), which every task restore and standby round
 * paid. Records are filtered as kafkajs' consumer filters them (its Batch: aborted
 * transactions, control records, offsets below the one asked for) and positions move by its
 * rule (past control records and compacted gaps); one fetch is in flight while the caller
 * works through the previous one.
 */
import { fetchedBatch, groupFreeCluster, type FetchedPartitionData, type KafkajsCluster } from './kafkajs-runtime.js';
import type { KafkaMessage } from 'kafkajs';
import type { KafkaConnection } from './kafka-connection.js';
import { KafkaNotReadyError, withKafkaRetry } from './kafka-retry.js';
import { fetchOffsets } from './topic-admin.js';
import { producedDeadLetter, type ProducedDeadLetter } from './produced-dead-letter.js';

/** Offsets [start, end) of one partition. */
export interface PartitionRange {
  readonly topic: string;
  readonly partition: number;
  readonly start: number;
  /** Exclusive; taken from the end-offset snapshot. */
  readonly end: number;
}

/** One Kafka record as stored: bytes, not decoded. */
export interface KafkaRecord {
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Record timestamp (ms): producer create time or broker append time. */
  readonly timestamp: number;
  /** Record headers as UTF-8 text. */
  readonly headers: Readonly<Record<string, string>>;
  /** Set for a record `skewless produce` could not encode (produced-dead-letter.ts). */
  readonly deadLetter: ProducedDeadLetter | undefined;
}

/** Consecutive records of one partition, in offset order (InputBatch-shaped, still undecoded). */
export interface TopicBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly KafkaRecord[];
}

export interface TopicReadOptions {
  /** At most this many records per yielded batch (default 4096). */
  readonly batchSize?: number;
}

/** kafkajs' READ_COMMITTED (protocol/isolationLevel.js): what its consumers read by default. */
const READ_COMMITTED = 1;
/** How long a fetch may wait at the broker for a partition with nothing to give yet. */
const MAX_WAIT_MS = 250;
/**
 * kafkajs decodes a whole fetch into objects that live until the engine has taken them, and
 * each young-generation collection copies the survivors: the smaller the fetch, the fewer.
 * Measured on card-fraud over 1M card transactions (alternated runs, 2026-12-04): parity
 * 10.57 / 8.91 / 8.51 s at 64 KiB against 11.24 / 11.06 / 9.72 s at 256 KiB (kafkajs'
 * default, 1 MiB, was slower still), 150 MB less resident. 32 KiB was slower again.
 */
const MAX_BYTES_PER_PARTITION = 64 * 1024;
const MAX_BYTES_PER_FETCH = 10 * 1024 * 1024;
/** How long one round of fetches may keep failing with transient errors (a broker restarting) before the read fails. */
const ROUND_DEADLINE_MS = 60_000;

interface PartitionState {
  readonly range: PartitionRange;
  /** Next offset to fetch: everything below was handed out or skipped. */
  next: number;
}

/** What one round of fetches brought: records per partition, in fetch order, and where the partition reads on. */
type Round = ReadonlyArray<{ readonly state: PartitionState; readonly records: KafkaRecord[]; readonly next: number }>;

/**
 * Yield the records of every range, each partition in offset order (partitions interleave in
 * fetch order, which is fine: every partition feeds its own task). Ends when all ranges are
 * read; an empty range yields nothing.
 */
export async function* readTopicRanges(conn: KafkaConnection, ranges: readonly PartitionRange[], options: TopicReadOptions = {}): AsyncGenerator<TopicBatch> {
  const batchSize = options.batchSize ?? 4096;
  const open: PartitionState[] = [];
  for (const r of ranges) if (r.end > r.start) open.push({ range: r, next: r.start });
  if (open.length === 0) return;
  const topics = [...new Set(open.map((s) => s.range.topic))];
  const cluster = groupFreeCluster(conn.kafka, READ_COMMITTED);
  let pending: Promise<Round> | undefined;
  try {
    await withKafkaRetry('connecting the range reader', () => cluster.connect());
    // The metadata of a topic just created may not have reached the broker asked yet.
    await withKafkaRetry(`reading the metadata of ${topics.join(', ')}`, () => cluster.addMultipleTargetTopics(topics), { quietForMs: 5000 });
    pending = fetchRound(conn, cluster, open);
    while (pending !== undefined) {
      const round = await pending;
      // Positions have moved with the round: the next fetch runs while the caller works.
      for (let i = open.length - 1; i >= 0; i--) if (open[i].next >= open[i].range.end) open.splice(i, 1);
      pending = open.length > 0 ? fetchRound(conn, cluster, open) : undefined;
      for (const { state, records } of round) {
        for (let i = 0; i < records.length; i += batchSize) {
          yield { topic: state.range.topic, partition: state.range.partition, records: i === 0 && records.length <= batchSize ? records : records.slice(i, i + batchSize) };
        }
      }
    }
  } finally {
    // A caller that stops early leaves a fetch in flight: its result (or failure) is dropped.
    await pending?.catch(() => undefined);
    await cluster.disconnect().catch(() => undefined);
  }
}

/** One fetch per leader for every open partition, retried through transient errors; positions advanced. */
async function fetchRound(conn: KafkaConnection, cluster: KafkajsCluster, open: readonly PartitionState[]): Promise<Round> {
  const what = `reading ${describe(open)}`;
  return withKafkaRetry(
    what,
    async () => {
      try {
        const round = await fetchOnce(cluster, open);
        // Only a whole round moves positions: a retry after one leader failed fetches the others' records again.
        for (const { state, next } of round) state.next = next;
        return round;
      } catch (e) {
        const name = (e as { name?: unknown }).name;
        if (name === 'KafkaJSOffsetOutOfRange') {
          await skipToLogStart(conn, open, e as { topic?: string; partition?: number });
          throw new KafkaNotReadyError(`an offset to read was deleted: reading on from the log start`);
        }
        // Leadership moved, a broker restarted, a topic's metadata is missing: ask again.
        await cluster.refreshMetadata().catch(() => undefined);
        throw e;
      }
    },
    { deadlineMs: ROUND_DEADLINE_MS, quietForMs: 2000 },
  );
}

async function fetchOnce(cluster: KafkajsCluster, open: readonly PartitionState[]): Promise<Round> {
  const byTopic = new Map<string, PartitionState[]>();
  for (const s of open) {
    let list = byTopic.get(s.range.topic);
    if (list === undefined) byTopic.set(s.range.topic, (list = []));
    list.push(s);
  }
  // Leader node → topic → the partitions it is asked for.
  const byLeader = new Map<string, Map<string, PartitionState[]>>();
  for (const [topic, states] of byTopic) {
    const leaders = cluster.findLeaderForPartitions(
      topic,
      states.map((s) => s.range.partition),
    );
    let placed = 0;
    for (const [nodeId, partitions] of Object.entries(leaders)) {
      let topicsOf = byLeader.get(nodeId);
      if (topicsOf === undefined) byLeader.set(nodeId, (topicsOf = new Map()));
      const mine = states.filter((s) => partitions.includes(s.range.partition));
      topicsOf.set(topic, mine);
      placed += mine.length;
    }
    if (placed < states.length) throw new KafkaNotReadyError(`topic ${topic} has no leader known for ${states.length - placed} of the partitions to read`);
  }
  const rounds = await Promise.all(
    [...byLeader].map(async ([nodeId, topicsOf]) => {
      const broker = await cluster.findBroker({ nodeId });
      const { responses } = await broker.fetch({
        isolationLevel: READ_COMMITTED,
        maxWaitTime: MAX_WAIT_MS,
        minBytes: 1,
        maxBytes: MAX_BYTES_PER_FETCH,
        topics: [...topicsOf].map(([topic, states]) => ({
          topic,
          partitions: states.map((s) => ({ partition: s.range.partition, fetchOffset: String(s.next), maxBytes: MAX_BYTES_PER_PARTITION })),
        })),
      });
      const out: Array<{ state: PartitionState; records: KafkaRecord[]; next: number }> = [];
      for (const { topicName, partitions } of responses) {
        const states = topicsOf.get(topicName);
        if (states === undefined) continue;
        for (const data of partitions) {
          const state = states.find((s) => s.range.partition === data.partition);
          if (state !== undefined) out.push({ state, ...take(state, data) });
        }
      }
      return out;
    }),
  );
  return rounds.flat();
}

/** The records of a fetched partition within its range, and where it reads on, as a kafkajs consumer would move. */
function take(state: PartitionState, data: FetchedPartitionData): { readonly records: KafkaRecord[]; readonly next: number } {
  // Nothing at all: nothing committed past the position yet (read_committed waits for the transaction).
  if (data.messages.length === 0) return { records: [], next: state.next };
  const batch = fetchedBatch(state.range.topic, String(state.next), data);
  // Past control records, aborted records and a compacted gap too, never past the range.
  return { records: recordsInRange(batch.messages, state), next: Math.max(state.next, Math.min(Number(batch.lastOffset()) + 1, state.range.end)) };
}

/** Partitions whose position lies below their log start (retention, deleteRecords) read on from it, as a consumer reset to the earliest offset would. */
async function skipToLogStart(conn: KafkaConnection, open: readonly PartitionState[], at: { topic?: string; partition?: number }): Promise<void> {
  for (const topic of new Set(open.map((s) => s.range.topic))) {
    if (at.topic !== undefined && at.topic !== topic) continue;
    const low = new Map((await fetchOffsets(conn, topic)).map((o) => [o.partition, o.low]));
    for (const s of open) {
      if (s.range.topic !== topic) continue;
      const start = low.get(s.range.partition);
      if (start !== undefined && start > s.next) s.next = Math.min(start, s.range.end);
    }
  }
}

function describe(open: readonly PartitionState[]): string {
  const topics = new Map<string, number[]>();
  for (const s of open) (topics.get(s.range.topic) ?? topics.set(s.range.topic, []).get(s.range.topic)!).push(s.range.partition);
  return [...topics].map(([t, ps]) => `${t} (partitions ${ps.join(', ')})`).join(', ');
}

function recordsInRange(messages: readonly KafkaMessage[], s: PartitionState): KafkaRecord[] {
  const out: KafkaRecord[] = [];
  for (const m of messages) {
    const offset = Number(m.offset);
    // Below `next`: already handed out. At or past `end`: after the snapshot.
    if (offset < s.next || offset >= s.range.end) continue;
    const headers = headerText(m.headers);
    out.push({ offset, key: m.key ?? null, value: m.value ?? null, timestamp: Number(m.timestamp), headers, deadLetter: producedDeadLetter(headers, m.value ?? null) });
  }
  return out;
}

/** Most records carry no headers: they share one frozen empty object instead of one each. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

function headerText(h: KafkaMessage['headers']): Readonly<Record<string, string>> {
  let headers: Record<string, string> | undefined;
  for (const k in h) {
    const v = h[k];
    if (v !== undefined) (headers ??= {})[k] = Array.isArray(v) ? v.map(String).join(',') : String(v);
  }
  return headers ?? NO_HEADERS;
}
