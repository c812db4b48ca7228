/**
 * Where standby copies go: on the workers that the group's assignor hands a task to when its
 * owner fails. Checked by hand for small groups, and against the assignor itself
 * (coPartitionedAssignment over the member ids without the failed one) for every failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coPartitionedAssignment } from '../../src/io/kafka/co-partitioned-assigner.js';
import { standbyTasks } from '../../src/modes/live/standby-placement.js';

test('by hand: two workers keep each other\'s tasks; three workers each keep the tasks a failure would hand them', () => {
  assert.deepEqual(standbyTasks(8, 2, 0, 1), [1, 3, 5, 7]);
  assert.deepEqual(standbyTasks(8, 2, 1, 1), [0, 2, 4, 6]);
  // Owners 0: {0,3,6}, 1: {1,4,7}, 2: {2,5}. Member 0 fails: survivors [1,2] take 0→1, 3→2, 6→1;
  // member 1 fails: [0,2] take 1→2, 4→0, 7→2; member 2 fails: [0,1] take 2→0, 5→1.
  assert.deepEqual(standbyTasks(8, 3, 0, 1), [2, 4]);
  assert.deepEqual(standbyTasks(8, 3, 1, 1), [0, 5, 6]);
  assert.deepEqual(standbyTasks(8, 3, 2, 1), [1, 3, 7]);
  // Two copies among three workers: every task on both other workers.
  assert.deepEqual(standbyTasks(8, 3, 0, 2), [1, 2, 4, 5, 7]);
  assert.deepEqual(standbyTasks(8, 1, 0, 1), [], 'a lone worker has nobody to copy');
  assert.deepEqual(standbyTasks(8, 2, 0, 0), [], 'no copies asked');
  assert.throws(() => standbyTasks(8, 2, 0, -1), /non-negative integer/);
});

test('against the assignor: for every failure, each of its tasks lands on a worker holding a copy; copies per task are min(n, members - 1), never on the owner', () => {
  let x = 7;
  const rand = (): number => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let members = 1; members <= 5; members++) {
    for (let partitions = 1; partitions <= 12; partitions++) {
      // Member ids in no particular order: the assignor sorts them.
      const ids = Array.from({ length: members }, (_, i) => `worker-${Math.floor(rand() * 1e6)}-${i}`);
      const sorted = [...ids].sort();
      const owners = coPartitionedAssignment(ids, new Map([['in', Array.from({ length: partitions }, (_, p) => p)]]));
      const ownerOf = (p: number, of: Map<string, Record<string, number[]>>): string => [...of].find(([, a]) => (a.in ?? []).includes(p))![0];
      for (let copies = 0; copies <= 4; copies++) {
        const holders = new Map<number, string[]>();
        for (const [i, id] of sorted.entries()) for (const p of standbyTasks(partitions, members, i, copies)) holders.set(p, [...(holders.get(p) ?? []), id]);
        for (let p = 0; p < partitions; p++) {
          const owner = ownerOf(p, owners);
          const held = holders.get(p) ?? [];
          assert.equal(held.length, Math.min(copies, members - 1), `copies of task ${p} (${members} members, ${copies} asked)`);
          assert.ok(!held.includes(owner), `task ${p}: no copy on its owner`);
          if (copies === 0 || members === 1) continue;
          const after = coPartitionedAssignment(
            ids.filter((id) => id !== owner),
            new Map([['in', Array.from({ length: partitions }, (_, q) => q)]]),
          );
          assert.ok(held.includes(ownerOf(p, after)), `task ${p}: its owner after ${owner} fails holds a copy (${members} members)`);
        }
      }
    }
  }
});
