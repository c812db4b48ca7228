import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cdfOverlay } from '../../src/parity/empirical-cdf.js';
import { ksTwoSample } from '../../src/parity/ks-test.js';

test('empirical CDFs on the pooled grid, by hand', () => {
  // Pooled sorted: 1 2 2 3 4 4 6 8; with 8 points every pooled value is a grid point (duplicates once).
  const c = cdfOverlay([4, 1, 3, 2], [8, 2, 6, 4], 8)!;
  assert.deepEqual(c.x, [1, 2, 3, 4, 6, 8]);
  assert.deepEqual(c.online, [0.25, 0.5, 0.75, 1, 1, 1]);
  assert.deepEqual(c.offline, [0, 0.25, 0.25, 0.5, 0.75, 1]);
  // The largest gap on the grid is the KS statistic (scipy.stats.ks_2samp gives D = 0.5 here).
  const gap = Math.max(...c.x.map((_, i) => Math.abs(c.online[i] - c.offline[i])));
  assert.equal(gap, 0.5);
  assert.equal(ksTwoSample([4, 1, 3, 2], [8, 2, 6, 4]).statistic, 0.5);
});

test('non-finite values are left out; an empty side gives no overlay', () => {
  assert.equal(cdfOverlay([], [1, 2]), null);
  assert.equal(cdfOverlay([NaN, Infinity], [1]), null);
  const c = cdfOverlay([1, NaN, 3], [2], 3)!;
  assert.deepEqual(c.x, [1, 2, 3]);
  assert.deepEqual(c.online, [0.5, 0.5, 1]);
});
