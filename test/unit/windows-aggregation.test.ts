import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WindowedAggregation, type WindowRow, type WindowedAggregationSpec } from '../../src/ops/windowed-aggregation.js';
import type { AggValue } from '../../src/ops/aggregation.js';
import { countAgg } from '../../src/ops/aggregations/count.js';
import { countDistinctAgg } from '../../src/ops/aggregations/count-distinct.js';
import { extremeAgg } from '../../src/ops/aggregations/extreme.js';
import { lastAgg } from '../../src/ops/aggregations/last.js';
import { sumAgg } from '../../src/ops/aggregations/sum.js';
import { varianceAgg } from '../../src/ops/aggregations/variance.js';

/** count() and sum(column 0). */
const countSum = [
  { def: countAgg(false), column: -1 },
  { def: sumAgg('sum'), column: 0 },
];

function op(window: WindowedAggregationSpec['window'], emit: 'final' | 'update', grace: number): WindowedAggregation {
  return new WindowedAggregation({ window, emit, grace, aggs: countSum });
}

/** Feeds events keeping stream time = max event time seen; returns apply's results. */
class Feeder {
  st = -Infinity;
  seq = 0;
  readonly out: WindowRow[] = [];
  constructor(readonly op: WindowedAggregation) {}
  ev(key: string, t: number, ...vals: AggValue[]): boolean {
    this.st = Math.max(this.st, t);
    return this.op.apply(key, t, this.seq++, vals, this.st, this.out);
  }
  advance(st = this.st): WindowRow[] {
    this.st = Math.max(this.st, st);
    this.op.advance(st, this.out);
    return this.take();
  }
  take(): WindowRow[] {
    return this.out.splice(0, this.out.length);
  }
}

const row = (key: string, windowStart: number, windowEnd: number, values: AggValue[], final = true): WindowRow => ({ key, windowStart, windowEnd, values, final });

test('tumbling, final emission: an event exactly at the end goes to the next window; rows at close', () => {
  const f = new Feeder(op({ kind: 'tumbling', size: 10 }, 'final', 0));
  assert.equal(f.ev('a', 0, 1), true);
  assert.equal(f.ev('a', 9, 2), true);
  assert.deepEqual(f.advance(), []); // stream time 9 < 10 + 0
  assert.equal(f.ev('a', 10, 4), true); // [10, 20)
  assert.deepEqual(f.take(), []); // nothing from apply in 'final' mode
  // stream time 10 ≥ end 10 + grace 0 → [0, 10) closes: count 2, sum 1 + 2 = 3
  assert.deepEqual(f.advance(), [row('a', 0, 10, [2, 3])]);
  assert.deepEqual(f.advance(19), []);
  assert.deepEqual(f.advance(20), [row('a', 10, 20, [1, 4])]);
  assert.equal(f.op.openWindows, 0);
  assert.equal(f.op.encodeKey('a'), null);
});

test('tumbling, update emission: a row per event, nothing at close', () => {
  const f = new Feeder(op({ kind: 'tumbling', size: 10 }, 'update', 0));
  f.ev('a', 1, 5);
  assert.deepEqual(f.take(), [row('a', 0, 10, [1, 5], false)]);
  f.ev('a', 2, 7);
  assert.deepEqual(f.take(), [row('a', 0, 10, [2, 12], false)]); // 5 + 7
  f.ev('b', 11, 1);
  assert.deepEqual(f.take(), [row('b', 10, 20, [1, 1], false)]);
  assert.deepEqual(f.advance(100), []);
  assert.equal(f.op.openWindows, 0);
  assert.deepEqual(f.op.dirtyKeys(), ['a', 'b']);
  assert.equal(f.op.encodeKey('a'), null);
});

