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

/** mulberry32: a small seeded PRNG, so every run of this test sees the same "random" choices. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Ev {
  key: string;
  /** Position of the event in its key's sequence, on a time-like scale (the per-key order). */
  nominal: number;
  /** Event time: nominal minus a jitter, so keys see out-of-order events too. */
  t: number;
  vals: AggValue[];
}

const AGGS = [
  { def: countAgg(false), column: -1 },
  { def: sumAgg('sum'), column: 0 },
  { def: sumAgg('mean'), column: 0 },
  { def: extremeAgg('min'), column: 0 },
  { def: extremeAgg('max'), column: 0 },
  { def: varianceAgg('stddev', true), column: 0 },
  { def: countDistinctAgg(), column: 1 },
  { def: lastAgg('string'), column: 1 },
];

interface Scenario {
  name: string;
  window: WindowedAggregationSpec['window'];
  emit: 'final' | 'update';
  /** ms per time step of the generator */
  unit: number;
  base: number;
}

const MIN = 60_000;
const SCENARIOS: Scenario[] = [
  { name: 'tumbling 50 final', window: { kind: 'tumbling', size: 50 }, emit: 'final', unit: 1, base: -1000 },
  { name: 'tumbling 50 update', window: { kind: 'tumbling', size: 50 }, emit: 'update', unit: 1, base: -1000 },
  { name: 'hopping 60/20 final', window: { kind: 'hopping', size: 60, advance: 20 }, emit: 'final', unit: 1, base: -500 },
  { name: 'hopping 60/20 update', window: { kind: 'hopping', size: 60, advance: 20 }, emit: 'update', unit: 1, base: -500 },
  { name: 'session 30 final', window: { kind: 'session', gap: 30 }, emit: 'final', unit: 1, base: 0 },
  { name: 'session 30 update', window: { kind: 'session', gap: 30 }, emit: 'update', unit: 1, base: 0 },
  // hours in New York across the 2026-11-01 fall-back (two 1 AM hours), with minute-scale steps
  { name: 'calendar hour New York final', window: { kind: 'calendar', unit: 'hour', timeZone: 'America/New_York' }, emit: 'final', unit: MIN, base: Date.parse('2026-11-01T02:00:00Z') },
];

// Generator bounds: per-key steps up to STEP, per-event jitter up to JITTER, and an interleaving
// that never runs more than SPREAD ahead of the slowest key. Then stream time ≤ t + JITTER + SPREAD
// for every event, so with grace = JITTER + SPREAD no event is ever late, whatever the
// interleaving: the per-key results must not depend on it.
const STEP = 12;
const JITTER = 40;
const SPREAD = 40;
const GRACE_STEPS = JITTER + SPREAD;

function generate(seed: number, sc: Scenario, keys: number, perKey: number): Ev[][] {
  const rand = prng(seed);
  const cats = ['x', 'y', 'z', 'w'];
  const out: Ev[][] = [];
  for (let k = 0; k < keys; k++) {
    const evs: Ev[] = [];
    let n = 0;
    for (let i = 0; i < perKey; i++) {
      // occasional pauses end sessions (gap 30) and empty windows; a later event with a large
      // jitter can then land in the pause and bridge two sessions
      n += rand() < 0.1 ? 31 + Math.floor(rand() * 20) : Math.floor(rand() * STEP);
      const jitter = rand() < 0.15 ? Math.floor(rand() * (JITTER + 1)) : Math.floor(rand() * 4);
      const v = rand() < 0.1 ? null : Math.round(rand() * 10_000) / 100; // decimals: fold order matters
      const c = rand() < 0.1 ? null : cats[Math.floor(rand() * cats.length)];
      evs.push({ key: `k${k}`, nominal: n, t: sc.base + (n - jitter) * sc.unit, vals: [v, c] });
    }
    out.push(evs);
  }
  return out;
}

/** A random merge of the per-key sequences, keeping each key's order, never SPREAD ahead of the slowest key. */
function interleave(seed: number, perKey: Ev[][]): Ev[] {
  const rand = prng(seed);
  const idx = perKey.map(() => 0);
  const out: Ev[] = [];
  for (;;) {
    let min = Infinity;
    for (let k = 0; k < perKey.length; k++) if (idx[k] < perKey[k].length) min = Math.min(min, perKey[k][idx[k]].nominal);
    if (min === Infinity) return out;
    const candidates: number[] = [];
    for (let k = 0; k < perKey.length; k++) if (idx[k] < perKey[k].length && perKey[k][idx[k]].nominal <= min + SPREAD) candidates.push(k);
    const k = candidates[Math.floor(rand() * candidates.length)];
    out.push(perKey[k][idx[k]++]);
  }
}

function spec(sc: Scenario): WindowedAggregationSpec {
  return { window: sc.window, emit: sc.emit, grace: GRACE_STEPS * sc.unit, aggs: AGGS };
}

type Store = Map<string, Uint8Array>;

/** What the engine's checkpoint does with the operator. */
function checkpoint(op: WindowedAggregation, store: Store): void {
  for (const k of op.dirtyKeys()) {
    const b = op.encodeKey(k);
    if (b === null) store.delete(k);
    else store.set(k, b);
  }
  op.clearDirty();
}

const storeEntries = (s: Store): Array<[string, number[]]> => [...s].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, [...v]]);

interface RunOptions {
  /** advance after event i when advanceAt[i] */
  advanceAt: readonly boolean[];
  /** checkpoint after event i when checkpointAt[i] */
  checkpointAt?: readonly boolean[];
  /** continue from here: [op, stream time, next seq, first event index] */
  resume?: { op: WindowedAggregation; st: number; seq: number; from: number; store: Store };
  /** stop after this event index (a crash), without the final flush */
  crashAfter?: number;
}

