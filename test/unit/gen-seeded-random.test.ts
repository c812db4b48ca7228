import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AliasTable, SeededRandom, mix32, seedWord } from '../../src/gen/seeded-random.js';

function take(rng: SeededRandom, n: number): number[] {
  return Array.from({ length: n }, () => rng.nextUint32());
}

test('same seed gives the same sequence, different seeds and streams differ', () => {
  assert.deepEqual(take(new SeededRandom(42), 1000), take(new SeededRandom(42), 1000));
  assert.notDeepEqual(take(new SeededRandom(42), 100), take(new SeededRandom(43), 100));
  assert.notDeepEqual(take(new SeededRandom(42, 1), 100), take(new SeededRandom(42, 2), 100));
  // seeds beyond 32 bits and fractional seeds are distinct too
  assert.notDeepEqual(take(new SeededRandom(2 ** 32), 10), take(new SeededRandom(0), 10));
  assert.notDeepEqual(take(new SeededRandom(0.5), 10), take(new SeededRandom(0), 10));
  assert.throws(() => new SeededRandom(Number.NaN), RangeError);
  assert.equal(seedWord(7), seedWord(7));
});

test('known first outputs (guards against accidental algorithm changes)', () => {
  assert.deepEqual(take(new SeededRandom(1), 4), [4152344998, 752238906, 1228849635, 3489231637]);
});

test('uniform floats, ints and normals have the expected ranges and moments', () => {
  const rng = new SeededRandom(9);
  let sum = 0;
  let sumN = 0;
  let sumN2 = 0;
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    assert.ok(u >= 0 && u < 1);
    sum += u;
    const k = rng.int(3, 7);
    assert.ok(Number.isInteger(k) && k >= 3 && k < 7);
    const z = rng.normal();
    sumN += z;
    sumN2 += z * z;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.01);
  assert.ok(Math.abs(sumN / n) < 0.02);
  assert.ok(Math.abs(sumN2 / n - 1) < 0.03);
  const e = Array.from({ length: n }, () => rng.exponential(5));
  assert.ok(Math.abs(e.reduce((a, b) => a + b, 0) / n - 5) < 0.15);
});

test('alias table samples proportionally to weights', () => {
  const rng = new SeededRandom(3);
  const table = new AliasTable([1, 0, 3, 6]);
  const counts = [0, 0, 0, 0];
  const n = 200_000;
  for (let i = 0; i < n; i++) counts[table.sample(rng)]!++;
  assert.equal(counts[1], 0);
  assert.ok(Math.abs(counts[0]! / n - 0.1) < 0.005);
  assert.ok(Math.abs(counts[2]! / n - 0.3) < 0.005);
  assert.ok(Math.abs(counts[3]! / n - 0.6) < 0.005);
  assert.throws(() => new AliasTable([]), RangeError);
  assert.throws(() => new AliasTable([0, 0]), RangeError);
});

test('mix32 is collision-free on a range (bijective mixer) and bytes are deterministic', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 100_000; i++) seen.add(mix32(i));
  assert.equal(seen.size, 100_000);
  assert.deepEqual(new SeededRandom(5).bytes(16), new SeededRandom(5).bytes(16));
  assert.equal(new SeededRandom(5).bytes(7).length, 7);
});