test('grace: an event within grace updates a window whose end has passed; beyond grace it is late', () => {
  const f = new Feeder(op({ kind: 'tumbling', size: 10 }, 'final', 5));
  f.ev('a', 3, 1);
  f.ev('a', 12, 10); // stream time 12
  assert.deepEqual(f.advance(), []); // [0, 10) closes at 10 + 5 = 15
  assert.equal(f.ev('a', 8, 2), true); // 12 < 15: still open
  // at stream time 14 an event for [0, 10) is still on time …
  assert.equal(f.op.apply('a', 9, 100, [4], 14, f.out), true);
  // … at stream time 15 it is late: 15 ≥ 10 + 5, even though advance has not run
  f.op.clearDirty();
  const before = f.op.encodeKey('a');
  assert.equal(f.op.apply('a', 9, 101, [1000], 15, f.out), false);
  assert.deepEqual(f.op.dirtyKeys(), []); // a late event changes nothing
  assert.deepEqual(f.op.encodeKey('a'), before);
  f.ev('a', 16, 20); // stream time 16
  // [0, 10): events 3, 8, 9 → count 3, sum 1 + 2 + 4 = 7
  assert.deepEqual(f.advance(), [row('a', 0, 10, [3, 7])]);
  assert.equal(f.ev('a', 9, 1), false); // late: returned to the engine
  // [10, 20): events 12, 16 → count 2, sum 30; closes at 20 + 5 = 25
  assert.deepEqual(f.advance(24), []);
  assert.deepEqual(f.advance(25), [row('a', 10, 20, [2, 30])]);
});

test('hopping: an event updates every open window containing it and is late only when all are closed', () => {
  const f = new Feeder(op({ kind: 'hopping', size: 10, advance: 5 }, 'update', 0));
  assert.equal(f.ev('a', 12, 1), true);
  // 12 ∈ [5, 15) and [10, 20), ascending start
  assert.deepEqual(f.take(), [row('a', 5, 15, [1, 1], false), row('a', 10, 20, [1, 1], false)]);
  assert.equal(f.ev('a', 16, 2), true); // stream time 16
  assert.deepEqual(f.take(), [row('a', 10, 20, [2, 3], false), row('a', 15, 25, [1, 2], false)]);
  // 13 ∈ [5, 15) (closed: 15 + 0 ≤ 16) and [10, 20) (open): applied to [10, 20) only
  assert.equal(f.ev('a', 13, 4), true);
  assert.deepEqual(f.take(), [row('a', 10, 20, [3, 7], false)]); // events 12, 16, 13: sum 1 + 2 + 4
  // 4 ∈ [-5, 5) and [0, 10): both closed → late
  assert.equal(f.ev('a', 4, 8), false);
  assert.deepEqual(f.take(), []);
});

test('hopping, final emission: windows close in end order with their own contents', () => {
  const f = new Feeder(op({ kind: 'hopping', size: 10, advance: 5 }, 'final', 0));
  f.ev('a', 12, 1);
  f.ev('a', 16, 2);
  // stream time 16: [5, 15) (only event 12) has closed
  assert.deepEqual(f.advance(), [row('a', 5, 15, [1, 1])]);
  assert.equal(f.ev('a', 13, 4), true); // only [10, 20) is open
  // [10, 20): 12, 16, 13 → count 3, sum 7; [15, 25): 16 → count 1, sum 2
  assert.deepEqual(f.advance(30), [row('a', 10, 20, [3, 7]), row('a', 15, 25, [1, 2])]);
});

test('close order across keys: ascending windowEnd, then windowStart, then key', () => {
  const f = new Feeder(op({ kind: 'tumbling', size: 10 }, 'final', 20));
  // stream times 1, 15, 15, 15, 15, 25: every window is still open (ends 10/20/30 + grace 20 > 25)
  for (const [k, t] of [['b', 1], ['a', 15], ['c', 3], ['a', 2], ['c', 11], ['b', 25]] as const) assert.equal(f.ev(k, t, t), true);
  // advance(30) closes windows with end + 20 ≤ 30 → end 10: a, b, c in key order
  assert.deepEqual(f.advance(30), [row('a', 0, 10, [1, 2]), row('b', 0, 10, [1, 1]), row('c', 0, 10, [1, 3])]);
  // end 20: a (15), c (11); end 30: b (25)
  assert.deepEqual(f.advance(1000), [row('a', 10, 20, [1, 15]), row('c', 10, 20, [1, 11]), row('b', 20, 30, [1, 25])]);
});

