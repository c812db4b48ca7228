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

/**
 * The assignor's order of members: by instance id, then member id. A member id is new at every
 * start of a worker; its instance id is kept in its state root (live-worker.ts), so a worker
 * that restarts takes its old place, and with it its old tasks, whose local state it holds:
 * ordered by member id alone, a restarted worker of two swapped tasks with the other half the
 * time and rebuilt the other's tasks from their changelogs. A member of an older build sends
 * no instance id ('') and sorts first, by member id.
 */
export function assignorOrder(memberIds: readonly string[], instanceOf: ReadonlyMap<string, string> = new Map()): string[] {
  const key = (m: string): string => instanceOf.get(m) ?? '';
  return [...memberIds].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka !== kb) return ka < kb ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

/** Per member, per topic, the partitions it owns: task P (all topics' partition P) to member P mod members, members in assignorOrder. */
export function coPartitionedAssignment(
  memberIds: readonly string[],
  partitionsOf: ReadonlyMap<string, readonly number[]>,
  instanceOf: ReadonlyMap<string, string> = new Map(),
): Map<string, Record<string, number[]>> {
  const members = assignorOrder(memberIds, instanceOf);
  const out = new Map<string, Record<string, number[]>>(members.map((m) => [m, {}]));
  if (members.length === 0) return out;
  for (const [topic, partitions] of [...partitionsOf].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const p of [...partitions].sort((a, b) => a - b)) (out.get(members[p % members.length])![topic] ??= []).push(p);
  }
  return out;
}

export const CO_PARTITIONED_ASSIGNER_NAME = 'SkewlessCoPartitioned';

/** The instance id a member sent with its subscription ('' when none: an older build). */
export function instanceIdOf(memberMetadata: Buffer): string {
  try {
    const decoded = AssignerProtocol.MemberMetadata.decode(memberMetadata);
    return decoded?.userData?.toString('utf8') ?? '';
  } catch {
    return '';
  }
}

/** The assignor of a member whose instance id is `instanceId` (sent to the group leader with its subscription). */
export function coPartitionedAssigner(instanceId: string): PartitionAssigner {
  return ({ cluster }) => ({
    name: CO_PARTITIONED_ASSIGNER_NAME,
    version: 0,
    async assign({ members, topics }) {
      const partitionsOf = new Map(topics.map((t) => [t, cluster.findTopicPartitionMetadata(t).map((m) => m.partitionId)]));
      const assignment = coPartitionedAssignment(
        members.map((m) => m.memberId),
        partitionsOf,
        new Map(members.map((m) => [m.memberId, instanceIdOf(m.memberMetadata)])),
      );
      return [...assignment].map(([memberId, a]) => ({ memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: a, userData: Buffer.alloc(0) }) }));
    },
    protocol({ topics }) {
      return { name: CO_PARTITIONED_ASSIGNER_NAME, metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.from(instanceId, 'utf8') }) };
    },
  });
}
