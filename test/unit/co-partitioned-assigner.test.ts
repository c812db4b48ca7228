/**
 * The live group's assignor gives partition P of every topic to one member (one task owns
 * them all). kafkajs' round robin, which the group used before, deals all topics' partitions
 * out in one sequence: with 3 members and two topics of 8 partitions it splits task 0. Members
 * are ordered by the instance id kept in their state root, so a worker that restarts (a new
 * member id) gets its old tasks back; ordered by member id, it swapped with the other half the
 * time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coPartitionedAssigner, coPartitionedAssignment, decodeAssignment, decodeSubscription } from '../../src/io/kafka/co-partitioned-assigner.js';
import type { TaskClaim } from '../../src/io/kafka/task-placement.js';
import kafkajs from '../../src/io/kafka/kafkajs-runtime.js';

/** A member that owns nothing and holds nothing (a fresh group's). */
const fresh = (memberId: string, instanceId = ''): TaskClaim => ({ memberId, instanceId, owned: [], previous: [], copies: new Map(), standby: 0 });

/** Which member owns each (topic, partition). */
function owners(assignment: Map<string, Record<string, number[]>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [member, topics] of assignment) for (const [topic, ps] of Object.entries(topics)) for (const p of ps) out.set(`${topic}/${p}`, member);
  return out;
}

/** kafkajs 2.2.4's RoundRobinAssigner, as its source deals partitions (members sorted, topics' partitions in one list). */
function roundRobin(members: readonly string[], partitionsOf: ReadonlyMap<string, readonly number[]>): Map<string, Record<string, number[]>> {
  const sorted = [...members].sort();
  const out = new Map<string, Record<string, number[]>>(sorted.map((m) => [m, {}]));
  [...partitionsOf].flatMap(([topic, ps]) => ps.map((p) => [topic, p] as const)).forEach(([topic, p], i) => (out.get(sorted[i % sorted.length])![topic] ??= []).push(p));
  return out;
}

for (const [members, partitions] of [
  [3, 8],
  [2, 3],
  [5, 8],
  [1, 4],
  [4, 2],
] as const) {
  test(`${members} members, 3 topics of ${partitions} partitions: every task on one member, tasks spread evenly`, () => {
    const ids = Array.from({ length: members }, (_, i) => `member-${String.fromCharCode(107 - i)}`);
    const range = Array.from({ length: partitions }, (_, p) => p);
    const topics = new Map([
      ['flights', range],
      ['g-v-regroup', range],
      ['g-v-regroup-answers', range],
    ]);
    const own = owners(coPartitionedAssignment(ids.map((m) => fresh(m)), topics).assignment);
    const tasksPer = new Map<string, number>();
    for (const p of range) {
      const member = own.get(`flights/${p}`)!;
      assert.equal(own.get(`g-v-regroup/${p}`), member, `task ${p}`);
      assert.equal(own.get(`g-v-regroup-answers/${p}`), member, `task ${p}`);
      tasksPer.set(member, (tasksPer.get(member) ?? 0) + 1);
    }
    assert.equal(own.size, 3 * partitions, 'every partition assigned once');
    const counts = ids.map((m) => tasksPer.get(m) ?? 0);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `balanced: ${counts.join(', ')}`);
    // The old assignor split some task whenever the partition count is not a multiple of the members.
    if (partitions % members !== 0) {
      const rr = owners(roundRobin(ids, topics));
      assert.ok(range.some((p) => rr.get(`flights/${p}`) !== rr.get(`g-v-regroup/${p}`)), 'round robin splits a task here');
    }
  });
}

/** Task → member, for one topic of `partitions` partitions. */
function tasksOf(memberIds: readonly string[], instanceOf: ReadonlyMap<string, string>, partitions: number): Map<string, number[]> {
  const range = Array.from({ length: partitions }, (_, p) => p);
  const out = new Map<string, number[]>();
  for (const [member, topics] of coPartitionedAssignment(memberIds.map((m) => fresh(m, instanceOf.get(m))), new Map([['flights', range]])).assignment) out.set(member, topics.flights ?? []);
  return out;
}

