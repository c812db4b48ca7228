/**
 * The heap check that lowers tasks' cache bounds when a thread's heap runs short
 * (src/modes/heap-pressure.ts): when it counts an episode, how long it then stays quiet, and
 * which young generation it leaves out of the heap's limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeapPressure, maxSemiSpaceBytes, oldGeneration, processFlags } from '../../src/modes/heap-pressure.js';

const MiB = 2 ** 20;

test('an episode when a full collection left the old generation half its limit or fuller; the fuller, the fewer keys kept', () => {
  // What each look finds: a reading of the last full collection, or undefined when none ran since the last look.
  const readings = [undefined, 400, undefined, 600, undefined, undefined, 499, 500, 1000, undefined];
  let i = 0;
  const pressure = new HeapPressure({ threshold: 0.5, afterCollection: () => (readings[i] === undefined ? undefined : { used: readings[i]!, limit: 1000 }), now: () => ({ used: 100, limit: 1000 }) });
  const seen: number[] = [];
  const keep: number[] = [];
  for (; i < readings.length; i++) {
    seen.push(pressure.look());
    keep.push(Number(pressure.keep.toFixed(4)));
  }
  assert.deepEqual(seen, [0, 0, 0, 1, 1, 1, 1, 2, 3, 3]);
  // Keep 0.8 of the threshold's worth: 400 / 600 of the keys; 0.8 at most (500); 400 / 1000 when the heap is full.
  assert.deepEqual(keep, [1, 1, 1, 0.6667, 0.6667, 0.6667, 0.6667, 0.8, 0.4, 0.4]);
});

test('a heap half full now, garbage included, is an episode too, at most every second look', () => {
  let used = 0;
  const pressure = new HeapPressure({ threshold: 0.5, afterCollection: () => undefined, now: () => ({ used, limit: 1000 }) });
  const seen: number[] = [];
  for (const u of [900, 900, 900, 900, 900, 900, 900, 900, 100, 100, 100, 100, 800]) {
    used = u;
    seen.push(pressure.look());
  }
  assert.deepEqual(seen, [0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4, 4, 5]);
  assert.equal(pressure.keep, 0.5); // 0.8 of the threshold's 500 over 800
});

test('the watch reads the old generation after a full collection, once', async () => {
  const { OldGenerationWatch } = await import('../../src/modes/heap-pressure.js');
  const watch = new OldGenerationWatch();
  try {
    let got: { used: number; limit: number } | undefined;
    let junk: object[] = [];
    // Old objects, then none: full collections follow (V8 decides when; a few hundred thousand rounds are plenty).
    for (let round = 0; round < 200 && got === undefined; round++) {
      for (let j = 0; j < 20_000; j++) junk.push({ j, s: `x${j}` });
      if (round % 20 === 19) junk = [];
      await new Promise((resolve) => setImmediate(resolve));
      got = watch.figures();
    }
    assert.ok(got !== undefined, 'no full collection seen');
    assert.ok(got.used > 0 && got.used < got.limit, JSON.stringify(got));
    assert.equal(watch.figures(), undefined, 'one reading per collection');
  } finally {
    watch.close();
  }
});

test('the young generation V8 reserves: three semi-spaces of the last --max-semi-space-size, 16 MiB each without one', () => {
  assert.equal(maxSemiSpaceBytes([]), 16 * MiB);
  assert.equal(maxSemiSpaceBytes(['--max-semi-space-size=64']), 64 * MiB);
  assert.equal(maxSemiSpaceBytes(['--max_semi_space_size', '32']), 32 * MiB);
  assert.equal(maxSemiSpaceBytes(['--max-semi-space-size=64', '--max-old-space-size=100', '--max-semi-space-size=8']), 8 * MiB);
  assert.equal(maxSemiSpaceBytes(['--max-semi-space-size']), 16 * MiB, 'a flag without its value changes nothing');
});

test("this process's old generation: under its limit, which leaves out the young generation", async () => {
  const { getHeapStatistics } = await import('node:v8');
  const { used, limit } = oldGeneration();
  assert.ok(used > 0 && used < limit, `${used} of ${limit}`);
  assert.equal(limit, getHeapStatistics().heap_size_limit - 3 * maxSemiSpaceBytes(processFlags()));
  assert.equal(oldGeneration(8 * MiB).limit, getHeapStatistics().heap_size_limit - 24 * MiB);
});
