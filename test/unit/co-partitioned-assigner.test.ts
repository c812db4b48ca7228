/**
 * The live group's assignor gives partition P of every topic to one member (one task owns
 * them all). kafkajs' round robin, which the group used before, deals all topics' partitions
 * out in one sequence: with 3 members and two topics of 8 partitions it splits task 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coPartitionedAssignment } from '../../src/io/kafka/co-partitioned-assigner.js';

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
    const own = owners(coPartitionedAssignment(ids, topics));
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
