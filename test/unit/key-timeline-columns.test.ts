/**
 * A key's value columns start as one shared empty array (lookback-window.ts NO_VALUES, frozen)
 * and become arrays of their own at the first event, whichever way it comes in: in order,
 * behind the clock of a key restored with its clock but no event, or through insert(). Nothing
 * may write into the shared array, and a key's values must not show up in another key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregationFor } from '../../src/ops/aggregation-registry.js';
import { ByteReader, ByteWriter } from '../../src/state/codec.js';
import { KeyTimeline, type TimelineLayout } from '../../src/time/lookback-window.js';

const MIN = 60_000;
const H = 60 * MIN;
const T0 = Date.UTC(2025, 0, 1);

const layout: TimelineLayout = {
  windows: [
    {
      size: H,
      includeCurrent: false,
      aggs: [
        { def: aggregationFor({ kind: 'count', params: {} }), column: -1, out: 0 },
        { def: aggregationFor({ kind: 'sum', params: {} }), column: 0, out: 1 },
      ],
    },
  ],
  tiledWindows: [],
  columns: 1,
  sinceLast: [{ out: 2, unitMs: MIN }],
  maxWindow: H,
};

function applied(tl: KeyTimeline, events: ReadonlyArray<readonly [number, number]>, firstSeq: number): unknown[][] {
  return events.map(([t, v], i) => {
    const out: unknown[] = [null, null, null];
    tl.apply(t, firstSeq + i, [v], out as never);
    return out;
  });
}

test('keys fed in order keep their own values (the shared empty column is replaced, not appended to)', () => {
  const a = new KeyTimeline(layout);
  const b = new KeyTimeline(layout);
  const fromA = applied(a, [[T0, 5], [T0 + MIN, 7]], 0);
  // b's first event leaves the hour at its third, the second stays: removing the first reads the value b stored.
  const fromB = applied(b, [[T0 + 2 * MIN, 100], [T0 + 40 * MIN, 50], [T0 + 92 * MIN, 1]], 2);
  // Hand-computed: count and sum of the key's own earlier events in the hour, minutes since its last.
  assert.deepEqual(fromA, [
    [0, 0, null],
    [1, 5, 1],
  ]);
  assert.deepEqual(
    fromB,
    [
      [0, 0, null],
      [1, 100, 38],
      [1, 50, 52],
    ],
    "b sees none of a's values",
  );
  assert.deepEqual(applied(new KeyTimeline(layout), [[T0 + 3 * MIN, 1]], 3), [[0, 0, null]], 'a third key starts empty too');
});

test('a key restored with its clock but no event takes an event behind that clock', () => {
  const tl = new KeyTimeline(layout);
  applied(tl, [[T0, 5]], 0);
  // Every event leaves the key; its head keeps the clock (for time-since-last).
  assert.equal(tl.expireAll(T0 + 2 * H), true);
  assert.equal(tl.holdsEvents, false);
  const w = new ByteWriter();
  tl.encodeHead(w);
  const restored = KeyTimeline.fromParts(layout, new ByteReader(w.bytes()), []);
  const late = T0 - 10 * MIN;
  const fromRestored = applied(restored, [[late, 3], [late + MIN, 4]], 1);
  const fromKept = applied(tl, [[late, 3], [late + MIN, 4]], 1);
  assert.deepEqual(fromRestored, fromKept, 'the restored key answers as the one kept in memory');
  assert.equal(fromRestored[1][0], 1, 'the event behind the clock is held: the next one counts it');
  assert.equal(fromRestored[1][1], 3);
  assert.deepEqual(applied(new KeyTimeline(layout), [[T0, 1]], 9), [[0, 0, null]], 'no value leaked into a new key');
});

test('insert() into a new key (a regrouped group buffering events) gives it columns of its own', () => {
  const a = new KeyTimeline(layout);
  a.insert(T0, 0, [42]);
  a.insert(T0 - MIN, 1, [41]);
  const b = new KeyTimeline(layout);
  b.insert(T0, 2, [1]);
  assert.deepEqual(a.cols, [[41, 42]]);
  assert.deepEqual(b.cols, [[1]]);
});
