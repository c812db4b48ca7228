/**
 * Topic administration: existence and partition counts, and the offsets a replay snapshots.
 * Offsets are int64 strings in kafkajs; they become JS numbers here (exact up to 2^53, far
 * beyond any real partition) so the engine's InputRecord offsets stay plain numbers.
 *
 * Every call goes through withKafkaRetry: readiness races of a healthy cluster (a topic just
 * created, a coordinator moving or loading, a broker restarting) are waited out, bounded.
 */
import type { KafkaConnection } from './kafka-connection.js';
import { isRetriableKafkaError, KafkaNotReadyError, withKafkaRetry } from './kafka-retry.js';

export interface PartitionOffsets {
  readonly partition: number;
  /** Earliest offset still in the log. */
  readonly low: number;
  /**
   * The end of what a read_committed reader can read now: the high watermark, or the first
   * record of a transaction not yet decided (kafkajs' admin lists offsets read_committed).
   */
  readonly high: number;
}

export interface EnsuredTopic {
  readonly topic: string;
  readonly partitions: number;
  /** False when it already existed with the requested partition count. */
  readonly created: boolean;
}

function toOffset(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`Kafka returned an unusable ${what} offset "${value}"`);
  return n;
}

const missingTopic = (conn: KafkaConnection, topic: string): Error => new Error(`Kafka topic "${topic}" does not exist on ${conn.brokers.join(',')}`);

/** Whether the cluster lists `topic` (listing all topics answers at once; asking for a missing one makes kafkajs retry for seconds). */
async function topicListed(conn: KafkaConnection, topic: string): Promise<boolean> {
  return (await withKafkaRetry('listing Kafka topics', () => conn.admin.listTopics())).includes(topic);
}

/**
 * `op` on an existing topic, retried through readiness races; a topic that turns out not to
 * exist (kafkajs reports it as a retriable UNKNOWN_TOPIC_OR_PARTITION) fails at once instead.
 */
function onTopic<T>(conn: KafkaConnection, topic: string, what: string, op: () => Promise<T>): Promise<T> {
  return withKafkaRetry(what, async () => {
    try {
      return await op();
    } catch (e) {
      if (isRetriableKafkaError(e) && !(await topicListed(conn, topic))) throw missingTopic(conn, topic);
      throw e;
    }
  });
}

/** Partition count of a topic, or undefined when it does not exist. */
export async function topicPartitionCount(conn: KafkaConnection, topic: string): Promise<number | undefined> {
  if (!(await topicListed(conn, topic))) return undefined;
  const meta = await withKafkaRetry(`reading the metadata of Kafka topic "${topic}"`, () => conn.admin.fetchTopicMetadata({ topics: [topic] }));
  return meta.topics[0]?.partitions.length;
}

/** Partition numbers of an existing topic, ascending; a clear error when it does not exist. */
export async function listPartitions(conn: KafkaConnection, topic: string): Promise<number[]> {
  const count = await topicPartitionCount(conn, topic);
  if (count === undefined) throw missingTopic(conn, topic);
  return Array.from({ length: count }, (_, p) => p);
}

function partitionMismatch(topic: string, existing: number | undefined, partitions: number): Error {
  return new Error(
    `Kafka topic "${topic}" exists with ${existing} partitions, not ${partitions}: partition counts decide which task sees a key, ` +
      `so pass --partitions ${existing} or use another topic`,
  );
}

/** Whether `topic` exists; an error when it exists with another partition count than `partitions`. */
export async function checkTopicPartitions(conn: KafkaConnection, topic: string, partitions: number): Promise<boolean> {
  const existing = await topicPartitionCount(conn, topic);
  if (existing !== undefined && existing !== partitions) throw partitionMismatch(topic, existing, partitions);
  return existing !== undefined;
}

/**
 * Make sure `topic` exists with exactly `partitions` partitions. The partition count decides
 * which task sees which key, so it is part of the determinism contract: a topic that exists
 * with another count is an error, never silently used (and never altered).
 */
export async function ensureTopic(
  conn: KafkaConnection,
  topic: string,
  partitions: number,
  /** Topic-level configs applied when the topic is created (e.g. cleanup.policy=compact). */
  configs: Readonly<Record<string, string>> = {},
): Promise<EnsuredTopic> {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  if (await checkTopicPartitions(conn, topic, partitions)) return { topic, partitions, created: false };
  const configEntries = Object.entries(configs).map(([name, value]) => ({ name, value }));
  // false when another client created it in the meantime: then its count is checked again.
  // kafkajs' own wait for leaders gives up after 5 s without saying whether the topic was created; waitForTopic waits instead.
  const created = await withKafkaRetry(`creating Kafka topic "${topic}"`, () =>
    conn.admin.createTopics({ topics: [{ topic, numPartitions: partitions, configEntries }], waitForLeaders: false }),
  );
  await waitForTopic(conn, topic, partitions);
  return { topic, partitions, created };
}