test('aggregations inside a window: count, sum, mean, min, max, stddev, countDistinct, last', () => {
  const w = new WindowedAggregation({
    window: { kind: 'tumbling', size: 100 },
    emit: 'final',
    grace: 0,
    aggs: [
      { def: countAgg(false), column: -1 },
      { def: sumAgg('sum'), column: 0 },
      { def: sumAgg('mean'), column: 0 },
      { def: extremeAgg('min'), column: 0 },
      { def: extremeAgg('max'), column: 0 },
      { def: varianceAgg('stddev', true), column: 0 },
      { def: countDistinctAgg(), column: 1 },
      { def: lastAgg('string'), column: 1 },
    ],
  });
  const f = new Feeder(w);
  f.ev('k', 10, 2, 'x');
  f.ev('k', 20, 4, 'y');
  f.ev('k', 30, null, 'x');
  f.ev('k', 40, 9, null);
  f.ev('k', 50, 5, 'z');
  f.ev('k', 45, 1, 'w'); // out of order inside the window
  f.ev('k', 150, 0, 'q'); // next window; closes [0, 100)
  const [r] = f.advance();
  assert.deepEqual([r.key, r.windowStart, r.windowEnd, r.final], ['k', 0, 100, true]);
  const [count, sum, mean, min, max, sd, distinct, last] = r.values;
  assert.equal(count, 6); // six events (count() counts events, nulls included)
  assert.equal(sum, 21); // 2 + 4 + 9 + 5 + 1 (null skipped)
  assert.equal(mean, 4.2); // 21 / 5 values
  assert.equal(min, 1);
  assert.equal(max, 9);
  // deviations from 4.2: −2.2, −0.2, 4.8, 0.8, −3.2 → squares 4.84 + 0.04 + 23.04 + 0.64 + 10.24 = 38.8
  // sample variance 38.8 / 4 = 9.7 → stddev √9.7 ≈ 3.1144823004794873
  assert.ok(Math.abs((sd as number) - 3.1144823004794873) < 1e-12, `stddev ${String(sd)}`);
  assert.equal(distinct, 4); // x, y, z, w (null ignored)
  assert.equal(last, 'z'); // greatest event time with a non-null value is 50 ('z'), not the later-applied 45
});

test('persistence: dirty keys in first-touched order; encodeKey null when no window is left', () => {
  const f = new Feeder(op({ kind: 'tumbling', size: 10 }, 'final', 0));
  f.ev('m', 1, 1);
  f.ev('a', 2, 1);
  f.ev('m', 3, 1);
  assert.deepEqual(f.op.dirtyKeys(), ['m', 'a']);
  f.op.clearDirty();
  assert.deepEqual(f.op.dirtyKeys(), []);
  f.ev('z', 12, 1); // stream time 12: closes [0, 10) of m and a
  assert.deepEqual(f.advance(), [row('a', 0, 10, [1, 1]), row('m', 0, 10, [2, 2])]);
  assert.deepEqual(f.op.dirtyKeys(), ['z', 'a', 'm']); // closing is a change too (in close order)
  assert.equal(f.op.encodeKey('a'), null);
  assert.equal(f.op.encodeKey('m'), null);
  const bytes = f.op.encodeKey('z');
  assert.ok(bytes instanceof Uint8Array);

  // restoring z into a fresh operator reproduces the bytes and the output
  const g = new Feeder(op({ kind: 'tumbling', size: 10 }, 'final', 0));
  g.op.loadKey('z', bytes);
  assert.deepEqual(g.op.encodeKey('z'), bytes);
  assert.deepEqual(g.op.dirtyKeys(), []); // loading is not a change
  assert.equal(g.op.openWindows, 1);
  assert.deepEqual(g.advance(20), [row('z', 10, 20, [1, 1])]);
  assert.throws(() => g.op.loadKey('y', new Uint8Array([9, 0])), /format 9/);
});

test('constructor validation', () => {
  assert.throws(() => new WindowedAggregation({ window: { kind: 'tumbling', size: 10 }, emit: 'final', grace: -1, aggs: countSum }), /grace must be/);
  assert.throws(() => new WindowedAggregation({ window: { kind: 'tumbling', size: 0 }, emit: 'final', grace: 0, aggs: countSum }), /size must be/);
});
