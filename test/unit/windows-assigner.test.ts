import { test } from 'node:test';
import assert from 'node:assert/strict';
import { floorTo, validateWindowShape, windowsFor } from '../../src/time/window-assigner.js';

test('tumbling: epoch aligned [start, start + size); an event exactly at the end goes to the next window', () => {
  const w = { kind: 'tumbling', size: 10 } as const;
  assert.deepEqual(windowsFor(w, 0), [[0, 10]]);
  assert.deepEqual(windowsFor(w, 9), [[0, 10]]);
  assert.deepEqual(windowsFor(w, 10), [[10, 20]]); // 10 = end of [0, 10) → next window
  assert.deepEqual(windowsFor(w, 19), [[10, 20]]);
});

test('tumbling: negative times use floor, not truncation', () => {
  const w = { kind: 'tumbling', size: 10 } as const;
  // floor(-1 / 10) = floor(-0.1) = -1 → start -10 (truncation would give 0, a window not containing -1)
  assert.deepEqual(windowsFor(w, -1), [[-10, 0]]);
  // floor(-10 / 10) = -1 → [-10, 0)
  assert.deepEqual(windowsFor(w, -10), [[-10, 0]]);
  // floor(-11 / 10) = floor(-1.1) = -2 → [-20, -10)
  assert.deepEqual(windowsFor(w, -11), [[-20, -10]]);
  // no −0 start
  assert.ok(Object.is(windowsFor(w, 5)[0][0], 0));
});

test('tumbling: day windows at real epoch times', () => {
  const day = 86_400_000;
  const w = { kind: 'tumbling', size: day } as const;
  const midnight = Date.UTC(2026, 0, 1); // 2026-01-01T00:00:00Z = 1_767_225_600_000
  assert.equal(midnight, 1_767_225_600_000);
  assert.deepEqual(windowsFor(w, midnight + 123), [[midnight, midnight + day]]);
  assert.deepEqual(windowsFor(w, midnight - 1), [[midnight - day, midnight]]);
});

test('hopping: every window of size starting at a multiple of advance that contains t, ascending', () => {
  const w = { kind: 'hopping', size: 10, advance: 5 } as const;
  // t = 12: starts s ≡ 0 (mod 5) with s ≤ 12 < s + 10 → s ∈ {5, 10}
  assert.deepEqual(windowsFor(w, 12), [[5, 15], [10, 20]]);
  // t = 10: s = 0 fails (10 < 0 + 10 is false) → s ∈ {5, 10}
  assert.deepEqual(windowsFor(w, 10), [[5, 15], [10, 20]]);
  // t = 0: s ∈ {-5, 0}
  assert.deepEqual(windowsFor(w, 0), [[-5, 5], [0, 10]]);
  // t = -3: s ∈ {-10, -5}: -10 ≤ -3 < 0 and -5 ≤ -3 < 5
  assert.deepEqual(windowsFor(w, -3), [[-10, 0], [-5, 5]]);
  // size 60, advance 20, t = 45: s ∈ {0, 20, 40} (s > 45 − 60 = −15)
  assert.deepEqual(windowsFor({ kind: 'hopping', size: 60, advance: 20 }, 45), [[0, 60], [20, 80], [40, 100]]);
  // advance not dividing size (the DSL rejects it, the assigner still answers): size 10, advance 3, t = 7
  // s ≡ 0 (mod 3), -3 < s ≤ 7 → s ∈ {0, 3, 6}
  assert.deepEqual(windowsFor({ kind: 'hopping', size: 10, advance: 3 }, 7), [[0, 10], [3, 13], [6, 16]]);
  // advance = size is tumbling
  assert.deepEqual(windowsFor({ kind: 'hopping', size: 10, advance: 10 }, 10), [[10, 20]]);
});

test('floorTo is exact near window edges', () => {
  assert.equal(floorTo(29, 10), 20);
  assert.equal(floorTo(30, 10), 30);
  assert.equal(floorTo(-30, 10), -30);
  assert.equal(floorTo(-31, 10), -40);
  const big = 8_000_000_000_000_123; // beyond year 2200, still < 2^53
  assert.equal(floorTo(big, 1000), 8_000_000_000_000_000);
});

test('window shapes are validated with clear errors', () => {
  assert.throws(() => validateWindowShape({ kind: 'tumbling', size: 0 }), /tumbling window: size must be a positive/);
  assert.throws(() => validateWindowShape({ kind: 'hopping', size: 10, advance: 20 }), /advance \(20 ms\) must not exceed size \(10 ms\)/);
  assert.throws(() => validateWindowShape({ kind: 'session', gap: -1 }), /session window: gap must be a positive/);
  assert.throws(() => validateWindowShape({ kind: 'calendar', unit: 'day', timeZone: 'Mars/Olympus_Mons' }), /unknown IANA time zone "Mars\/Olympus_Mons"/);
  assert.throws(() => windowsFor({ kind: 'session', gap: 10 }, 0), /session windows/);
});
