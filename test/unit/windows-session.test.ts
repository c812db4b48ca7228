import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WindowedAggregation, type WindowRow } from '../../src/ops/windowed-aggregation.js';
import type { AggValue } from '../../src/ops/aggregation.js';
import { countAgg } from '../../src/ops/aggregations/count.js';
import { sumAgg } from '../../src/ops/aggregations/sum.js';
import { extremeAgg } from '../../src/ops/aggregations/extreme.js';
import { lastAgg } from '../../src/ops/aggregations/last.js';

// Session output convention: windowStart = first event time, windowEnd = last event time + gap;
// the session closes when stream time ≥ last + gap + grace.

function session(gap: number, grace: number, emit: 'final' | 'update' = 'final'): WindowedAggregation {
  return new WindowedAggregation({
    window: { kind: 'session', gap },
    emit,
    grace,
    aggs: [
      { def: countAgg(false), column: -1 },
      { def: sumAgg('sum'), column: 0 },
    ],
  });
}

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

test('a bridging event merges two sessions (update emission shows each step)', () => {
  const f = new Feeder(session(10, 10, 'update'));
  f.ev('a', 0, 1);
  assert.deepEqual(f.take(), [row('a', 0, 10, [1, 1], false)]); // [0, 0 + 10)
  f.ev('a', 4, 2);
  assert.deepEqual(f.take(), [row('a', 0, 14, [2, 3], false)]); // last 4 → end 14
  f.ev('a', 20, 4); // 20 ≥ 4 + 10: a new session
  assert.deepEqual(f.take(), [row('a', 20, 30, [1, 4], false)]);
  assert.equal(f.op.openWindows, 2);
  // 12 overlaps [0, 14) (12 < 14) and [20, 30) (12 > 20 − 10): one session [0, 20 + 10)
  f.ev('a', 12, 8);
  assert.deepEqual(f.take(), [row('a', 0, 30, [4, 15], false)]); // 1 + 2 + 4 + 8
  assert.equal(f.op.openWindows, 1);
  assert.deepEqual(f.advance(1000), []); // 'update' emits nothing at close
  assert.equal(f.op.openWindows, 0);
});

test('the merged session closes once at last + gap + grace (final emission)', () => {
  const f = new Feeder(session(10, 10));
  for (const [t, v] of [[0, 1], [4, 2], [20, 4], [12, 8]]) assert.equal(f.ev('a', t, v), true);
  // the merged session [0, 30) closes at 20 + 10 + 10 = 40; the absorbed [0, 14) produces no row
  assert.deepEqual(f.advance(39), []);
  assert.deepEqual(f.advance(40), [row('a', 0, 30, [4, 15])]);
});

test('session edges: an event exactly gap after the last one, or gap before the first, starts a new session', () => {
  const f = new Feeder(session(10, 5));
  f.ev('a', 0, 1);
  f.ev('a', 10, 1); // 10 = 0 + 10: not < last + gap → new session [10, 20)
  f.ev('b', 20, 1);
  f.ev('b', 10, 1); // 10 = 20 − 10: not > start − gap → new session [10, 20)
  f.ev('c', 20, 1);
  f.ev('c', 11, 1); // 11 > 20 − 10 → joins: [11, 30)
  // stream time 20; closes at end + 5: a [0, 10) at 15
  assert.deepEqual(f.advance(), [row('a', 0, 10, [1, 1])]);
  // remaining: a [10, 20), b [10, 20), b [20, 30), c [11, 30)
  // order: end 20 → start 10 → keys a, b; end 30 → start 11 (c) before start 20 (b)
  assert.deepEqual(f.advance(1000), [row('a', 10, 20, [1, 1]), row('b', 10, 20, [1, 1]), row('c', 11, 30, [2, 2]), row('b', 20, 30, [1, 1])]);
});

test('close order: equal ends are ordered by start, then key', () => {
  const f = new Feeder(session(10, 0));
  f.ev('z', 1, 1);
  f.ev('z', 5, 1); // z: [1, 15)
  f.ev('a', 3, 1);
  f.ev('a', 5, 1); // a: [3, 15)
  f.ev('m', 5, 1); // m: [5, 15)
  f.ev('b', 1, 1);
  f.ev('b', 5, 1); // b: [1, 15)
  assert.deepEqual(f.advance(15), [
    row('b', 1, 15, [2, 2]),
    row('z', 1, 15, [2, 2]),
    row('a', 3, 15, [2, 2]),
    row('m', 5, 15, [1, 1]),
  ]);
});

