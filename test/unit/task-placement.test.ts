/**
 * The live group's task placement (task-placement.ts): sticky, state-aware, deterministic.
 * Expected placements are worked out by hand below; the invariants are checked over seeded
 * random groups against a brute force over every choice of the larger shares (the fewest
 * tasks that must move). Placing task P on member P mod M (the placement before) moved tasks
 * between the survivors of every failure in a group of three or more.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { placeTasks, type TaskClaim } from '../../src/io/kafka/task-placement.js';
import { SeededRandom } from '../../src/gen/seeded-random.js';

const claim = (memberId: string, c: Partial<TaskClaim> = {}): TaskClaim => ({ memberId, instanceId: `inst-${memberId}`, owned: [], previous: [], copies: new Map(), standby: 0, ...c });
const range = (n: number): number[] => Array.from({ length: n }, (_, p) => p);
const active = (claims: readonly TaskClaim[], n: number): Record<string, readonly number[]> => Object.fromEntries(placeTasks(claims, range(n)).active);
const standby = (claims: readonly TaskClaim[], n: number): Record<string, readonly number[]> => Object.fromEntries(placeTasks(claims, range(n)).standby);

test('a fresh group gets task P on member P mod M, members ordered by instance id', () => {
  // Instance ids sort c < a < b: c is member 0.
  const claims = [claim('a', { instanceId: 'i-2' }), claim('b', { instanceId: 'i-3' }), claim('c', { instanceId: 'i-1' })];
  assert.deepEqual(active(claims, 8), { c: [0, 3, 6], a: [1, 4, 7], b: [2, 5] });
  assert.deepEqual(active([claim('a')], 3), { a: [0, 1, 2] });
  assert.deepEqual(active([claim('a'), claim('b'), claim('c')], 2), { a: [0], b: [1], c: [] });
});

test('a failure moves only the dead member\'s tasks, each to the survivor with the most current standby copy', () => {
  // Before: a [0, 3, 6], b [1, 4, 7], c [2, 5]; c dies. Copies of 2: a at offset 50, b at 40; of 5: b only.
  const a = claim('a', { owned: [0, 3, 6], copies: new Map([[2, 50], [4, 10]]), standby: 1 });
  const b = claim('b', { owned: [1, 4, 7], copies: new Map([[2, 40], [5, 70]]), standby: 1 });
  // Shares 4 and 4: each keeps its three; 2 → a (50 > 40), 5 → b (the only copy).
  assert.deepEqual(active([a, b], 8), { a: [0, 2, 3, 6], b: [1, 4, 5, 7] });
  // P mod 2 would have moved 3 to b and 4 to a as well.
  // Copies: each task's copy on the other survivor.
  assert.deepEqual(standby([a, b], 8), { a: [1, 4, 5, 7], b: [0, 2, 3, 6] });
});

test('a restarted worker gets back the tasks it owned when it stopped', () => {
  // a stopped; b took all eight. a rejoins with its previous tasks 0, 3, 6 (stores on its disk).
  const b = claim('b', { owned: range(8) });
  const a = claim('a', { previous: [0, 3, 6] });
  // Shares 4 and 4; b gives up first what a held (0, 3, 6), then, of the rest, one whose home (P mod 2; a is
  // member 0) is not b: it keeps its homes 1, 5, 7 and the lowest other, 2, and a gets 0, 3, 4, 6.
  assert.deepEqual(active([a, b], 8), { a: [0, 3, 4, 6], b: [1, 2, 5, 7] });
  // b first in order (a's instance id 'z'): b's homes are the even tasks; it keeps 2 and 4, then 1 and 5.
  assert.deepEqual(active([claim('a', { instanceId: 'z', previous: [0, 3, 6] }), b], 8), { a: [0, 3, 6, 7], b: [1, 2, 4, 5] });
});

test('a new member takes tasks from the members that own the most, and two claims of one task go to the first in order', () => {
  const a = claim('a', { owned: [0, 1, 2, 3, 4] });
  const b = claim('b', { owned: [4, 5, 6, 7] }); // 4 claimed twice: a is first
  const c = claim('c');
  // Shares: 8 over 3 = 3, 3, 2; the 3s to a (5 claimed) and b (3 claimed). a (member 0) keeps its homes 0 and 3
  // and the lowest other, 1; b keeps 5, 6, 7; c gets 2 and 4.
  assert.deepEqual(active([c, b, a], 8), { a: [0, 1, 3], b: [5, 6, 7], c: [2, 4] });
});

test('a task\'s first standby copy goes where its owner\'s failure would send it; further copies prefer a member holding it', () => {
  const claims = [
    claim('a', { owned: [0, 1], standby: 1, copies: new Map([[2, 5], [3, 5]]) }),
    claim('b', { owned: [2, 3], standby: 1 }),
    claim('c', { owned: [4, 5], standby: 1 }),
  ];
  // Each keeps its two. Were a to fail, b and c (shares 3 and 3) would take 0 and 1 by their homes (P mod 2, b
  // first): 0 → b, 1 → c. Were b to fail: 2 → a, 3 → c. Were c to fail: 4 → a, 5 → b. One copy each, there.
  assert.deepEqual(standby(claims, 6), { a: [2, 4], b: [0, 5], c: [1, 3] });
  // Two copies: the second to a member holding the task's state (d holds 0), else the fewest copies, then order.
  const four = ['a', 'b', 'c', 'd'].map((id, i) => claim(id, { owned: [i], standby: 2, copies: id === 'd' ? new Map([[0, 9]]) : new Map() }));
  // Failovers: of the three left, the first in order has the larger share (2 of 4) and the only room, so
  // 0 → b (a failed), 1, 2 and 3 → a. Second copies (the owner and the first left out): 0 → d (holds it);
  // 1 → c (c 0 copies, d 1); 2 → b (b and d 1 each: order); 3 → c (b is at the even share, 2).
  assert.deepEqual(standby(four, 4), { a: [1, 2, 3], b: [0, 2], c: [1, 3], d: [0] });
  // A member that keeps no copies (standby 0) gets none; with one keeper there is nobody to copy for the others.
  assert.deepEqual(standby([claim('a', { standby: 1 }), claim('b')], 4), { a: [], b: [] });
  assert.deepEqual(standby([claim('a', { standby: 2 }), claim('b', { standby: 2 }), claim('c', { standby: 2 })], 3), { a: [1, 2], b: [0, 2], c: [0, 1] });
});

test('with one copy per task, any single failure opens every one of the dead member\'s tasks on a copy and moves no other task (groups of 3 to 6, 3 to 16 tasks)', () => {
  let scenarios = 0;
  for (let m = 3; m <= 6; m++) {
    for (let n = m; n <= 16; n++) {
      const ids = range(m).map((i) => `m${i}`);
      const before = placeTasks(ids.map((id) => claim(id, { standby: 1 })), range(n));
      for (const dead of ids) {
        const survivors = ids.filter((id) => id !== dead).map((id) => claim(id, { owned: before.active.get(id)!, copies: new Map(before.standby.get(id)!.map((p) => [p, 100])), standby: 1 }));
        const after = placeTasks(survivors, range(n));
        for (const s of survivors) for (const p of s.owned) assert.ok(after.active.get(s.memberId)!.includes(p), `m=${m} n=${n}, ${dead} failed: ${s.memberId} lost task ${p}`);
        for (const p of before.active.get(dead)!) {
          const [taker] = [...after.active].find(([, list]) => list.includes(p))!;
          assert.ok(before.standby.get(taker)!.includes(p), `m=${m} n=${n}, ${dead} failed: task ${p} went to ${taker}, which kept no copy`);
        }
        scenarios++;
      }
    }
  }
  assert.equal(scenarios, 220);
});

/** The most claimed tasks any balanced placement can leave with their claimant: every choice of which members get ⌈N/M⌉. */
function bestKept(claimedCounts: readonly number[], n: number): number {
  const m = claimedCounts.length;
  const base = Math.floor(n / m);
  const extra = n % m;
  let best = 0;
  for (let mask = 0; mask < 1 << m; mask++) {
    let bits = 0;
    for (let i = 0; i < m; i++) bits += (mask >> i) & 1;
    if (bits !== extra) continue;
    let kept = 0;
    for (let i = 0; i < m; i++) kept += Math.min(claimedCounts[i], base + ((mask >> i) & 1));
    best = Math.max(best, kept);
  }
  return best;
}

