/**
 * GroupOwners against a brute-force model of its rule: a group key's owner is remembered until
 * `limit` other keys have been remembered after its last use in each of two generations; checked
 * on random streams of (group key, source key) pairs with clashes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupOwners } from '../../src/engine/group-owners.js';
import { mulberry32 } from '../helpers/prng.js';

/** The same two generations, written as plainly as possible: arrays of [group key, owner] pairs. */
class ModelOwners {
  current: Array<[string, string]> = [];
  previous: Array<[string, string]> = [];
  constructor(private readonly limit: number) {}
  conflict(g: string, s: string): string | undefined {
    if (g === s && this.current.length === 0 && this.previous.length === 0) return undefined;
    const inCurrent = this.current.find((e) => e[0] === g);
    if (inCurrent) return inCurrent[1] === s ? undefined : inCurrent[1];
    const inPrevious = this.previous.find((e) => e[0] === g);
    if (!inPrevious && g === s) return undefined;
    const owner = inPrevious ? inPrevious[1] : s;
    if (this.current.length >= this.limit) {
      this.previous = this.current;
      this.current = [];
    }
    this.current.push([g, owner]);
    return owner === s ? undefined : owner;
  }
}

test('GroupOwners answers as a plain two-generation model on random streams, and holds at most two generations', () => {
  for (const [seed, limit, keys] of [[1, 4, 12], [2, 16, 40], [3, 1, 5], [4, 64, 300]] as const) {
    const rnd = mulberry32(seed);
    const owners = new GroupOwners(limit);
    const model = new ModelOwners(limit);
    let clashes = 0;
    for (let i = 0; i < 5000; i++) {
      const g = `g${Math.floor(rnd() * keys)}`;
      // Mostly the key's own source (a refinement), sometimes another one, sometimes the group key itself.
      const r = rnd();
      const s = r < 0.1 ? g : r < 0.2 ? `s${Math.floor(rnd() * 3)}` : `s${g}`;
      const got = owners.conflict(g, s);
      assert.equal(got, model.conflict(g, s), `seed ${seed}, step ${i}: ${g} with ${s}`);
      if (got !== undefined) clashes++;
      assert.ok(owners.size <= 2 * limit, `size ${owners.size} over two generations of ${limit}`);
    }
    assert.ok(clashes > 0, 'the stream has clashes to find');
  }
});

test('a group key equal to its source key costs nothing until a clash is recorded', () => {
  const owners = new GroupOwners(10);
  for (let i = 0; i < 100; i++) assert.equal(owners.conflict(`k${i}`, `k${i}`), undefined);
  assert.equal(owners.size, 0);
  assert.equal(owners.conflict('k1', 'k2'), undefined);
  assert.equal(owners.conflict('k1', 'k1'), 'k2');
});

test('a limit that is not a positive integer is refused', () => {
  assert.throws(() => new GroupOwners(0), RangeError);
  assert.throws(() => new GroupOwners(1.5), RangeError);
});
