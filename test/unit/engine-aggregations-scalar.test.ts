/**
 * first, skewness, kurtosis, quantile (exact and DDSketch) and bounded countDistinct
 * (exact and HyperLogLog) in lookback, tiled and tumbling windows. Expected values come from
 * numpy / scipy by brute force over the definition (test/python/aggregation_expected.py);
 * the rest checks determinism: random batches, checkpoints and changelog rebuilds, crashes
 * with LevelDB, shuffled arrival, a tiny state cache, and incremental changelog records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import { buildProgram, type Program } from '../../src/engine/program.js';
import { compilePlan } from '../../src/plan/compile.js';
import {
  assertBatchesAndChangelogRebuilds,
  assertCrashRestarts,
  assertTinyCache,
  cardEvents,
  HOUR,
  MIN,
  orderedAndShuffled,
  oneEventCheckpoint,
  runAll,
  type Txn,
} from '../helpers/aggregation-runs.js';
import { assertClose, exact, rowsByName, type Collected } from '../helpers/engine.js';
import { pythonExpected } from '../helpers/python-expected.js';

const HERE = fileURLToPath(import.meta.url);

const topo = topology('aggs-scalar', (b) => {
  const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time, grace: '30m', maxFutureSkew: null });
  const card = txns.groupBy('card', (x) => x.card_id);
  const h = card.lookback('1h');
  const tiled = card.lookback('2h', { tile: '30m' });
  txns.features('f', {
    first: h.first((x) => x.amount),
    first_merchant: h.first((x) => x.merchant_id, { type: 'string' }),
    skew: h.skewness((x) => x.amount),
    skew_pop: h.skewness((x) => x.amount, { population: true }),
    kurt: h.kurtosis((x) => x.amount),
    kurt_pop: h.kurtosis((x) => x.amount, { population: true }),
    p50: h.quantile((x) => x.amount, 0.5),
    p90_sketch: h.quantile((x) => x.amount, 0.9, { exactUpTo: 8, relativeError: 0.01 }),
    distinct: h.countDistinct((x) => x.merchant_id, { exactUpTo: 1000 }),
    distinct_hll: h.countDistinct((x) => x.merchant_id, { exactUpTo: 4 }),
    t_first: tiled.first((x) => x.amount),
    t_kurt: tiled.kurtosis((x) => x.amount),
    t_p25: tiled.quantile((x) => x.amount, 0.25, { exactUpTo: 10 }),
    t_distinct: tiled.countDistinct((x) => x.merchant_id, { exactUpTo: 5 }),
  });
  card.tumbling('1h', { emit: 'final' }).aggregate('hourly', (w) => ({
    first: w.first((x) => x.amount),
    skew: w.skewness((x) => x.amount),
    p75: w.quantile((x) => x.amount, 0.75, { exactUpTo: 6 }),
    distinct: w.countDistinct((x) => x.merchant_id, { exactUpTo: 3 }),
  }));
  return {};
});

const program: Program = buildProgram(compilePlan(topo, HERE));
const columns = program.outputs[0].columns;

/** Feature name → the reference's description of it. */
const FEATURES: Record<string, { agg: string; window: number; tile?: number; sample?: boolean; q?: number }> = {
  first: { agg: 'first', window: HOUR },
  first_merchant: { agg: 'first_merchant', window: HOUR },
  skew: { agg: 'skewness', window: HOUR, sample: true },
  skew_pop: { agg: 'skewness', window: HOUR, sample: false },
  kurt: { agg: 'kurtosis', window: HOUR, sample: true },
  kurt_pop: { agg: 'kurtosis', window: HOUR, sample: false },
  p50: { agg: 'quantile', window: HOUR, q: 0.5 },
  p90_sketch: { agg: 'quantile', window: HOUR, q: 0.9 },
  distinct: { agg: 'distinct', window: HOUR },
  distinct_hll: { agg: 'distinct', window: HOUR },
  t_first: { agg: 'first', window: 2 * HOUR, tile: 30 * MIN },
  t_kurt: { agg: 'kurtosis', window: 2 * HOUR, tile: 30 * MIN, sample: true },
  t_p25: { agg: 'quantile', window: 2 * HOUR, tile: 30 * MIN, q: 0.25 },
  t_distinct: { agg: 'distinct', window: 2 * HOUR, tile: 30 * MIN },
};
const WINDOW_AGGS = [
  { name: 'first', agg: 'first' },
  { name: 'skew', agg: 'skewness', sample: true },
  { name: 'p75', agg: 'quantile', q: 0.75 },
  { name: 'distinct', agg: 'distinct' },
];

