/**
 * The commit of one live task's batch, in the only order that can neither lose nor fork:
 *
 *  1. collect the state changes, quiet keys' expiry included (the task's in-memory state is now
 *     "clean" but not durable);
 *  2. exactly-once: one transaction with the outputs, the changelog records and the consumer
 *     offsets; at-least-once: the same records acknowledged by all in-sync replicas;
 *  3. only then the local store (state + which changelog offset it reflects) in one batch;
 *  4. at-least-once only: the group offsets.
 *
 * If anything before 3 fails, nothing of the batch is visible to read_committed readers and
 * the caller must drop the task (its memory is ahead of every durable copy) and reopen it.
 * A crash between 2 and 3 leaves the local store one batch behind the changelog: the next
 * open catches it up.
 */
import type { TopicPartitionOffset } from '../../io/kafka/group-consumer.js';
import { topicPartitionId, type LastOffsets, type TaskRecord } from '../../io/kafka/task-producer.js';
import { encodeLocalMeta, isLocalOnlyKey, localKey, taskPrefixes } from '../../state/task-state-keys.js';
import type { BatchOp } from '../../state/state-backend.js';
import { changelogRecords } from './changelog.js';
import type { LiveTask } from './live-task.js';
import type { SerialQueue } from './serial-queue.js';
import { MIN_CACHE_KEYS, type HeapPressure } from '../heap-pressure.js';

export interface CommitContext {
  readonly groupId: string;
  readonly changelog: string;
  /** Input topic of each engine source. */
  readonly sourceTopics: ReadonlyMap<string, string>;
  /** At-least-once: commit the group offsets after the store is durable. */
  readonly commitGroupOffsets?: (offsets: readonly TopicPartitionOffset[]) => Promise<void>;
  /**
   * Called just before the records go out (the parity log's local file is appended then: a
   * kill right after the commit must not leave the file behind the topic; lines of a batch that
   * then fails are written again when it is retried, and the file's reader drops repeats).
   */
  readonly beforeSend?: (task: LiveTask) => void;
  /** After the batch is durable: the input and internal positions it committed. */
  readonly afterCommit?: (offsets: readonly TopicPartitionOffset[]) => void;
  /**
   * Exactly-once: the worker's transactions take turns here, one open at a time. With several
   * partitions processed at once, one task's engine still runs while another's transaction is in
   * flight. A lone broker restarted after a crash can lose the markers of the transactions it was
   * completing (see task-store.ts, ChangelogUndecidedError); turns keep that exposure at one
   * transaction per worker, as with one partition at a time.
   */
  readonly transactions?: SerialQueue;
  /** Store keys the task's sweep of quiet keys walks before each commit (Task.sweepExpired); 0 or absent: none. */
  readonly sweepEntries?: number;
  /** The worker's heap, looked at once per commit: when it runs short, the committing task lowers its cache bound (heap-pressure.ts). */
  readonly heapPressure?: HeapPressure;
}

export { DEFAULT_SWEEP_ENTRIES } from '../../engine/task.js';

export interface CommitResult {
  readonly outputs: number;
  readonly changelogRecords: number;
  readonly changelogBytes: number;
}

export async function commitTask(lt: LiveTask, ctx: CommitContext): Promise<CommitResult> {
  const p = lt.partition;
  // The watermark goes out after the batch's updates, in the same transaction; the
  // regrouping's internal records are not outputs.
  const internal = lt.regroup?.beforeCommit() ?? 0;
  const outputs = lt.out.length - internal;
  // Quiet keys' state goes in this batch's changes, and so into its transaction with everything else.
  if (ctx.sweepEntries !== undefined && ctx.sweepEntries > 0) {
    await lt.task.sweepExpired(ctx.sweepEntries);
    await lt.regroup?.sweepExpired(ctx.sweepEntries);
  }
  const pressure = ctx.heapPressure;
  if (pressure !== undefined && pressure.look() > lt.heapEpisodes) {
    lt.task.capCache(pressure.keep, MIN_CACHE_KEYS);
    lt.regroup?.capCache(pressure.keep, MIN_CACHE_KEYS);
    lt.heapEpisodes = pressure.episodes;
  }
  const ops = lt.task.changes();
  if (lt.regroup !== undefined) for (const op of lt.regroup.changes()) ops.push(op);
  const records: TaskRecord[] = lt.out.splice(0);
  const firstChangelog = records.length;
  if (lt.seedChangelog) {
    // Everything the store holds goes first; this batch's changes follow and win.
    const seed: BatchOp[] = [];
    for (const prefix of taskPrefixes(p)) for (const [key, value] of await lt.backend.scan(prefix)) if (!isLocalOnlyKey(p, key)) seed.push({ type: 'put', key, value });
    changelogRecords(ctx.changelog, p, seed, records);
  }
  changelogRecords(ctx.changelog, p, ops, records);
  let changelogBytes = 0;
  for (let i = firstChangelog; i < records.length; i++) {
    const m = records[i].message;
    changelogBytes += (typeof m.key === 'string' ? m.key.length : (m.key?.byteLength ?? 0)) + (m.value?.byteLength ?? 0);
  }
  const positions = lt.task.resumePositions();
  const offsets: TopicPartitionOffset[] = [];
  for (const [source, topic] of ctx.sourceTopics) offsets.push({ topic, partition: p, offset: positions[source] ?? 0 });
  if (lt.regroup !== undefined) offsets.push(...lt.regroup.offsets());

  ctx.beforeSend?.(lt);
  const send = (): Promise<LastOffsets> => lt.producer.commit(records, lt.producer.exactlyOnce ? { groupId: ctx.groupId, offsets } : undefined);
  const last = await (lt.producer.exactlyOnce && ctx.transactions !== undefined ? ctx.transactions.run(send) : send());
  lt.seedChangelog = false;
  const lastChangelog = last.get(topicPartitionId(ctx.changelog, p));
  if (lastChangelog === undefined) throw new Error(`task ${p}: the broker did not report where the changelog records of the batch landed`);
  // One producer writes the partition, one request at a time: the batch's changelog records are contiguous.
  const changelogFirst = lastChangelog - (records.length - firstChangelog - 1);
  const local = lt.producer.exactlyOnce ? { changelogNext: lastChangelog + 1, changelog: ctx.changelog, changelogFirst } : { changelogNext: lastChangelog + 1, changelog: ctx.changelog };
  ops.push({ type: 'put', key: localKey(p), value: encodeLocalMeta(local) });
  await lt.backend.write(ops);
  await ctx.commitGroupOffsets?.(offsets);
  lt.task.afterDurable();
  ctx.afterCommit?.(offsets);
  return { outputs, changelogRecords: records.length - firstChangelog, changelogBytes };
}
