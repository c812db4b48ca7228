/**
 * The live group's partition assignor: partition P of every subscribed topic goes to the same
 * member, because one task owns partition P of all its inputs and internal topics (one state,
 * one transactional id). kafkajs' round-robin assignor deals the partitions of all topics out
 * in one sequence, so with two topics of 8 partitions and 3 members partition 0 of the second
 * topic lands on another member than partition 0 of the first, and two workers claim one task.
 */
import type { PartitionAssigner } from 'kafkajs';
import kafkajs from './kafkajs-runtime.js';

const { AssignerProtocol } = kafkajs;

/** Per member, per topic, the partitions it owns: task P (all topics' partition P) to member P mod members, members in id order. */
export function coPartitionedAssignment(memberIds: readonly string[], partitionsOf: ReadonlyMap<string, readonly number[]>): Map<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const out = new Map<string, Record<string, number[]>>(members.map((m) => [m, {}]));
  if (members.length === 0) return out;
  for (const [topic, partitions] of [...partitionsOf].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const p of [...partitions].sort((a, b) => a - b)) (out.get(members[p % members.length])![topic] ??= []).push(p);
  }
  return out;
}

export const CO_PARTITIONED_ASSIGNER_NAME = 'SkewlessCoPartitioned';

export const coPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: CO_PARTITIONED_ASSIGNER_NAME,
  version: 0,
  async assign({ members, topics }) {
    const partitionsOf = new Map(topics.map((t) => [t, cluster.findTopicPartitionMetadata(t).map((m) => m.partitionId)]));
    const assignment = coPartitionedAssignment(
      members.map((m) => m.memberId),
      partitionsOf,
    );
    return [...assignment].map(([memberId, a]) => ({ memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: a, userData: Buffer.alloc(0) }) }));
  },
  protocol({ topics }) {
    return { name: CO_PARTITIONED_ASSIGNER_NAME, metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});
