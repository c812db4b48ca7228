/**
 * ReadTileCache is a cache: whatever the sequence of sets, invalidations and drops, a get gives
 * either nothing or exactly what was last set for that tile (checked against a plain Map), and
 * the tiles a read walks through stay cached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ReadTileCache } from '../../src/time/read-tile-cache.js';
import { Rng } from '../helpers/prng.js';

test('a get gives nothing or the value last set for the tile, never another, through jumps, prepends, invalidations and drops', () => {
  const rng = new Rng(5);
  const cache = new ReadTileCache<string>(8);
  const model = new Map<number, string | null>();
  let around = 1000;
  let hits = 0;
  let known = 0;
  for (let step = 0; step < 20_000; step++) {
    const r = rng.int(0, 99);
    if (r < 3) around += rng.int(-200, 200); // a jump: a key quiet for long, or a late read
    const k = around + rng.int(-12, 12);
    if (r < 60) {
      const v = rng.chance(0.2) ? null : `v${step}`;
      cache.set(k, v);
      model.set(k, v);
    } else if (r < 70) {
      cache.invalidate(k);
      model.delete(k);
    } else if (r < 72) {
      cache.dropBelow(k);
      for (const key of [...model.keys()]) if (key < k) model.delete(key);
    } else {
      const got = cache.get(k);
      if (model.has(k)) known++;
      if (got !== undefined) {
        hits++;
        assert.equal(got, model.get(k), `tile ${k} at step ${step}`);
      }
    }
    if (rng.chance(0.01)) around++;
  }
  assert.ok(hits > known * 0.6, `the cache keeps most of what it was given (${hits} hits of ${known})`);
});

test('consecutive tiles within the span stay cached; the oldest go once it is exceeded', () => {
  const cache = new ReadTileCache<number>(4);
  for (let k = 100; k < 108; k++) cache.set(k, k);
  for (let k = 100; k < 108; k++) assert.equal(cache.get(k), k);
  for (let k = 108; k < 117; k++) cache.set(k, k);
  assert.equal(cache.get(116), 116);
  assert.equal(cache.get(100), undefined, 'more than 4 spans held: the oldest dropped');
  assert.ok(cache.size <= 16);
  assert.equal(cache.get(109), 109);
  cache.set(107, -1); // just before the kept ones: prepended
  assert.equal(cache.get(107), -1);
  assert.equal(cache.get(116), 116);
  cache.set(50, -2); // far before: start over there
  assert.equal(cache.get(50), -2);
  assert.equal(cache.get(116), undefined);
});
