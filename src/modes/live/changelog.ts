/**
 * A task's changelog: one partition per task in a compacted topic named after the group and
 * the topology version. Its records are exactly the task's store operations (key = state key,
 * value = entry, null = deletion), written in the same transaction as the outputs and offsets
 * they belong to, so replaying them rebuilds the store as of the last committed batch.
 */
import type { TaskRecord } from '../../io/kafka/task-producer.js';
import type { BatchOp } from '../../state/state-backend.js';

export const changelogTopic = (group: string, version: string): string => `${group}-${version}-changelog`;

/** Seven days: a store that was offline longer than this may miss deletions, which restore tolerates (see KeyTimeline.fromParts). */
const DELETE_RETENTION_MS = String(7 * 24 * 3600 * 1000);

export const CHANGELOG_CONFIGS: Readonly<Record<string, string>> = {
  'cleanup.policy': 'compact',
  'delete.retention.ms': DELETE_RETENTION_MS,
  'message.timestamp.type': 'CreateTime',
  // Changelog records carry the producer's clock; compaction keeps the last one per key whatever it says.
  'min.compaction.lag.ms': '0',
};

/** The changelog records of a batch's store operations. */
export function changelogRecords(topic: string, partition: number, ops: readonly BatchOp[], into: TaskRecord[]): void {
  for (const op of ops) {
    into.push({ topic, message: { key: op.key, value: op.type === 'put' ? op.value : null, partition } });
  }
}