/**
 * Wait until a topic just created is usable: listed, with `partitions` partitions in the
 * metadata, each with a leader. Right after CreateTopics a broker may not know the topic yet
 * ("does not host this topic-partition") or its partitions may have no leader; a producer or
 * consumer started then fails. A topic that shows another partition count is an error.
 */
/** A topic just created takes a moment to appear everywhere: only a longer wait is news. */
const QUIET_TOPIC_WAIT = { quietForMs: 3000 } as const;

async function waitForTopic(conn: KafkaConnection, topic: string, partitions: number): Promise<void> {
  await withKafkaRetry(`waiting for Kafka topic "${topic}" to get leaders`, async () => {
    if (!(await topicListed(conn, topic))) throw new KafkaNotReadyError(`topic "${topic}" is not in the metadata yet`);
    const meta = await conn.admin.fetchTopicMetadata({ topics: [topic] });
    const found = meta.topics.find((t) => t.name === topic)?.partitions ?? [];
    if (found.length > partitions) throw partitionMismatch(topic, found.length, partitions);
    const ready = found.filter((p) => p.partitionErrorCode === 0 && p.leader >= 0).length;
    if (found.length < partitions || ready < partitions) {
      throw new KafkaNotReadyError(`${ready} of ${partitions} partitions of "${topic}" have a leader`);
    }
  }, QUIET_TOPIC_WAIT);
}

/** A kafkajs cluster, the client's private factory: the only way to list offsets read_uncommitted. */
interface UncommittedCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  fetchTopicsOffset(topics: ReadonlyArray<{ topic: string; partitions: Array<{ partition: number }>; fromBeginning: boolean }>): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
}

/**
 * Per partition, the high watermark: the offset after the last record written, decided or not
 * (read_uncommitted), where fetchOffsets' end stops at an undecided transaction. Through a
 * cluster of kafkajs' own making with isolation level 0, since its admin asks read_committed only.
 */
export async function fetchHighWatermarks(conn: KafkaConnection, topic: string, partitions: readonly number[]): Promise<Map<number, number>> {
  const factory = Object.getOwnPropertySymbols(conn.kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const create = factory === undefined ? undefined : (conn.kafka as unknown as Record<symbol, unknown>)[factory];
  if (typeof create !== 'function') throw new Error('kafkajs changed: its client has no cluster factory to list offsets read_uncommitted');
  const cluster = (create as (o: object) => UncommittedCluster)({ isolationLevel: 0, allowAutoTopicCreation: false });
  await cluster.connect();
  try {
    return await onTopic(conn, topic, `reading the high watermarks of Kafka topic "${topic}"`, async () => {
      await cluster.addTargetTopic(topic);
      const [offsets] = await cluster.fetchTopicsOffset([{ topic, partitions: partitions.map((partition) => ({ partition })), fromBeginning: false }]);
      return new Map((offsets?.partitions ?? []).map((o) => [o.partition, toOffset(o.offset, 'high watermark')]));
    });
  } finally {
    await cluster.disconnect().catch(() => undefined);
  }
}

/** Earliest and latest offsets of every partition, by partition. */
export async function fetchOffsets(conn: KafkaConnection, topic: string): Promise<PartitionOffsets[]> {
  const offsets = await onTopic(conn, topic, `reading the offsets of Kafka topic "${topic}"`, () => conn.admin.fetchTopicOffsets(topic));
  return offsets
    .map((o) => ({ partition: o.partition, low: toOffset(o.low, 'earliest'), high: toOffset(o.high, 'latest') }))
    .sort((a, b) => a.partition - b.partition);
}

/**
 * Per partition, the first offset whose record timestamp is ≥ `timestamp` (ms), or the
 * latest offset when there is none (kafkajs maps Kafka's -1 to the high watermark).
 */
export async function offsetsForTime(conn: KafkaConnection, topic: string, timestamp: number): Promise<Map<number, number>> {
  const offsets = await onTopic(conn, topic, `reading the offsets of Kafka topic "${topic}" at ${timestamp}`, () =>
    conn.admin.fetchTopicOffsetsByTimestamp(topic, timestamp),
  );
  return new Map(offsets.map((o) => [o.partition, toOffset(o.offset, `timestamp ${timestamp}`)]));
}

/** Remove a consumer group, ignoring one that is already gone. */
/**
 * Delete the records of `topic` below the given offset per partition (Kafka's DeleteRecords):
 * for internal topics whose every reader has committed past them.
 */
export async function deleteRecordsBefore(conn: KafkaConnection, topic: string, offsets: ReadonlyArray<{ readonly partition: number; readonly offset: number }>): Promise<void> {
  if (offsets.length === 0) return;
  // kafkajs' deleteTopicRecords looks the partitions' leaders up before it adds the topic to the
  // client's metadata (its own fetchTopicOffsets, after the lookup, does that): on a client that
  // has not touched the topic yet it fails with "Could not find the leader for the partition".
  await conn.admin.fetchTopicOffsets(topic);
  await conn.admin.deleteTopicRecords({ topic, partitions: offsets.map((o) => ({ partition: o.partition, offset: String(o.offset) })) });
}

export async function deleteGroup(conn: KafkaConnection, groupId: string): Promise<void> {
  try {
    await conn.admin.deleteGroups([groupId]);
  } catch {
    // An empty group without offsets may already have been removed by the broker: nothing to clean.
  }
}

/**
 * Delete topics (tests and throwaway runs clean up after themselves), best effort: missing
 * ones are ignored, and so is a failure or a cluster that does not answer within `timeoutMs`
 * (default 5 s); cleaning up never fails the run it follows. Resolves to whether it finished.
 */
export async function deleteTopics(conn: KafkaConnection, topics: readonly string[], opts: { readonly timeoutMs?: number } = {}): Promise<boolean> {
  const attempt = (async () => {
    const existing = new Set(await conn.admin.listTopics());
    const doomed = topics.filter((t) => existing.has(t));
    if (doomed.length > 0) await conn.admin.deleteTopics({ topics: doomed });
    return true;
  })().catch(() => false);
  let timer: NodeJS.Timeout | undefined;
  // Only a cluster that is gone or stuck takes this long; the attempt then fails on its own in the background.
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), opts.timeoutMs ?? 5000)));
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface GroupOffsetsCommit {
  /** What the group had committed for the topic before, by partition (partitions without a commit are absent). */
  readonly previous: ReadonlyArray<{ readonly partition: number; readonly offset: number }>;
  /** Whether `offsets` were written. */
  readonly written: boolean;
}