interface Expected {
  features: Record<string, Array<number | string | null>>;
  windows: Array<Record<string, number | string | null>>;
}

function expectedFor(txns: readonly Txn[]): Expected {
  return pythonExpected<Expected>('test/python/aggregation_expected.py', {
    events: txns.map((e) => ({ key: e.card_id, t: e.event_time, amount: e.amount, merchant: e.merchant_id })),
    features: Object.entries(FEATURES).map(([name, f]) => ({ name, ...f })),
    tumbling: { size: HOUR, aggs: WINDOW_AGGS },
  });
}

/** The relative-error guarantee of the sketch (values are positive here), with float slack. */
function assertWithinRelative(actual: unknown, expected: number | null, rel: number, what: string): void {
  if (expected === null) return assert.equal(actual, null, what);
  assert.equal(typeof actual, 'number', what);
  const err = Math.abs((actual as number) - expected);
  assert.ok(err <= rel * Math.abs(expected) * (1 + 1e-9), `${what}: ${String(actual)} is ${err} from ${expected}, beyond ${rel * 100} %`);
}

const TXNS = cardEvents(11, 2500);

test('every new aggregation equals numpy / scipy over the definition, in lookback, tiled and tumbling windows', async () => {
  const out = await runAll(program, TXNS);
  const want = expectedFor(TXNS);
  const rows = rowsByName(out.features, columns);
  assert.equal(rows.length, TXNS.length);
  assert.equal(out.late.length, 0, 'the data is within grace');
  let sketched = 0;
  let hll = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const at = `event ${i} (${TXNS[i].card_id})`;
    for (const name of ['first', 'first_merchant', 'distinct', 't_first', 't_distinct']) assert.equal(r[name], want.features[name][i], `${at} ${name}`);
    for (const name of ['skew', 'skew_pop', 'kurt', 'kurt_pop', 't_kurt']) assertClose(r[name], want.features[name][i] as number | null, `${at} ${name}`, 1e-6);
    assertClose(r.p50, want.features.p50[i] as number | null, `${at} p50`, 1e-12);
    // exactUpTo 8: exact up to 8 values in the window, within 1 % beyond.
    const n = out.features[i] && countInWindow(TXNS, i, HOUR);
    if (n > 8) sketched++;
    if (n <= 8) assertClose(r.p90_sketch, want.features.p90_sketch[i] as number | null, `${at} p90_sketch`, 1e-12);
    else assertWithinRelative(r.p90_sketch, want.features.p90_sketch[i] as number, 0.01, `${at} p90_sketch`);
    const d = want.features.distinct_hll[i] as number;
    if (d > 4) hll++;
    // Small sets: HyperLogLog's linear counting is exact but for a rare register collision.
    if (d <= 4) assert.equal(r.distinct_hll, d, `${at} distinct_hll`);
    else assert.ok(Math.abs((r.distinct_hll as number) - d) <= Math.max(2, 0.05 * d), `${at} distinct_hll ${String(r.distinct_hll)} vs ${d}`);
    // Tiles: t_p25 exact up to 10 values, else within 1 %.
    const tn = countInSawtooth(TXNS, i, 2 * HOUR, 30 * MIN);
    if (tn <= 10) assertClose(r.t_p25, want.features.t_p25[i] as number | null, `${at} t_p25`, 1e-12);
    else assertWithinRelative(r.t_p25, want.features.t_p25[i] as number, 0.01, `${at} t_p25`);
  }
  assert.ok(sketched > 200, `the sketch answered ${sketched} times`);
  assert.ok(hll > 200, `the HyperLogLog answered ${hll} times`);

  const wanted = new Map(want.windows.map((w) => [`${w.key}@${w.start}`, w]));
  assert.ok(out.windows.length > 50);
  for (const w of out.windows) {
    const e = wanted.get(`${w.key}@${w.windowStart}`);
    assert.ok(e, `window ${w.key}@${w.windowStart} exists in the reference`);
    const what = `window ${w.key}@${new Date(w.windowStart).toISOString()}`;
    const byName = Object.fromEntries(program.windowOps[0].columns.map((c, i) => [c.name, w.values[i]]));
    assert.equal(byName.first, e.first, `${what} first`);
    assertClose(byName.skew, e.skew as number | null, `${what} skew`, 1e-6);
    const n = TXNS.filter((x) => x.card_id === w.key && x.amount !== null && x.event_time >= w.windowStart && x.event_time < w.windowEnd).length;
    if (n <= 6) assertClose(byName.p75, e.p75 as number | null, `${what} p75`, 1e-12);
    else assertWithinRelative(byName.p75, e.p75 as number, 0.01, `${what} p75`);
    const d = e.distinct as number;
    if (d <= 3) assert.equal(byName.distinct, d, `${what} distinct`);
    else assert.ok(Math.abs((byName.distinct as number) - d) <= Math.max(2, 0.05 * d), `${what} distinct ${String(byName.distinct)} vs ${d}`);
  }
});