test('out-of-order events within grace bridge and extend sessions backwards; beyond grace they are late', () => {
  const f = new Feeder(session(10, 10));
  f.ev('a', 30, 1); // [30, 40), closes at 50
  f.ev('a', 45, 2); // 45 ≥ 30 + 10 → [45, 55); stream time 45
  // 38 (stream time 45): overlaps [30, 40) (38 < 40) and [45, 55) (38 > 35) → [30, 55)
  assert.equal(f.ev('a', 38, 4), true);
  assert.equal(f.op.openWindows, 1);
  // 20: its own window [20, 30) closed at 30 + 10 = 40 ≤ 45 → late
  assert.equal(f.ev('a', 20, 100), false);
  // 22: 22 + 10 + 10 = 42 ≤ 45 → late
  assert.equal(f.ev('a', 22, 100), false);
  // 26: 26 + 20 = 46 > 45 → on time; 26 > 30 − 10 → the session now starts at 26: [26, 55)
  assert.equal(f.ev('a', 26, 8), true);
  // closes at last 45 + gap 10 + grace 10 = 65
  assert.deepEqual(f.advance(64), []);
  assert.deepEqual(f.advance(65), [row('a', 26, 55, [4, 15])]); // 1 + 2 + 4 + 8
});

test('a closed session is never reopened, whether or not advance has removed it yet', () => {
  const run = (advanceEarly: boolean): WindowRow[] => {
    const f = new Feeder(session(10, 0));
    const rows: WindowRow[] = [];
    f.ev('a', 0, 1); // [0, 10)
    f.ev('a', 12, 2); // [12, 22); stream time 12 ≥ 10 + 0 → [0, 10) is closed
    if (advanceEarly) rows.push(...f.advance());
    // 5: own window [5, 15) is open (15 > 12); [0, 10) is closed and ignored; joins [12, 22) (5 > 12 − 10)
    assert.equal(f.ev('a', 5, 4), true);
    rows.push(...f.advance(1000));
    return rows;
  };
  const expected = [row('a', 0, 10, [1, 1]), row('a', 5, 22, [2, 6])];
  assert.deepEqual(run(false), expected);
  assert.deepEqual(run(true), expected);
});

test('session merge folds accumulators in ascending start order, then adds the event', () => {
  const op = new WindowedAggregation({
    window: { kind: 'session', gap: 10 },
    emit: 'final',
    grace: 100,
    aggs: [
      { def: extremeAgg('min'), column: 0 },
      { def: extremeAgg('max'), column: 0 },
      { def: lastAgg('double'), column: 0 },
    ],
  });
  const f = new Feeder(op);
  f.ev('k', 38, 7); // [38, 48)
  f.ev('k', 0, 3); // [0, 10)
  f.ev('k', 20, 9); // [20, 30): 20 = 0 + 10 (not < 10) and 20 = 38 − 18 (not > 28): a session of its own
  f.ev('k', 15, 5); // 15 ≥ 10 (not in [0, 10)'s reach); 15 > 20 − 10 → joins: [15, 30), last 20
  f.ev('k', 29, 1); // 29 < 20 + 10 and 29 > 38 − 10 → bridges [15, 30) and [38, 48): [15, 48)
  const rows = f.advance(1000);
  // sessions: [0, 10) {3}; [15, 48) {9, 5, 7, 1}: min 1, max 9, last by event time = 7 (t = 38)
  assert.deepEqual(rows, [row('k', 0, 10, [3, 3, 3]), row('k', 15, 48, [1, 9, 7])]);
});

test('session state survives encode → loadKey, including a session whose start moved', () => {
  const a = new Feeder(session(10, 10));
  const b = new Feeder(session(10, 10));
  const evs: Array<[string, number, number]> = [['x', 30, 1], ['x', 45, 2], ['y', 44, 5], ['x', 38, 4], ['x', 26, 8]];
  for (const [k, t, v] of evs.slice(0, 3)) {
    a.ev(k, t, v);
    b.ev(k, t, v);
  }
  // crash b after three events: restore into a fresh operator
  const c = new Feeder(session(10, 10));
  c.st = b.st;
  c.seq = b.seq;
  for (const k of ['y', 'x']) c.op.loadKey(k, b.op.encodeKey(k)!);
  for (const [k, t, v] of evs.slice(3)) {
    a.ev(k, t, v);
    c.ev(k, t, v);
  }
  for (const k of ['x', 'y']) assert.deepEqual(c.op.encodeKey(k), a.op.encodeKey(k));
  const expected = [row('y', 44, 54, [1, 5]), row('x', 26, 55, [4, 15])];
  assert.deepEqual(a.advance(1000), expected);
  assert.deepEqual(c.advance(1000), expected);
});