/**
 * Set a consumer group's committed offsets for `topic` (the next offset each partition's
 * consumer reads), e.g. to hand a bootstrapped state over to live at exactly its positions.
 * The group must have no running members. Returns what was committed before; with
 * `onlyIfNone`, nothing is written when the group already has a committed offset for the
 * topic, and an empty `offsets` only reads them (a check before a long replay).
 */
export async function commitGroupOffsets(
  conn: KafkaConnection,
  groupId: string,
  topic: string,
  offsets: ReadonlyArray<{ readonly partition: number; readonly offset: number }>,
  opts: { readonly onlyIfNone?: boolean } = {},
): Promise<GroupOffsetsCommit> {
  const previous = await committedOffsets(conn, groupId, topic);
  if (offsets.length === 0 || (opts.onlyIfNone === true && previous.length > 0)) return { previous, written: false };
  for (const o of offsets) {
    if (!Number.isSafeInteger(o.offset) || o.offset < 0) throw new RangeError(`offset for ${topic} partition ${o.partition} must be a whole number ≥ 0, got ${o.offset}`);
  }
  // Setting offsets is idempotent, so the whole set-and-verify repeats. The check reads them back:
  // kafkajs' setOffsets runs a throwaway group member, and when that member's join fails (a
  // coordinator moving or loading) and kafkajs restarts it, the seeks are lost without an error.
  await withKafkaRetry(`setting the offsets of consumer group "${groupId}" on "${topic}"`, async () => {
    try {
      await conn.admin.setOffsets({ groupId, topic, partitions: offsets.map((o) => ({ partition: o.partition, offset: String(o.offset) })) });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (/running instances/.test(msg)) throw new Error(`consumer group "${groupId}" has running members (${msg}): stop them before setting its offsets`);
      throw e;
    }
    const now = new Map((await committedOffsets(conn, groupId, topic)).map((p) => [p.partition, p.offset]));
    const missing = offsets.filter((o) => now.get(o.partition) !== o.offset);
    if (missing.length > 0) throw new KafkaNotReadyError(`${missing.length} of ${offsets.length} offsets not committed yet`);
  });
  return { previous, written: true };
}

/** What a group has committed for `topic`, by partition (partitions without a commit are absent). */
export async function committedOffsets(conn: KafkaConnection, groupId: string, topic: string): Promise<Array<{ partition: number; offset: number }>> {
  const fetched = await withKafkaRetry(`reading the offsets of consumer group "${groupId}"`, () => conn.admin.fetchOffsets({ groupId, topics: [topic] }));
  return (fetched.find((t) => t.topic === topic)?.partitions ?? [])
    .filter((p) => Number(p.offset) >= 0)
    .map((p) => ({ partition: p.partition, offset: toOffset(p.offset, `committed (group ${groupId})`) }))
    .sort((a, b) => a.partition - b.partition);
}