test('over 2,000 random groups: each task once, shares even, the fewest moves, copies apart from owners, the same whatever the order of the subscriptions', () => {
  const rng = new SeededRandom(20261206);
  const rnd = (): number => rng.next();
  for (let round = 0; round < 2000; round++) {
    const n = 1 + Math.floor(rnd() * 12);
    const m = 1 + Math.floor(rnd() * 5);
    const copiesAsked = Math.floor(rnd() * 3);
    const claims: TaskClaim[] = [];
    for (let i = 0; i < m; i++) {
      const pick = (p: number): number[] => range(n).filter(() => rnd() < p);
      claims.push(
        claim(`m${i}`, {
          instanceId: `i${Math.floor(rnd() * 3)}`,
          owned: pick(0.35),
          previous: pick(0.1),
          copies: new Map(pick(0.2).map((p) => [p, Math.floor(rnd() * 100)])),
          standby: rnd() < 0.8 ? copiesAsked : 0,
        }),
      );
    }
    const what = `round ${round}: ${JSON.stringify(claims.map((c) => ({ ...c, copies: [...c.copies] })))}`;
    const placed = placeTasks(claims, range(n));
    const owner = new Map<number, string>();
    for (const [id, tasks] of placed.active) for (const p of tasks) {
      assert.ok(!owner.has(p), `task ${p} twice; ${what}`);
      owner.set(p, id);
    }
    assert.equal(owner.size, n, what);
    const counts = [...placed.active.values()].map((t) => t.length);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `shares ${counts}; ${what}`);

    // Claims as the placement resolves them (a task claimed twice: the first member in order).
    const order = [...claims].sort((a, b) => (a.instanceId !== b.instanceId ? (a.instanceId < b.instanceId ? -1 : 1) : a.memberId < b.memberId ? -1 : 1));
    const claimant = new Map<number, string>();
    for (const c of order) for (const p of c.owned) if (!claimant.has(p)) claimant.set(p, c.memberId);
    const claimedCounts = order.map((c) => [...claimant.values()].filter((id) => id === c.memberId).length);
    const kept = [...claimant].filter(([p, id]) => owner.get(p) === id).length;
    assert.equal(kept, bestKept(claimedCounts, n), `tasks kept by their owners; ${what}`);

    const keepers = claims.filter((c) => c.standby > 0).length;
    const want = Math.min(Math.max(0, ...claims.map((c) => c.standby)), Math.max(0, keepers - 1));
    const holders = new Map<number, string[]>();
    for (const [id, tasks] of placed.standby) {
      const c = claims.find((x) => x.memberId === id)!;
      if (tasks.length > 0) assert.ok(c.standby > 0, `copies on a member that keeps none; ${what}`);
      for (const p of tasks) holders.set(p, [...(holders.get(p) ?? []), id]);
    }
    for (const p of range(n)) {
      const h = holders.get(p) ?? [];
      assert.equal(h.length, want, `copies of ${p}; ${what}`);
      assert.ok(!h.includes(owner.get(p)!), `a copy of ${p} on its owner; ${what}`);
    }

    const shuffled = [...claims].sort(() => rnd() - 0.5);
    const again = placeTasks(shuffled, [...range(n)].reverse());
    assert.deepEqual(Object.fromEntries(again.active), Object.fromEntries(placed.active), what);
    assert.deepEqual(Object.fromEntries(again.standby), Object.fromEntries(placed.standby), what);
  }
});
