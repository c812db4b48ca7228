/**
 * List results: firstK, lastK, topK, bottomK, mostFrequent and quantiles in lookback, tiled and
 * tumbling windows, against brute force over the definition in Python (numpy for quantiles),
 * and the determinism every aggregation must have: random batches with changelog rebuilds,
 * crashes with LevelDB, a one-key state cache, shuffled arrival, incremental changelog records.
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
import { exact, rowsByName, type Collected } from '../helpers/engine.js';
import { pythonExpected } from '../helpers/python-expected.js';

const HERE = fileURLToPath(import.meta.url);

const topo = topology('aggs-lists', (b) => {
  const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time, grace: '30m', maxFutureSkew: null });
  const card = txns.groupBy('card', (x) => x.card_id);
  const h = card.lookback('1h');
  const tiled = card.lookback('2h', { tile: '30m' });
  const features = txns.features('f', {
    first3: h.firstK((x) => x.amount, 3),
    last3_merchants: h.lastK((x) => x.merchant_id, 3, { type: 'string' }),
    top4: h.topK((x) => x.amount, 4),
    bottom2: h.bottomK((x) => x.amount, 2),
    frequent3: h.mostFrequent((x) => x.merchant_id, 3),
    q_exact: h.quantiles((x) => x.amount, [0.1, 0.5, 0.99]),
    t_last2: tiled.lastK((x) => x.amount, 2),
    t_top3: tiled.topK((x) => x.amount, 3),
    t_frequent2: tiled.mostFrequent((x) => x.merchant_id, 2),
    t_first2_merchants: tiled.firstK((x) => x.merchant_id, 2, { type: 'string' }),
  });
  card.tumbling('1h', { emit: 'final' }).aggregate('hourly', (w) => ({
    first2: w.firstK((x) => x.amount, 2),
    last2: w.lastK((x) => x.merchant_id, 2, { type: 'string' }),
    top3: w.topK((x) => x.amount, 3),
    bottom3: w.bottomK((x) => x.amount, 3),
    frequent2: w.mostFrequent((x) => x.merchant_id, 2),
    qs: w.quantiles((x) => x.amount, [0.25, 0.75]),
  }));
  return { features };
});

// RowOf gives the list types: this assignment does not compile if they are wrong.
const typed: Pick<RowOf<typeof topo, 'features'>, 'first3' | 'last3_merchants' | 'q_exact'> = { first3: [1], last3_merchants: ['m'], q_exact: null };
void typed;

const program: Program = buildProgram(compilePlan(topo, HERE));
const columns = program.outputs[0].columns;

const FEATURES: Record<string, Record<string, unknown>> = {
  first3: { agg: 'firstK', k: 3, window: HOUR },
  last3_merchants: { agg: 'lastK', k: 3, field: 'merchant', window: HOUR },
  top4: { agg: 'topK', k: 4, window: HOUR },
  bottom2: { agg: 'bottomK', k: 2, window: HOUR },
  frequent3: { agg: 'mostFrequent', k: 3, window: HOUR },
  q_exact: { agg: 'quantiles', qs: [0.1, 0.5, 0.99], window: HOUR },
  t_last2: { agg: 'lastK', k: 2, window: 2 * HOUR, tile: 30 * MIN },
  t_top3: { agg: 'topK', k: 3, window: 2 * HOUR, tile: 30 * MIN },
  t_frequent2: { agg: 'mostFrequent', k: 2, window: 2 * HOUR, tile: 30 * MIN },
  t_first2_merchants: { agg: 'firstK', k: 2, field: 'merchant', window: 2 * HOUR, tile: 30 * MIN },
};
const WINDOW_AGGS = [
  { name: 'first2', agg: 'firstK', k: 2 },
  { name: 'last2', agg: 'lastK', k: 2, field: 'merchant' },
  { name: 'top3', agg: 'topK', k: 3 },
  { name: 'bottom3', agg: 'bottomK', k: 3 },
  { name: 'frequent2', agg: 'mostFrequent', k: 2 },
  { name: 'qs', agg: 'quantiles', qs: [0.25, 0.75] },
];

const TXNS = cardEvents(12, 2000);

/** Lists of numbers equal to round-off (quantiles interpolate), everything else exactly. */
function assertListClose(actual: unknown, expected: unknown, what: string): void {
  if (!Array.isArray(expected) || !expected.some((x) => typeof x === 'number')) return assert.deepEqual(actual, expected, what);
  assert.ok(Array.isArray(actual) && actual.length === expected.length, `${what}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
  expected.forEach((e: number, i) => assert.ok(Math.abs((actual[i] as number) - e) <= 1e-12 * Math.max(1, Math.abs(e)), `${what}[${i}]: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`));
}

test('list aggregations equal brute force in Python (numpy for quantiles), in lookback, tiled and tumbling windows', async () => {
  const out = await runAll(program, TXNS);
  const want = pythonExpected<{ features: Record<string, unknown[]>; windows: Array<Record<string, unknown>> }>('test/python/aggregation_expected.py', {
    events: TXNS.map((e) => ({ key: e.card_id, t: e.event_time, amount: e.amount, merchant: e.merchant_id })),
    features: Object.entries(FEATURES).map(([name, f]) => ({ name, ...f })),
    tumbling: { size: HOUR, aggs: WINDOW_AGGS },
  });
  const rows = rowsByName(out.features, columns);
  assert.equal(rows.length, TXNS.length);
  let full = 0;
  for (let i = 0; i < rows.length; i++) {
    for (const name of Object.keys(FEATURES)) assertListClose(rows[i][name], want.features[name][i], `event ${i} (${TXNS[i].card_id}) ${name}`);
    if ((rows[i].top4 as number[]).length === 4) full++;
  }
  assert.ok(full > 1000, `windows holding more than k values: ${full}`);
  const wanted = new Map(want.windows.map((w) => [`${String(w.key)}@${String(w.start)}`, w]));
  assert.ok(out.windows.length > 50);
  const names = program.windowOps[0].columns.map((c) => c.name);
  for (const w of out.windows) {
    const e = wanted.get(`${w.key}@${w.windowStart}`);
    assert.ok(e, `window ${w.key}@${w.windowStart} exists in the reference`);
    names.forEach((name, i) => assertListClose(w.values[i], e[name], `window ${w.key}@${new Date(w.windowStart).toISOString()} ${name}`));
  }
});

test('list aggregations: random batches, checkpoints and changelog rebuilds give the same rows bit for bit', () => assertBatchesAndChangelogRebuilds(program, TXNS, [4, 5]));

test('list aggregations: a crash and a restart from LevelDB continue bit for bit', () => assertCrashRestarts(program, TXNS, [3, 1100]));

test('list aggregations: a state cache of one key gives the same rows bit for bit', () => assertTinyCache(program, TXNS));

test('list aggregations: shuffled arrival within grace gives bit-identical tumbling windows (firstK/lastK where times are unique)', async () => {
  const [ordered, shuffled] = orderedAndShuffled(TXNS, 9);
  const a = await runAll(program, ordered);
  const b = await runAll(program, shuffled);
  assert.equal(b.late.length, 0);
  const key = (w: Collected['windows'][number]): string => `${w.key}@${w.windowStart}`;
  const other = new Map(b.windows.map((w) => [key(w), w]));
  const names = program.windowOps[0].columns.map((c) => c.name);
  assert.ok(a.windows.length > 50);
  let orderChecked = 0;
  for (const w of a.windows) {
    const o = other.get(key(w));
    assert.ok(o, `window ${key(w)} in both`);
    // Equal event times are ordered by processing: only then may firstK / lastK differ.
    const times = ordered.filter((e) => e.card_id === w.key && e.event_time >= w.windowStart && e.event_time < w.windowEnd).map((e) => e.event_time);
    const uniqueTimes = new Set(times).size === times.length;
    if (uniqueTimes) orderChecked++;
    names.forEach((name, i) => {
      if ((name === 'first2' || name === 'last2') && !uniqueTimes) return;
      assert.equal(JSON.stringify(o.values[i], (_k, v: unknown) => (typeof v === 'number' ? exact(v) : v)), JSON.stringify(w.values[i], (_k, v: unknown) => (typeof v === 'number' ? exact(v) : v)), `${key(w)} ${name}`);
    });
  }
  assert.ok(orderChecked > 20, `windows with unique event times: ${orderChecked}`);
});

test('list aggregations keep the changelog incremental: one event adds one entry and a head without the lists', async () => {
  const { ops, eventEntries, headBytes } = await oneEventCheckpoint(HERE, (day) => ({
    first: day.firstK((x) => x.amount, 50),
    last: day.lastK((x) => x.merchant_id, 50, { type: 'string' }),
    top: day.topK((x) => x.amount, 50),
    frequent: day.mostFrequent((x) => x.merchant_id, 50),
    qs: day.quantiles((x) => x.amount, [0.5, 0.9]),
  }));
  assert.equal(eventEntries, 1, 'one event entry');
  assert.ok(ops.length <= 3, `ops: ${ops.map((o) => o.key).join(', ')}`);
  assert.ok(headBytes > 0 && headBytes < 64, `head of ${headBytes} bytes`);
});
