/**
 * Map results: histogram over declared bins, declared categories and the most frequent
 * categories with an "other" bucket, in lookback, tiled and tumbling windows, against brute
 * force in Python; and the determinism every aggregation must have.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology, type RowOf } from '../../src/dsl/index.js';
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
import { rowsByName } from '../helpers/engine.js';
import { pythonExpected } from '../helpers/python-expected.js';

const HERE = fileURLToPath(import.meta.url);
const BINS = [0, 10, 50, 100, 2.5e2];
const CATEGORIES = ['m1', 'm2', 'm3'];

const topo = topology('aggs-maps', (b) => {
  const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time, grace: '30m', maxFutureSkew: null });
  const card = txns.groupBy('card', (x) => x.card_id);
  const h = card.lookback('1h');
  const features = txns.features('f', {
    bins: h.histogram((x) => x.amount, { bins: BINS }),
    merchants: h.histogram((x) => x.merchant_id, { categories: CATEGORIES }),
    top_merchants: h.histogram((x) => x.merchant_id, { maxCategories: 2 }),
    t_bins: card.lookback('2h', { tile: '30m' }).histogram((x) => x.amount, { bins: BINS }),
  });
  card.tumbling('1h', { emit: 'final' }).aggregate('hourly', (w) => ({
    bins: w.histogram((x) => x.amount, { bins: BINS }),
    top_merchants: w.histogram((x) => x.merchant_id, { maxCategories: 3 }),
  }));
  return { features };
});

// RowOf types a histogram as a map of bucket → count: this does not compile otherwise.
const typed: Pick<RowOf<typeof topo, 'features'>, 'bins'> = { bins: { '[0,10)': 1 } };
void typed;

const program: Program = buildProgram(compilePlan(topo, HERE));
const TXNS = cardEvents(13, 2000);

const entries = (v: unknown): unknown => (v === null || typeof v !== 'object' ? v : Object.entries(v));

test('histograms equal brute force in Python, keys in declared order with "other" last, in lookback, tiled and tumbling windows', async () => {
  const out = await runAll(program, TXNS);
  const want = pythonExpected<{ features: Record<string, unknown[]>; windows: Array<Record<string, unknown>> }>('test/python/aggregation_expected.py', {
    events: TXNS.map((e) => ({ key: e.card_id, t: e.event_time, amount: e.amount, merchant: e.merchant_id })),
    features: [
      { name: 'bins', agg: 'histogram', bins: BINS, window: HOUR },
      { name: 'merchants', agg: 'histogram', categories: CATEGORIES, window: HOUR },
      { name: 'top_merchants', agg: 'histogram', maxCategories: 2, window: HOUR },
      { name: 't_bins', agg: 'histogram', bins: BINS, window: 2 * HOUR, tile: 30 * MIN },
    ],
    tumbling: { size: HOUR, aggs: [{ name: 'bins', agg: 'histogram', bins: BINS }, { name: 'top_merchants', agg: 'histogram', maxCategories: 3 }] },
  });
  const rows = rowsByName(out.features, program.outputs[0].columns);
  for (let i = 0; i < rows.length; i++) {
    for (const name of ['bins', 'merchants', 'top_merchants', 't_bins']) assert.deepEqual(entries(rows[i][name]), want.features[name][i], `event ${i} ${name}`);
  }
  assert.ok(rows.some((r) => (r.bins as Record<string, number>).other > 0), 'some values fall outside the bins');
  assert.ok(rows.some((r) => (r.top_merchants as Record<string, number>).other > 0), 'some windows have more categories than the bound');
  const wanted = new Map(want.windows.map((w) => [`${String(w.key)}@${String(w.start)}`, w]));
  const names = program.windowOps[0].columns.map((c) => c.name);
  assert.ok(out.windows.length > 50);
  for (const w of out.windows) {
    const e = wanted.get(`${w.key}@${w.windowStart}`)!;
    names.forEach((name, i) => assert.deepEqual(entries(w.values[i]), e[name], `window ${w.key}@${w.windowStart} ${name}`));
  }
});

test('histograms: random batches, checkpoints and changelog rebuilds give the same rows bit for bit', () => assertBatchesAndChangelogRebuilds(program, TXNS, [6]));

test('histograms: a crash and a restart from LevelDB continue bit for bit', () => assertCrashRestarts(program, TXNS, [5, 1300]));

test('histograms: a state cache of one key gives the same rows bit for bit', () => assertTinyCache(program, TXNS));

test('histograms: shuffled arrival within grace gives identical tumbling windows', async () => {
  const [ordered, shuffled] = orderedAndShuffled(TXNS, 2);
  const a = await runAll(program, ordered);
  const b = await runAll(program, shuffled);
  const other = new Map(b.windows.map((w) => [`${w.key}@${w.windowStart}`, w]));
  assert.ok(a.windows.length > 50);
  for (const w of a.windows) assert.deepEqual(entries(other.get(`${w.key}@${w.windowStart}`)?.values[0]), entries(w.values[0]));
  for (const w of a.windows) assert.deepEqual(entries(other.get(`${w.key}@${w.windowStart}`)?.values[1]), entries(w.values[1]));
});

test('histograms keep the changelog incremental: the head holds no counts', async () => {
  const { ops, eventEntries, headBytes } = await oneEventCheckpoint(HERE, (day) => ({
    top: day.histogram((x) => x.merchant_id, { maxCategories: 100 }),
    bins: day.histogram((x) => x.amount, { bins: BINS }),
  }));
  assert.equal(eventEntries, 1, 'one event entry');
  assert.ok(ops.length <= 3, `ops: ${ops.map((o) => o.key).join(', ')}`);
  assert.ok(headBytes > 0 && headBytes < 64, `head of ${headBytes} bytes`);
});

test('histogram edges and ties, by hand: a value on an edge is in the bin it starts; equal counts in ascending order', async () => {
  const { histogramAgg } = await import('../../src/ops/aggregations/histogram.js');
  const bins = histogramAgg({ bins: [0, 10, 20] }).create();
  for (const v of [0, 5, 10, 19.99, 10, 20, -1, null, 'x']) bins.add(v, 0, 0);
  // 0, 5 → [0,10); 10, 19.99, 10 → [10,20); 20 (the last edge is exclusive) and −1 → other; null and strings are skipped.
  assert.deepEqual(Object.entries(bins.result() as object), [['[0,10)', 2], ['[10,20)', 3], ['other', 2]]);
  const top = histogramAgg({ maxCategories: 2 }).create();
  for (const v of ['b', 'a', 'c', 'c', 'b', 'a', 'd']) top.add(v, 0, 0);
  // a, b, c twice each: the two listed are a and b (ascending among equal counts); c and d are other.
  assert.deepEqual(Object.entries(top.result() as object), [['a', 2], ['b', 2], ['other', 3]]);
  top.remove('a', 0, 0);
  assert.deepEqual(Object.entries(top.result() as object), [['b', 2], ['c', 2], ['other', 2]]);
});
