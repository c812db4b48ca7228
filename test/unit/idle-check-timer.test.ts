import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdleCheckTimer, idleCheckDelay, idleCheckTick } from '../../src/modes/live/idle-check-timer.js';

test('the tick is half of idleMs between 100 ms and a second; a due time before it is waited for exactly, a millisecond more', () => {
  assert.deepEqual([50, 200, 1000, 2000, 5000, 60_000].map(idleCheckTick), [100, 100, 500, 1000, 1000, 1000]);
  assert.equal(idleCheckDelay(10_000, undefined, 1000), 1000, 'nothing due: the tick');
  assert.equal(idleCheckDelay(10_000, 10_250, 1000), 251);
  assert.equal(idleCheckDelay(10_000, 10_250.2, 1000), 252, 'rounded up: never before the due time');
  assert.equal(idleCheckDelay(10_000, 12_000, 1000), 1000, 'due after the tick: the tick');
  assert.equal(idleCheckDelay(10_000, 10_000, 1000), 1, 'due now: at once');
});

test('the timer wakes at the due time, not on its tick, and stops for good', async (t) => {
  const started = Date.now();
  const checks: number[] = [];
  let due: number | undefined = started + 150;
  const timer = new IdleCheckTimer(5000, Date.now, (now) => (due !== undefined && due > now ? due : undefined), async () => {
    checks.push(Date.now() - started);
    due = undefined;
  });
  t.after(() => timer.stop());
  assert.equal(timer.tickMs, 1000);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(checks.length, 1, `one check, at the due time: ${checks.join(', ')}`);
  assert.ok(checks[0] >= 150 && checks[0] < 400, `woke at ${checks[0]} ms, due at 150 (tick 1000)`);
  timer.stop();
  await new Promise((r) => setTimeout(r, 1100));
  assert.equal(checks.length, 1, 'no check after stop');
});
