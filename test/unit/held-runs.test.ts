import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeldRuns } from '../../src/engine/held-runs.js';

interface Item {
  readonly time: number;
  readonly id: number;
}

const byTimeThenId = (a: Item, b: Item): number => a.time - b.time || a.id - b.id;

/** A seeded generator, so a failure is reproducible. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('HeldRuns releases exactly what a brute force holding one list releases, in the same order, over random batches and frontiers', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const rnd = lcg(seed);
    const held = new HeldRuns<Item>(byTimeThenId);
    let brute: Item[] = [];
    let id = 0;
    let frontier = 0;
    for (let step = 0; step < 400; step++) {
      // Batches of 0..300 items, some far ahead, some behind the frontier (a late upstream).
      const batch: Item[] = Array.from({ length: Math.floor(rnd() * 300) }, () => ({ time: Math.floor(frontier - 20 + rnd() * 200), id: id++ }));
      brute.push(...batch);
      held.add([...batch].reverse());
      frontier += Math.floor(rnd() * 40);
      const expected = brute.filter((x) => x.time < frontier).sort(byTimeThenId);
      brute = brute.filter((x) => x.time >= frontier);
      assert.deepEqual(held.takeBelow(frontier), expected, `seed ${seed} step ${step}`);
      assert.equal(held.size, brute.length);
      assert.deepEqual([...held].sort(byTimeThenId), [...brute].sort(byTimeThenId));
    }
    const queries = held.extract((x) => x.id % 2 === 1);
    assert.deepEqual(queries.sort(byTimeThenId), brute.filter((x) => x.id % 2 === 1).sort(byTimeThenId));
    assert.deepEqual(held.takeBelow(Infinity), brute.filter((x) => x.id % 2 === 0).sort(byTimeThenId));
    assert.equal(held.size, 0);
  }
});
