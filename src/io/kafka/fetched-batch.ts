/**
 * kafkajs' consumer Batch (consumer/batch.js) with its offset filter done on numbers. kafkajs
 * keeps a fetched message only if `Long.fromValue(offset).gte(fetchedOffset)`: a decimal parse
 * into a Long object per message, and a closure call, for every record a live worker reads.
 * This builds the same fields with the same values: offsets are compared as numbers when the
 * fetched offset and every message offset are safe integers (what both record-batch decoders
 * give for any offset below 2^53), and anything else is left to kafkajs' constructor. Aborted
 * transactions still go through kafkajs' own filterAbortedMessages.
 * (test/unit/io-fetched-batch.test.ts compares both on random fetches.)
 */

export interface BatchMessage {
  readonly offset: string;
  readonly isControlRecord?: boolean;
}

export interface BatchPartitionData {
  readonly partition: number;
  readonly highWatermark: string;
  readonly messages: readonly BatchMessage[];
  readonly abortedTransactions?: readonly unknown[] | null;
}

export type BatchClass = new (topic: string, fetchedOffset: string | number, partitionData: BatchPartitionData) => object;
export type AbortedFilter = (args: { messages: readonly BatchMessage[]; abortedTransactions?: readonly unknown[] | null }) => BatchMessage[];

/** A Batch class with kafkajs' methods (its prototype's) and a numeric offset filter. */
export function numericOffsetBatch(Original: BatchClass, filterAbortedMessages: AbortedFilter): BatchClass {
  class NumericOffsetBatch {
    constructor(topic: string, fetchedOffset: string | number, partitionData: BatchPartitionData) {
      const within = messagesFrom(partitionData.messages, Number(fetchedOffset));
      if (within === undefined) return Reflect.construct(Original, [topic, fetchedOffset, partitionData], new.target) as NumericOffsetBatch;
      // The fields kafkajs' constructor sets, in its order.
      const self = this as unknown as Record<string, unknown>;
      self.fetchedOffset = fetchedOffset;
      self.topic = topic;
      self.partition = partitionData.partition;
      self.highWatermark = partitionData.highWatermark;
      self.rawMessages = partitionData.messages;
      self.messagesWithinOffset = within;
      const kept = filterAbortedMessages({ messages: within, abortedTransactions: partitionData.abortedTransactions });
      self.messages = kept.filter((m) => !m.isControlRecord);
    }
  }
  Object.setPrototypeOf(NumericOffsetBatch.prototype, Original.prototype);
  return NumericOffsetBatch as unknown as BatchClass;
}

/** The messages at or after `fetched`, or undefined when an offset is not a safe integer. */
function messagesFrom(messages: readonly BatchMessage[], fetched: number): BatchMessage[] | undefined {
  if (!Number.isSafeInteger(fetched)) return undefined;
  const out: BatchMessage[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (typeof m.offset !== 'string') return undefined;
    const offset = Number(m.offset);
    if (!Number.isSafeInteger(offset)) return undefined;
    if (offset >= fetched) out.push(m);
  }
  return out;
}
