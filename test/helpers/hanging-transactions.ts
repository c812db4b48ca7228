/**
 * An operator's way out of hanging transactions on the local stack, with Kafka's own
 * kafka-transactions.sh (scripts/stack runKafkaTool): list them with find-hanging, abort each.
 */
import { rmSync } from 'node:fs';
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

/**
 * A worker that stopped on a hanging transaction: do what its line says, as an operator would.
 * Every transaction find-hanging lists for a producer id that hangs on one of `ownTopics` is
 * aborted (its changelog, outputs, regroup topics and the group's offsets alike), and the task
 * directory is deleted when the line says so; a transaction that does not hang on the group's
 * offsets as well was decided elsewhere, and is refused (throws) as the line says. Resolves to the
 * line, or undefined when `log` has none (the worker stopped for another reason).
 */
export async function resolveHang(log: string, ownTopics: (topic: string) => boolean): Promise<string | undefined> {
  const line = /^.*task \d+: a hanging transaction on changelog (\S+) partition (\d+): its records from offset (\d+) .*$/m.exec(log);
  if (line === null) return undefined;
  const [, changelog, partition] = line;
  // Listed once open over a minute: the worker stops about a minute after its producer's first re-initialization.
  let hanging: HangingTransaction[] = [];
  for (let i = 0; i < 6 && !hanging.some((h) => h.topic === changelog && h.partition === Number(partition)); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 10_000));
    hanging = await findHanging();
  }
  const ids = new Set(hanging.filter((h) => ownTopics(h.topic)).map((h) => h.producerId));
  // As the line says: abort only a transaction that hangs on the group's offsets too (nothing of it decided).
  const undecided = [...ids].filter((id) => hanging.some((h) => h.producerId === id && h.topic === '__consumer_offsets'));
  if (undecided.length < ids.size || ids.size === 0) throw new Error(`a transaction hangs on ${changelog} but not on the group's offsets (decided elsewhere: an abort would fork the state); find-hanging: ${JSON.stringify(hanging)}\n${line[0]}`);
  for (const h of hanging) if (ids.has(h.producerId)) await abortTransaction(h);
  const dir = /then delete (\S+) \(its local copy holds the aborted batch/.exec(line[0])?.[1];
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  return line[0];
}
