/**
 * Bucketed aggregates (countBy, sumBy, meanBy): a map of category → count / sum / mean with
 * declared categories or a bound and "other", in lookback, tiled and tumbling windows, against
 * brute force in Python (math.fsum sums); the determinism every aggregation must have; the
 * category function in the version; and the ranking and empty-bucket rules by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology, type Group, type RowOf } from '../../src/dsl/index.js';
import { buildProgram, type Program } from '../../src/engine/program.js';
import { compilePlan } from '../../src/plan/compile.js';
import { Categorized } from '../../src/ops/aggregation.js';
import { bucketedAgg } from '../../src/ops/aggregations/bucketed.js';
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
const CATEGORIES = ['m1', 'm2', 'm3'];
const merchant = (x: Txn): string | null => x.merchant_id;

const topo = topology('aggs-bucketed', (b) => {
  const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time, grace: '30m', maxFutureSkew: null });
  const card = txns.groupBy('card', (x) => x.card_id);
  const h = card.lookback('1h');
  const features = txns.features('f', {
    n_by: h.countBy({ by: merchant, categories: CATEGORIES }),
    n_amounts_by: h.countBy((x) => x.amount, { by: merchant, maxCategories: 3 }),
    sum_by: h.sumBy((x) => x.amount, { by: merchant, categories: CATEGORIES }),
    top_sum_by: h.sumBy((x) => x.amount, { by: merchant, maxCategories: 2 }),
    mean_by: h.meanBy((x) => x.amount, { by: merchant, categories: CATEGORIES }),
    t_sum_by: card.lookback('2h', { tile: '30m' }).sumBy((x) => x.amount, { by: merchant, maxCategories: 2 }),
  });
  card.tumbling('1h', { emit: 'final' }).aggregate('hourly', (w) => ({
    mean_by: w.meanBy((x) => x.amount, { by: merchant, maxCategories: 3 }),
    n_by: w.countBy({ by: merchant, categories: CATEGORIES }),
    sum_by: w.sumBy((x) => x.amount, { by: merchant, categories: CATEGORIES }),
  }));
  return { features };
});

// RowOf types sums as numbers and means as number | null per category: this does not compile otherwise.
const typed: Pick<RowOf<typeof topo, 'features'>, 'sum_by' | 'mean_by' | 'n_by'> = { sum_by: { m1: 2.5 }, mean_by: { m1: null }, n_by: { m1: 3 } };
void typed;

const program: Program = buildProgram(compilePlan(topo, HERE));
const TXNS = cardEvents(17, 2000);

type Pairs = Array<[string, number | null]>;
const pairs = (v: unknown): Pairs => Object.entries(v as Record<string, number | null>);

/** Same keys in the same order; numbers equal to round-off (Python sums exactly, the engine compensates). */
function assertClose(got: Pairs, want: Pairs, what: string): void {
  assert.deepEqual(
    got.map(([k]) => k),
    want.map(([k]) => k),
    `${what}: keys`,
  );
  got.forEach(([k, x], i) => {
    const y = want[i][1];
    if (x === null || y === null) assert.equal(x, y, `${what} ${k}`);
    else assert.ok(Math.abs(x - y) <= 1e-12 * Math.abs(y) + 1e-9, `${what} ${k}: ${x} vs ${y}`);
  });
}

const FEATURES = [
  { name: 'n_by', agg: 'countBy', categories: CATEGORIES, window: HOUR },
  { name: 'n_amounts_by', agg: 'countBy', valued: true, maxCategories: 3, window: HOUR },
  { name: 'sum_by', agg: 'sumBy', categories: CATEGORIES, window: HOUR },
  { name: 'top_sum_by', agg: 'sumBy', maxCategories: 2, window: HOUR },
  { name: 'mean_by', agg: 'meanBy', categories: CATEGORIES, window: HOUR },
  { name: 't_sum_by', agg: 'sumBy', maxCategories: 2, window: 2 * HOUR, tile: 30 * MIN },
];
const WINDOW_AGGS = [
  { name: 'mean_by', agg: 'meanBy', maxCategories: 3 },
  { name: 'n_by', agg: 'countBy', categories: CATEGORIES },
  { name: 'sum_by', agg: 'sumBy', categories: CATEGORIES },
];