test('a restarted worker (new member id, same instance id) gets its tasks back, whatever its new member id sorts as', () => {
  // Worker X (instance 'inst-1') and Y (instance 'inst-2'); X restarts twice, each time under a member id sorting elsewhere.
  const instanceOf = new Map([
    ['m-5', 'inst-1'],
    ['m-3', 'inst-2'],
    ['m-1', 'inst-1'],
    ['m-9', 'inst-1'],
  ]);
  const before = tasksOf(['m-5', 'm-3'], instanceOf, 8);
  // By hand: X first (inst-1 < inst-2), so X owns P mod 2 = 0.
  assert.deepEqual(before.get('m-5'), [0, 2, 4, 6]);
  assert.deepEqual(before.get('m-3'), [1, 3, 5, 7]);
  for (const restarted of ['m-1', 'm-9']) {
    const after = tasksOf([restarted, 'm-3'], instanceOf, 8);
    assert.deepEqual(after.get(restarted), [0, 2, 4, 6], `X as ${restarted}`);
    assert.deepEqual(after.get('m-3'), [1, 3, 5, 7], `Y while X is ${restarted}`);
  }
  // Members of an older build send no instance id: they sort first, by member id, as before.
  const mixed = tasksOf(['m-5', 'm-3', 'm-2'], new Map([['m-5', 'inst-1']]), 3);
  assert.deepEqual([mixed.get('m-2'), mixed.get('m-3'), mixed.get('m-5')], [[0], [1], [2]]);
});

test('the subscription the leader decodes carries the instance id and the tasks held; the assignment carries the standby tasks', async () => {
  const held = { instanceId: '0b0c2f1e-6a39-4f4e-9d3b-0d6c1f6a9e21', owned: [1, 4], previous: [2], copies: new Map([[3, 120]]), standby: 1 };
  const assigner = coPartitionedAssigner(() => held)({ cluster: {} as never, groupId: 'g', logger: {} as never });
  const { metadata } = assigner.protocol({ topics: ['flights'] });
  assert.equal(decodeSubscription(metadata).instanceId, '0b0c2f1e-6a39-4f4e-9d3b-0d6c1f6a9e21');
  assert.deepEqual(decodeSubscription(metadata), held);
  assert.equal(decodeSubscription(coPartitionedAssigner()({ cluster: {} as never, groupId: 'g', logger: {} as never }).protocol({ topics: ['flights'] }).metadata).instanceId, '');
  assert.equal(decodeSubscription(Buffer.from('not a subscription')).instanceId, '');

  // The leader's side, on two members' subscriptions: B owned 0 and 1, A nothing; A keeps a copy of 1.
  const sub = (s: Partial<TaskClaim>) =>
    coPartitionedAssigner(() => ({ instanceId: '', owned: [], previous: [], copies: new Map(), standby: 1, ...s }))({ cluster: {} as never, groupId: 'g', logger: {} as never }).protocol({ topics: ['flights'] }).metadata;
  const cluster = { findTopicPartitionMetadata: () => [{ partitionId: 0 }, { partitionId: 1 }, { partitionId: 2 }] };
  const leader = coPartitionedAssigner()({ cluster: cluster as never, groupId: 'g', logger: {} as never });
  const out = await leader.assign({
    members: [
      { memberId: 'b', memberMetadata: sub({ instanceId: 'inst-b', owned: [0, 1] }) },
      { memberId: 'a', memberMetadata: sub({ instanceId: 'inst-a', copies: new Map([[1, 7]]) }) },
    ],
    topics: ['flights'],
  });
  const byMember = new Map(out.map((o) => [o.memberId, decodeAssignment(o.memberAssignment)]));
  // By hand: shares 2 (to B, which owns the most) and 1; B keeps 0 and 1 (within its share), A gets 2;
  // copies: of 0 and 1 on A (the only other member), of 2 on B.
  assert.deepEqual(byMember.get('b'), { assignment: { flights: [0, 1] }, standby: [2] });
  assert.deepEqual(byMember.get('a'), { assignment: { flights: [2] }, standby: [0, 1] });
  // A leader of an earlier build sent no placement (empty user data): the partitions read, the standbys not.
  const old = kafkajs.AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: { flights: [1] }, userData: Buffer.alloc(0) });
  assert.deepEqual(decodeAssignment(old), { assignment: { flights: [1] }, standby: undefined });
  assert.equal(decodeAssignment(Buffer.from('garbage')), undefined);
});