/** Non-null amounts of the key processed before event i with time in (t − W, t]. */
function countInWindow(txns: readonly Txn[], i: number, w: number): number {
  const e = txns[i];
  let n = 0;
  for (let j = 0; j < i; j++) if (txns[j].card_id === e.card_id && txns[j].amount !== null && txns[j].event_time > e.event_time - w && txns[j].event_time <= e.event_time) n++;
  return n;
}

function countInSawtooth(txns: readonly Txn[], i: number, w: number, h: number): number {
  const e = txns[i];
  const lo = Math.floor((e.event_time - w) / h) * h;
  let n = 0;
  for (let j = 0; j < i; j++) if (txns[j].card_id === e.card_id && txns[j].amount !== null && txns[j].event_time >= lo && txns[j].event_time <= e.event_time) n++;
  return n;
}

test('random batches, checkpoints and stores rebuilt from the changelog give the same rows bit for bit', () => assertBatchesAndChangelogRebuilds(program, TXNS, [1, 2, 3]));

test('a crash after a checkpoint and a restart from LevelDB continue bit for bit', () => assertCrashRestarts(program, TXNS, [7, 900, 2100]));

test('a state cache of one key (timelines evicted and rebuilt from their events) gives the same rows bit for bit', () => assertTinyCache(program, TXNS));

test('shuffled arrival within grace: tumbling windows of first, quantile and distinct counts are bit-identical, skewness equal to round-off', async () => {
  const [ordered, shuffled] = orderedAndShuffled(TXNS, 5);
  const a = await runAll(program, ordered);
  const b = await runAll(program, shuffled);
  assert.equal(b.late.length, 0);
  const key = (w: Collected['windows'][number]): string => `${w.key}@${w.windowStart}`;
  const bRows = new Map(b.windows.map((w) => [key(w), w]));
  assert.ok(a.windows.length > 50);
  const names = program.windowOps[0].columns.map((c) => c.name);
  for (const w of a.windows) {
    const other = bRows.get(key(w));
    assert.ok(other, `window ${key(w)} emitted in both`);
    names.forEach((name, i) => {
      if (name === 'skew') assertClose(other.values[i], w.values[i] as number | null, `${key(w)} skew`, 1e-9);
      else if (name === 'first') {
        // Among equal event times the first is the one processed first: compare only unique minima.
        const inWin = ordered.filter((x) => x.card_id === w.key && x.amount !== null && x.event_time >= w.windowStart && x.event_time < w.windowEnd);
        const min = Math.min(...inWin.map((x) => x.event_time));
        if (inWin.filter((x) => x.event_time === min).length === 1) assert.equal(exact(other.values[i]), exact(w.values[i]), `${key(w)} first`);
      } else assert.equal(exact(other.values[i]), exact(w.values[i]), `${key(w)} ${name}`);
    });
  }
});

test('changelog stays incremental: one event adds one entry and a small head, whatever the window holds', async () => {
  const { ops, eventEntries, headBytes } = await oneEventCheckpoint(HERE, (day) => ({
    first: day.first((x) => x.amount),
    skew: day.skewness((x) => x.amount),
    kurt: day.kurtosis((x) => x.amount),
    p50: day.quantile((x) => x.amount, 0.5, { exactUpTo: 100 }),
    distinct: day.countDistinct((x) => x.merchant_id, { exactUpTo: 100 }),
  }));
  assert.equal(eventEntries, 1, 'one event entry');
  assert.ok(ops.length <= 3, `ops: ${ops.map((o) => o.key).join(', ')}`);
  // Clocks, first retained event, the moments (6 numbers each): no values, sets or sketches.
  assert.ok(headBytes > 0 && headBytes < 140, `head of ${headBytes} bytes`);
});