test('countBy, sumBy and meanBy equal brute force in Python, declared categories in order and "other" last, in lookback, tiled and tumbling windows', async () => {
  const out = await runAll(program, TXNS);
  const want = pythonExpected<{ features: Record<string, Pairs[]>; windows: Array<Record<string, unknown>> }>('test/python/aggregation_expected.py', {
    events: TXNS.map((e) => ({ key: e.card_id, t: e.event_time, amount: e.amount, merchant: e.merchant_id })),
    features: FEATURES,
    tumbling: { size: HOUR, aggs: WINDOW_AGGS },
  });
  const rows = rowsByName(out.features, program.outputs[0].columns);
  for (let i = 0; i < rows.length; i++) for (const { name } of FEATURES) assertClose(pairs(rows[i][name]), want.features[name][i], `event ${i} ${name}`);
  assert.ok(rows.some((r) => (r.top_sum_by as Record<string, number>).other > 0), 'some windows have more categories than the bound');
  assert.ok(rows.some((r) => (r.mean_by as Record<string, number | null>).m1 === null), 'some windows have an empty declared bucket');
  assert.ok(
    rows.some((r) => (r.n_amounts_by as Record<string, number>).other !== (r.n_by as Record<string, number>).other),
    'null amounts are not counted by countBy(value)',
  );
  const wanted = new Map(want.windows.map((w) => [`${String(w.key)}@${String(w.start)}`, w]));
  const names = program.windowOps[0].columns.map((c) => c.name);
  assert.ok(out.windows.length > 50);
  for (const w of out.windows) {
    const e = wanted.get(`${w.key}@${w.windowStart}`)!;
    names.forEach((name, i) => assertClose(pairs(w.values[i]), e[name] as Pairs, `window ${w.key}@${w.windowStart} ${name}`));
  }
});

test('bucketed: random batches, checkpoints and changelog rebuilds give the same rows bit for bit', () => assertBatchesAndChangelogRebuilds(program, TXNS, [8]));

test('bucketed: a crash and a restart from LevelDB continue bit for bit', () => assertCrashRestarts(program, TXNS, [7, 1100]));

test('bucketed: a state cache of one key gives the same rows bit for bit', () => assertTinyCache(program, TXNS));

test('bucketed: shuffled arrival within grace gives the same tumbling windows (counts exactly, sums and means to round-off)', async () => {
  const [ordered, shuffled] = orderedAndShuffled(TXNS, 4);
  const a = await runAll(program, ordered);
  const b = await runAll(program, shuffled);
  const other = new Map(b.windows.map((w) => [`${w.key}@${w.windowStart}`, w]));
  assert.ok(a.windows.length > 50);
  for (const w of a.windows) {
    const o = other.get(`${w.key}@${w.windowStart}`)!;
    assert.deepEqual(pairs(o.values[1]), pairs(w.values[1]), 'countBy');
    for (const i of [0, 2]) assertClose(pairs(o.values[i]), pairs(w.values[i]), `window ${w.key}@${w.windowStart} ${i}`);
  }
});

test('bucketed aggregates keep the changelog incremental: one entry per event, a head bounded by the categories', async () => {
  const { ops, eventEntries, headBytes } = await oneEventCheckpoint(HERE, (day) => ({
    n: day.countBy({ by: (x) => x.merchant_id, maxCategories: 100 }),
    s: day.sumBy((x) => x.amount, { by: (x) => x.merchant_id, categories: ['m1', 'm2', 'm3'] }),
    m: day.meanBy((x) => x.amount, { by: (x) => x.merchant_id, categories: ['m1', 'm2', 'm3'] }),
  }));
  assert.equal(eventEntries, 1, 'one event entry');
  assert.ok(ops.length <= 3, `ops: ${ops.map((o) => o.key).join(', ')}`);
  // Two aggregates of 4 buckets (n, sum, compensation) and no counts for countBy (rebuilt from the events).
  assert.ok(headBytes > 0 && headBytes < 200, `head of ${headBytes} bytes`);
});

test('the category function is part of the version, like the value function', () => {
  const version = (by: (x: Txn) => string | null, value: (x: Txn) => number | null): string =>
    compilePlan(
      topology('v', (b) => {
        const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time });
        return { features: txns.features('f', { s: txns.groupBy('card', (x) => x.card_id).lookback('1h').sumBy(value, { by, maxCategories: 2 }) }) };
      }),
      HERE,
    ).version;
  const base = version((x) => x.merchant_id, (x) => x.amount);
  assert.equal(version((x) => x.merchant_id, (x) => x.amount), base, 'same functions, same version');
  assert.notEqual(version((x) => x.card_id, (x) => x.amount), base, 'another category function');
  assert.notEqual(version((x) => x.merchant_id, (x) => (x.amount === null ? null : 2 * x.amount)), base, 'another value function');
});

