/**
 * When undecided changelog records count as a hanging transaction: the same records, found at
 * several opens (each after the task's producer was re-initialized), for at least the given time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HangingTransactionWatch } from '../../src/modes/live/hanging-transaction.js';

test('the same undecided records at three opens over the transaction timeout are hanging; fewer opens or less time are not', () => {
  const w = new HangingTransactionWatch(60_000);
  assert.equal(w.observe(5, 304, 357, 1_000), undefined, 'first sight');
  assert.equal(w.observe(5, 304, 357, 70_000), undefined, 'two opens only, however long apart');
  assert.equal(w.observe(5, 304, 357, 70_500), 69_500, 'third open, 69.5 s after the first');
  const v = new HangingTransactionWatch(60_000);
  for (let t = 0; t < 60_000; t += 1_000) assert.equal(v.observe(1, 10, 20, t), undefined, `at ${t} ms: under the timeout`);
  assert.equal(v.observe(1, 10, 20, 60_000), 60_000);
});

test('records decided meanwhile, new ones undecided, or an open in between start the wait over; partitions are apart', () => {
  const w = new HangingTransactionWatch(10_000);
  w.observe(0, 100, 120, 0);
  w.observe(0, 100, 120, 5_000);
  w.observe(3, 7, 9, 0);
  // The committed end moved: those records were decided, these are others.
  assert.equal(w.observe(0, 121, 140, 11_000), undefined);
  assert.equal(w.observe(0, 121, 140, 12_000), undefined);
  assert.equal(w.observe(0, 121, 140, 20_000), undefined, '9 s since the new records were first seen');
  assert.equal(w.observe(0, 121, 140, 21_000), 10_000);
  // More records written past the same end (a task writing on top, another producer): a new wait.
  assert.equal(w.observe(3, 7, 12, 30_000), undefined);
  w.clear(3);
  assert.equal(w.observe(3, 7, 12, 40_000), undefined, 'the task opened in between');
  assert.equal(w.observe(3, 7, 12, 45_000), undefined);
  assert.equal(w.observe(3, 7, 12, 50_000), 10_000);
});
