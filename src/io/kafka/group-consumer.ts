/**
 * A consumer-group member that hands whole fetched batches to its caller and commits only
 * what the caller says is durable. Offsets are never auto-committed: the live driver commits
 * after its state checkpoint, so the group never runs ahead of the state.
 */
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { KafkaConnection } from './kafka-connection.js';

export interface ConsumedMessage {
  readonly offset: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** Broker timestamp (ms): for metrics only, never for event time. */
  readonly timestamp: number;
}

export interface ConsumedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly ConsumedMessage[];
  /** The partition's log end offset when the batch was fetched. */
  readonly highWatermark: number;
}

export interface GroupConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /**
   * Process one batch; resolves with the next offset that is durable (state checkpointed),
   * which is then committed for the group, with optional commit metadata.
   */
  readonly onBatch: (batch: ConsumedBatch) => Promise<{ readonly next: number; readonly metadata?: string }>;
  /** The partitions this member now owns, per topic (after every rebalance). */
  readonly onAssignment?: (assignment: Readonly<Record<string, readonly number[]>>) => void;
  /**
   * A batch failed in a way retrying cannot fix (e.g. state of another topology version): the
   * caller should stop the member. kafkajs alone would re-deliver the batch forever.
   */
  readonly onFatal?: (error: Error) => void;
  /**
   * Batches of different partitions handled at once (default 1). Above 1, one partition's
   * engine work overlaps another's wait for produce acks and checkpoints; the caller must
   * keep each partition's own work in order (the live worker's tasks are serial).
   */
  readonly partitionsConcurrently?: number;
  /** Upper bound on bytes fetched per partition and request (kafkajs default 1 MiB). */
  readonly maxBytesPerPartition?: number;
}

export class GroupConsumer {
  private constructor(private readonly consumer: Consumer) {}

  static async start(conn: KafkaConnection, opts: GroupConsumerOptions): Promise<GroupConsumer> {
    const consumer = conn.kafka.consumer({
      groupId: opts.groupId,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
    });
    await consumer.connect();
    if (opts.onAssignment) {
      consumer.on(consumer.events.GROUP_JOIN, (e) => opts.onAssignment!(e.payload.memberAssignment));
    }
    for (const topic of opts.topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: opts.partitionsConcurrently ?? 1,
      eachBatch: async (p: EachBatchPayload) => {
        const { batch } = p;
        if (batch.messages.length === 0) return;
        let result: { readonly next: number; readonly metadata?: string };
        try {
          result = await opts.onBatch({
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: Number(batch.highWatermark),
            messages: batch.messages.map((m) => ({ offset: Number(m.offset), key: m.key, value: m.value, timestamp: Number(m.timestamp) })),
          });
        } catch (e) {
          opts.onFatal?.(e instanceof Error ? e : new Error(String(e)));
          throw e;
        }
        const { next, metadata } = result;
        // The whole batch is handed over (the caller holds what it has not applied yet), so
        // fetching continues after it; only the durable position is committed for the group.
        p.resolveOffset(batch.messages[batch.messages.length - 1].offset);
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(next), metadata: metadata ?? null }]);
        await p.heartbeat();
      },
    });
    return new GroupConsumer(consumer);
  }

  /** Finish the batch in progress, leave the group and disconnect. */
  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}
