/**
 * The live group's partition assignor: partition P of every subscribed topic goes to the same
 * member, because one task owns partition P of all its inputs and internal topics (one state,
 * one transactional id). kafkajs' round-robin assignor deals the partitions of all topics out
 * in one sequence, so with two topics of 8 partitions and 3 members partition 0 of the second
 * topic lands on another member than partition 0 of the first, and two workers claim one task.
 *
 * Which member gets which task, and who keeps standby copies of it, is task-placement.ts'
 * sticky placement, from what each member sends with its subscription (its instance id, the
 * tasks it owns, owned before its restart and keeps copies of); the leader sends each member
 * its standby tasks with its assignment.
 */
import type { PartitionAssigner } from 'kafkajs';
import kafkajs from './kafkajs-runtime.js';
import { placeTasks, type TaskClaim, type TaskPlacement } from './task-placement.js';

const { AssignerProtocol } = kafkajs;

export const CO_PARTITIONED_ASSIGNER_NAME = 'SkewlessCoPartitioned';

/** What a member tells the group's leader at each join (task-placement.ts' TaskClaim, without the member id). */
export type MemberSubscription = Omit<TaskClaim, 'memberId'>;

/** A member that sent nothing readable, or a worker that holds nothing: placed like a new member. */
export const EMPTY_SUBSCRIPTION: MemberSubscription = { instanceId: '', owned: [], previous: [], copies: new Map(), standby: 0 };

const isTaskList = (v: unknown): v is number[] => Array.isArray(v) && v.every((p) => Number.isInteger(p) && p >= 0);

/** The subscription's user data: versioned JSON (a subscription of an earlier build held the instance id alone). */
function encodeSubscription(s: MemberSubscription): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, instance: s.instanceId, owned: s.owned, previous: s.previous, copies: [...s.copies], standby: s.standby }), 'utf8');
}

/** A member's subscription as sent (nothing owned or held when it cannot be read: the member is placed like a new one). */
export function decodeSubscription(memberMetadata: Buffer): MemberSubscription {
  let userData: Buffer | undefined;
  try {
    userData = AssignerProtocol.MemberMetadata.decode(memberMetadata)?.userData;
  } catch {
    return EMPTY_SUBSCRIPTION;
  }
  const text = userData?.toString('utf8') ?? '';
  if (!text.startsWith('{')) return { ...EMPTY_SUBSCRIPTION, instanceId: text };
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    const copies = Array.isArray(o.copies) ? o.copies.filter((c): c is [number, number] => isTaskList(c) && c.length === 2) : [];
    return {
      instanceId: typeof o.instance === 'string' ? o.instance : '',
      owned: isTaskList(o.owned) ? o.owned : [],
      previous: isTaskList(o.previous) ? o.previous : [],
      copies: new Map(copies),
      standby: Number.isInteger(o.standby) && (o.standby as number) > 0 ? (o.standby as number) : 0,
    };
  } catch {
    return EMPTY_SUBSCRIPTION;
  }
}

/**
 * A member's assignment as the leader sent it: its partitions per topic and the tasks it keeps
 * standby copies of (undefined when the leader sent none: a leader of an earlier build, which
 * placed task P on member P mod M). Undefined altogether when it cannot be read.
 */
export function decodeAssignment(memberAssignment: Buffer): { assignment: Record<string, number[]>; standby: number[] | undefined } | undefined {
  let decoded: ReturnType<typeof AssignerProtocol.MemberAssignment.decode>;
  try {
    decoded = AssignerProtocol.MemberAssignment.decode(memberAssignment);
  } catch {
    return undefined;
  }
  if (decoded === null) return undefined;
  let standby: number[] | undefined;
  try {
    const o = JSON.parse(decoded.userData?.toString('utf8') ?? '') as Record<string, unknown>;
    if (o.v === 1 && isTaskList(o.standby)) standby = o.standby;
  } catch {
    standby = undefined;
  }
  return { assignment: decoded.assignment, standby };
}

/** Per member, per topic, the partitions it owns (task P is partition P of every topic), and its standby tasks. */
export function coPartitionedAssignment(
  claims: readonly TaskClaim[],
  partitionsOf: ReadonlyMap<string, readonly number[]>,
): { assignment: Map<string, Record<string, number[]>>; placement: TaskPlacement } {
  const placement = placeTasks(claims, [...partitionsOf.values()].flat());
  const topics = [...partitionsOf].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const assignment = new Map<string, Record<string, number[]>>();
  for (const [memberId, tasks] of placement.active) {
    const mine: Record<string, number[]> = {};
    for (const [topic, partitions] of topics) {
      const here = new Set(partitions);
      const list = tasks.filter((p) => here.has(p));
      if (list.length > 0) mine[topic] = list;
    }
    assignment.set(memberId, mine);
  }
  return { assignment, placement };
}

/** The assignor of a member; `subscription` is asked at each join (the group's leader receives it). */
export function coPartitionedAssigner(subscription: () => MemberSubscription = () => EMPTY_SUBSCRIPTION): PartitionAssigner {
  return ({ cluster }) => ({
    name: CO_PARTITIONED_ASSIGNER_NAME,
    version: 0,
    async assign({ members, topics }) {
      const partitionsOf = new Map(topics.map((t) => [t, cluster.findTopicPartitionMetadata(t).map((m) => m.partitionId)]));
      const claims = members.map((m) => ({ memberId: m.memberId, ...decodeSubscription(m.memberMetadata) }));
      const { assignment, placement } = coPartitionedAssignment(claims, partitionsOf);
      return [...assignment].map(([memberId, a]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment: a,
          userData: Buffer.from(JSON.stringify({ v: 1, standby: placement.standby.get(memberId) ?? [] }), 'utf8'),
        }),
      }));
    },
    protocol({ topics }) {
      return { name: CO_PARTITIONED_ASSIGNER_NAME, metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: encodeSubscription(subscription()) }) };
    },
  });
}
