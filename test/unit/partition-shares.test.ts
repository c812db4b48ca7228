/**
 * balancedShares: every partition goes to exactly one thread, the assignment depends on the
 * weights only, and the heaviest thread carries at most 4/3 of the best split's heaviest (the
 * bound of largest-first greedy; the best split found by trying every one).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { balancedShares } from '../../src/modes/partition-shares.js';
import { Rng } from '../helpers/prng.js';

/** The smallest possible heaviest share, over every assignment of the partitions to the threads. */
function bestMax(weights: readonly number[], workers: number): number {
  let best = Infinity;
  const loads = new Array<number>(workers).fill(0);
  const go = (p: number): void => {
    if (p === weights.length) {
      best = Math.min(best, Math.max(...loads));
      return;
    }
    for (let i = 0; i < workers; i++) {
      loads[i] += weights[p];
      go(p + 1);
      loads[i] -= weights[p];
    }
  };
  go(0);
  return best;
}

test('flights by origin on 8 partitions: the two threads carry 51.2 % and 48.8 %, not 61.5 % and 38.5 % as by partition number', () => {
  // Flights per partition of flights-3m.parquet by origin (DuckDB counts, Kafka's murmur2 of the airport).
  const weights = [385678, 714559, 273710, 581763, 288113, 207504, 208046, 340627];
  const shares = balancedShares(weights, 2);
  const load = shares.map((s) => s.reduce((n, p) => n + weights[p], 0));
  const total = weights.reduce((a, b) => a + b, 0);
  assert.ok(Math.max(...load) / total < 0.52, `shares ${JSON.stringify(shares)}: ${load.join(' / ')}`);
  assert.ok(Math.max(...load) <= (bestMax(weights, 2) * 4) / 3);
});

test('random weights: each partition exactly once, the same answer every time, the heaviest thread within 4/3 of the best split', () => {
  const rng = new Rng(9);
  for (let round = 0; round < 200; round++) {
    const workers = rng.int(1, 3);
    const weights = Array.from({ length: rng.int(1, 8) }, () => (rng.chance(0.2) ? 0 : rng.int(1, 1000)));
    const shares = balancedShares(weights, workers);
    assert.equal(shares.length, workers);
    assert.deepEqual(shares.flat().sort((a, b) => a - b), weights.map((_, p) => p));
    assert.deepEqual(balancedShares(weights, workers), shares);
    const heaviest = Math.max(...shares.map((s) => s.reduce((n, p) => n + weights[p], 0)));
    assert.ok(heaviest <= (bestMax(weights, workers) * 4) / 3 + 1e-9, `weights ${weights.join(',')} on ${workers}: ${JSON.stringify(shares)}`);
  }
});

test('partitions of equal weight (empty ones included) spread over the threads: none is left without partitions', () => {
  assert.deepEqual(balancedShares([0, 0, 0, 0], 2), [[0, 2], [1, 3]]);
  assert.deepEqual(balancedShares([9, 0, 0, 0], 2), [[0], [1, 2, 3]]);
  assert.deepEqual(balancedShares([5, 5, 0, 0, 0, 0], 3), [[0], [1], [2, 3, 4, 5]]);
  assert.deepEqual(balancedShares([0, 0, 0, 0, 0, 0], 3), [[0, 3], [1, 4], [2, 5]]);
});