interface RunResult {
  rows: WindowRow[];
  /** applies after which fewer windows were held than before: session merges */
  merges: number;
  /** rows.length after event i (and its advance) */
  rowsAfter: number[];
  /** store contents after each checkpoint, by event index */
  stores: Map<number, Array<[string, number[]]>>;
  /** the store, stream time and seq as of the last checkpoint */
  lastCheckpoint?: { store: Store; st: number; seq: number; at: number };
}

function run(sc: Scenario, events: readonly Ev[], o: RunOptions): RunResult {
  const op = o.resume?.op ?? new WindowedAggregation(spec(sc));
  let st = o.resume?.st ?? -Infinity;
  let seq = o.resume?.seq ?? 0;
  const store: Store = o.resume?.store ?? new Map();
  const rows: WindowRow[] = [];
  const rowsAfter: number[] = [];
  const stores = new Map<number, Array<[string, number[]]>>();
  let lastCheckpoint: RunResult['lastCheckpoint'];
  let merges = 0;
  for (let i = o.resume?.from ?? 0; i < events.length; i++) {
    const e = events[i];
    st = Math.max(st, e.t);
    const held = op.openWindows;
    const ok = op.apply(e.key, e.t, seq++, e.vals, st, rows);
    if (op.openWindows < held) merges++;
    assert.equal(ok, true, `${sc.name}: event ${i} unexpectedly late`);
    if (o.advanceAt[i]) op.advance(st, rows);
    rowsAfter[i] = rows.length;
    if (o.checkpointAt?.[i]) {
      checkpoint(op, store);
      stores.set(i, storeEntries(store));
      lastCheckpoint = { store: new Map(store), st, seq, at: i };
    }
    if (o.crashAfter === i) return { rows, merges, rowsAfter, stores, lastCheckpoint };
  }
  op.advance(Infinity, rows);
  assert.equal(op.openWindows, 0);
  return { rows, merges, rowsAfter, stores, lastCheckpoint };
}

function byKey(rows: readonly WindowRow[]): Map<string, WindowRow[]> {
  const m = new Map<string, WindowRow[]>();
  for (const r of rows) {
    const list = m.get(r.key) ?? [];
    list.push(r);
    m.set(r.key, list);
  }
  return new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function canonical(a: WindowRow, b: WindowRow): number {
  return a.windowEnd - b.windowEnd || a.windowStart - b.windowStart || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

for (const sc of SCENARIOS) {
  test(`determinism (${sc.name}): key interleavings and advance points do not change any key's rows`, () => {
    const perKey = generate(7, sc, 6, 120);
    let reference: Map<string, WindowRow[]> | undefined;
    let referenceRows: WindowRow[] | undefined;
    for (let trial = 0; trial < 4; trial++) {
      const events = interleave(100 + trial, perKey);
      const rand = prng(200 + trial);
      const advanceAt = events.map(() => rand() < [0, 0.05, 0.3, 1][trial]);
      const { rows, merges } = run(sc, events, { advanceAt });
      assert.ok(rows.length > 20, 'the scenario produces rows');
      if (sc.window.kind === 'session') assert.ok(merges > 0, 'the scenario merges sessions');
      const grouped = byKey(rows);
      if (reference === undefined) {
        reference = grouped;
        referenceRows = rows;
        if (sc.emit === 'final') {
          assert.ok(rows.every((r) => r.final));
          // final rows come out in canonical order overall, however advance calls are spaced
          for (let i = 1; i < rows.length; i++) assert.ok(canonical(rows[i - 1], rows[i]) < 0, `rows ${i - 1}, ${i} out of order`);
        } else assert.ok(rows.every((r) => !r.final));
        continue;
      }
      assert.deepEqual(grouped, reference, `trial ${trial}: per-key rows differ`);
      // for final emission the whole sequence is canonical, hence identical
      if (sc.emit === 'final') assert.deepEqual(rows, referenceRows);
    }
  });

  test(`determinism (${sc.name}): a crash and restart from the last checkpoint continues with exactly the same rows`, () => {
    const perKey = generate(11, sc, 5, 100);
    const events = interleave(12, perKey);
    const rand = prng(13);
    const advanceAt = events.map(() => rand() < 0.25);
    const checkpointAt = events.map(() => rand() < 0.1);
    const full = run(sc, events, { advanceAt, checkpointAt });

    for (const crashAfter of [Math.floor(events.length * 0.37), Math.floor(events.length * 0.81)]) {
      const crashed = run(sc, events, { advanceAt, checkpointAt, crashAfter });
      const cp = crashed.lastCheckpoint;
      assert.ok(cp !== undefined && cp.at <= crashAfter);
      // restart: a fresh operator loads every stored key (in reverse key order, to show order does not matter)
      const op = new WindowedAggregation(spec(sc));
      for (const [k, v] of [...cp.store].sort(([a], [b]) => (a < b ? 1 : -1))) op.loadKey(k, v);
      assert.deepEqual(op.dirtyKeys(), []);
      const resumed = run(sc, events, { advanceAt, checkpointAt, resume: { op, st: cp.st, seq: cp.seq, from: cp.at + 1, store: new Map(cp.store) } });
      // rows after the checkpoint are exactly those of the uninterrupted run
      assert.deepEqual(resumed.rows, full.rows.slice(full.rowsAfter[cp.at]));
      // and every later checkpoint writes byte-identical state
      for (const [i, entries] of resumed.stores) assert.deepEqual(entries, full.stores.get(i), `store after event ${i}`);
      assert.ok(resumed.stores.size > 0);
    }
  });
}
