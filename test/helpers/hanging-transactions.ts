/**
 * An operator's way out of hanging transactions on the local stack, with Kafka's own
 * kafka-transactions.sh (scripts/stack runKafkaTool): list them with find-hanging, abort each.
 */
import { runKafkaTool } from '../../scripts/stack/stack.mjs';

const TOOL = 'org.apache.kafka.tools.TransactionsCommand';

export interface HangingTransaction {
  readonly topic: string;
  readonly partition: number;
  readonly producerId: number;
  readonly startOffset: number;
}

/** find-hanging on the stack's one broker: transactions open over a minute that their coordinator does not know. */
export async function findHanging(): Promise<HangingTransaction[]> {
  const text = await runKafkaTool(TOOL, ['find-hanging', '--broker-id', '1', '--max-transaction-timeout', '1']);
  // Topic, Partition, ProducerId, ProducerEpoch, CoordinatorEpoch, StartOffset, LastTimestamp, Duration(min)
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.split('\t').map((c) => c.trim()))
    .filter((c) => c.length >= 6 && /^\d+$/.test(c[1]))
    .map((c) => ({ topic: c[0], partition: Number(c[1]), producerId: Number(c[2]), startOffset: Number(c[5]) }));
}

/** kafka-transactions.sh abort of one hanging transaction. */
export async function abortTransaction(h: Pick<HangingTransaction, 'topic' | 'partition' | 'startOffset'>): Promise<void> {
  await runKafkaTool(TOOL, ['abort', '--topic', h.topic, '--partition', String(h.partition), '--start-offset', String(h.startOffset)]);
}