test('bucketed by hand: most values first, equal counts in ascending order, the rest in "other"; empty buckets 0 / null; null categories skipped', () => {
  const ev = (c: string | null, x: number | null): Categorized | null => (c === null ? null : new Categorized(c, x));
  const sum = bucketedAgg('sum', { maxCategories: 2 }, true).create();
  const mean = bucketedAgg('mean', { categories: ['a', 'z'] }, true).create();
  const count = bucketedAgg('count', { maxCategories: 2 }, false).create();
  const events = [ev('b', 1), ev('a', 2), ev('c', 4), ev('c', 8), ev('b', 16), ev('a', 32), ev('d', 64), ev(null, 128), ev('a', null)];
  for (const e of events) for (const acc of [sum, mean, count]) acc.add(e, 0, 0);
  // Values: a 2 (a's null is skipped), b 2, c 2, d 1: a and b listed (ascending among equals), c and d are other.
  assert.deepEqual(pairs(sum.result()), [['a', 34], ['b', 17], ['other', 76]]);
  // Events: a 3, then b and c 2 each: b before c; the null category is skipped.
  assert.deepEqual(pairs(count.result()), [['a', 3], ['b', 2], ['other', 3]]);
  // a: (2 + 32) / 2; z has no event: null, not NaN; other: b, c, d = 93 / 5.
  assert.deepEqual(pairs(mean.result()), [['a', 17], ['z', null], ['other', 93 / 5]]);
  sum.remove(ev('a', 2), 0, 0);
  assert.deepEqual(pairs(sum.result()), [['b', 17], ['c', 12], ['other', 96]]);
  const empty = bucketedAgg('sum', { categories: ['a'] }, true).create();
  assert.deepEqual(pairs(empty.result()), [['a', 0], ['other', 0]]);
});

test('bucketed in plan: the category function goes through the schema field check; maxCategories warns; bad options are one-line errors', async () => {
  const { checkTopologyFields } = await import('../../src/schemas/topology-field-check.js');
  const { planWarnings } = await import('../../src/plan/plan-warnings.js');
  const plan = compilePlan(
    topology('checked', (b) => {
      const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time });
      const week = txns.groupBy('card', (x) => x.card_id).lookback('7d');
      txns.features('f', {
        spend: week.sumBy((x) => x.amount, { by: (x) => (x as unknown as { no_such_field: string }).no_such_field, maxCategories: 3 }),
        fine: week.meanBy((x) => x.amount, { by: (x) => x.merchant_id, categories: ['m1'] }),
      });
      return {};
    }),
    HERE,
  );
  const problems = checkTopologyFields(plan);
  assert.equal(problems.length, 1);
  assert.match(problems[0].message, /the category of feature spend \(sumBy\)/);
  assert.deepEqual(planWarnings(plan), ['feature f.spend: sumBy with maxCategories keeps a sum and count per distinct category of its window in state (per key); declare categories: [...] to bound it']);
  const declare = (build: (week: ReturnType<Group<Txn>['lookback']>) => unknown): void => {
    topology('bad', (b) => {
      const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time });
      build(txns.groupBy('card', (x) => x.card_id).lookback('7d'));
      return {};
    });
  };
  assert.throws(() => declare((w) => w.sumBy((x) => x.amount, { by: (x: Txn) => x.merchant_id } as never)), /^Error: sumBy: declare exactly one of categories \(strings\) or maxCategories \(a bound\)$/);
  assert.throws(() => declare((w) => w.meanBy((x) => x.amount, { maxCategories: 2 } as never)), /^Error: meanBy: give the category function as \{ by: \(x\) => x.<field>, categories: \[...\] \} or \{ by, maxCategories: n \}$/);
  assert.throws(() => declare((w) => w.countBy({ by: (x) => x.merchant_id, categories: ['US', 'other'] })), /countBy: categories must be distinct strings, at least one, and not "other"/);
  assert.throws(() => declare((w) => w.countBy({ by: (x) => x.merchant_id, maxCategories: 0 })), /countBy maxCategories: k must be an integer from 1 to 10,000/);
});
