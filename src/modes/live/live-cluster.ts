/**
 * Everything the live driver needs from a Kafka cluster, as one port: topics, read_committed
 * end offsets and ranges, per-task transactional producers and group membership. The real one
 * is Kafka through src/io/kafka; memory-cluster.ts is a broker-free one for tests that must
 * control commit order, failures and rebalances (like Kafka Streams' TopologyTestDriver).
 */
import type { BatchControl, ConsumedBatch, GroupConsumerOptions, TopicPartitionOffset } from '../../io/kafka/group-consumer.js';
import { GroupConsumer } from '../../io/kafka/group-consumer.js';
import type { KafkaConnection } from '../../io/kafka/kafka-connection.js';
import { TaskProducer, type LastOffsets, type TaskOffsets, type TaskRecord } from '../../io/kafka/task-producer.js';
import { deleteRecordsBefore, ensureTopic, fetchHighWatermarks, fetchOffsets, topicPartitionCount } from '../../io/kafka/topic-admin.js';
import { topicLimits, type TopicLimits } from '../../io/kafka/topic-limits.js';
import { readTopicRanges, type KafkaRecord } from '../../io/kafka/topic-reader.js';

export type { BatchControl, ConsumedBatch, GroupConsumerOptions, TopicPartitionOffset, LastOffsets, TaskOffsets, TaskRecord, TopicLimits, KafkaRecord };

/** Offsets [start, end) of one partition of a topic. */
export interface PartitionRangeOf {
  readonly partition: number;
  readonly start: number;
  readonly end: number;
}

/** Consecutive records of one partition, in offset order. */
export interface PartitionRecords {
  readonly partition: number;
  readonly records: readonly KafkaRecord[];
}

/** One task's way out: its outputs, changelog records and offsets, committed together. */
export interface TaskOutputPort {
  /** True when commits are transactions (exactly-once). */
  readonly exactlyOnce: boolean;
  commit(records: readonly TaskRecord[], offsets: TaskOffsets | undefined): Promise<LastOffsets>;
  close(): Promise<void>;
}

/** This worker's membership in the consumer group. */
export interface GroupMember {
  seek(topic: string, partition: number, offset: number): void;
  /** Fetch nothing more of these partitions until resumed; a batch already handed over may still come. */
  pause(topic: string, partitions: readonly number[]): void;
  resume(topic: string, partitions: readonly number[]): void;
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** Offset after the last record fetched from a partition (control records included). */
  fetchedUpTo(topic: string, partition: number): number;
  stop(): Promise<void>;
}

export interface LiveCluster {
  partitionCount(topic: string): Promise<number | undefined>;
  ensureTopic(topic: string, partitions: number, configs: Readonly<Record<string, string>>): Promise<void>;
  topicLimits(topics: readonly string[]): Promise<Map<string, TopicLimits>>;
  /** Per partition, the end of what a read_committed reader can read now. */
  endOffsets(topic: string): Promise<Map<number, number>>;
  /** The offset after the last record written to a partition, decided or not (read_uncommitted). */
  highWatermark(topic: string, partition: number): Promise<number>;
  /** The committed records of [start, end) of one partition, in offset order. */
  readRange(topic: string, partition: number, start: number, end: number): AsyncIterable<readonly KafkaRecord[]>;
  /** The committed records of [start, end) of several partitions of a topic, each partition in offset order, in one read. */
  readRanges(topic: string, ranges: readonly PartitionRangeOf[]): AsyncIterable<PartitionRecords>;
  /** A producer for one task; with a transactional id it fences every earlier holder of that id first. */
  openTaskProducer(transactionalId: string | undefined): Promise<TaskOutputPort>;
  joinGroup(options: GroupConsumerOptions): Promise<GroupMember>;
  /** Delete records below the given offsets (internal topics that every reader has committed past). */
  deleteRecordsBefore(topic: string, offsets: ReadonlyArray<{ readonly partition: number; readonly offset: number }>): Promise<void>;
}

/** The live cluster on a real Kafka connection. */
export class KafkaLiveCluster implements LiveCluster {
  constructor(private readonly conn: KafkaConnection) {}

  partitionCount(topic: string): Promise<number | undefined> {
    return topicPartitionCount(this.conn, topic);
  }

  async ensureTopic(topic: string, partitions: number, configs: Readonly<Record<string, string>>): Promise<void> {
    await ensureTopic(this.conn, topic, partitions, configs);
  }

  topicLimits(topics: readonly string[]): Promise<Map<string, TopicLimits>> {
    return topicLimits(this.conn, topics);
  }

  async endOffsets(topic: string): Promise<Map<number, number>> {
    return new Map((await fetchOffsets(this.conn, topic)).map((o) => [o.partition, o.high]));
  }

  async highWatermark(topic: string, partition: number): Promise<number> {
    return (await fetchHighWatermarks(this.conn, topic, [partition])).get(partition) ?? 0;
  }

  async *readRange(topic: string, partition: number, start: number, end: number): AsyncIterable<readonly KafkaRecord[]> {
    for await (const batch of readTopicRanges(this.conn, [{ topic, partition, start, end }], { batchSize: 8192 })) yield batch.records;
  }

  async *readRanges(topic: string, ranges: readonly PartitionRangeOf[]): AsyncIterable<PartitionRecords> {
    for await (const batch of readTopicRanges(this.conn, ranges.map((r) => ({ topic, ...r })), { batchSize: 8192 })) yield { partition: batch.partition, records: batch.records };
  }

  openTaskProducer(transactionalId: string | undefined): Promise<TaskOutputPort> {
    return TaskProducer.open(this.conn, { transactionalId });
  }

  joinGroup(options: GroupConsumerOptions): Promise<GroupMember> {
    return GroupConsumer.start(this.conn, options);
  }

  deleteRecordsBefore(topic: string, offsets: ReadonlyArray<{ readonly partition: number; readonly offset: number }>): Promise<void> {
    return deleteRecordsBefore(this.conn, topic, offsets);
  }
}
