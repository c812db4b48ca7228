/**
 * The newer aggregations in hopping, session and calendar windows (lookback and tumbling have
 * their own tests): every final window row against a brute force over the events its key has
 * in that window, computed here without the engine. Hopping windows fold each event into
 * several windows; session windows merge accumulators when sessions join, so merge() of every
 * aggregation is exercised too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import type { WindowRowOut } from '../../src/engine/outputs.js';
import { buildProgram, type Program } from '../../src/engine/program.js';
import { compilePlan } from '../../src/plan/compile.js';
import { cardEvents, HOUR, MIN, runAll, type Txn } from '../helpers/aggregation-runs.js';
import { assertClose } from '../helpers/engine.js';

const HERE = fileURLToPath(import.meta.url);
const CATEGORIES = ['m1', 'm2', 'm3'];
const merchant = (x: Txn): string | null => x.merchant_id;
const SESSION_GAP = 20 * MIN;

const topo = topology('aggs-window-kinds', (b) => {
  const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time, grace: '30m', maxFutureSkew: null });
  const card = txns.groupBy('card', (x) => x.card_id);
  const aggs = (w: Parameters<Parameters<ReturnType<typeof card.hopping>['aggregate']>[1]>[0]) => ({
    n_by: w.countBy({ by: merchant, categories: CATEGORIES }),
    sum_by: w.sumBy((x) => x.amount, { by: merchant, categories: CATEGORIES }),
    mean_by: w.meanBy((x) => x.amount, { by: merchant, categories: CATEGORIES }),
    first: w.first((x) => x.amount),
    last2: w.lastK((x) => x.amount, 2),
    top3: w.topK((x) => x.amount, 3),
    median: w.quantile((x) => x.amount, 0.5),
  });
  card.hopping('2h', '30m', { emit: 'final' }).aggregate('hopping', aggs);
  card.session('20m', { emit: 'final' }).aggregate('sessions', aggs);
  card.calendar('day', 'America/New_York', { emit: 'final' }).aggregate('days', aggs);
  return {};
});

const program: Program = buildProgram(compilePlan(topo, HERE));
const TXNS = cardEvents(23, 2500);

/** Cents are integers: sums of them are exact in doubles, an independent reference for the engine's compensated sums. */
const cents = (a: number): number => Math.round(a * 100);

interface Expected {
  n_by: Record<string, number>;
  sum_by: Record<string, number>;
  mean_by: Record<string, number | null>;
  first: number | null;
  last2: number[];
  top3: number[];
  median: number | null;
}

/** The aggregates of the events (in arrival order) that fall in a window, by the definitions in the DSL's doc comments. */
function bruteForce(events: ReadonlyArray<{ txn: Txn; arrival: number }>): Expected {
  const buckets = [...CATEGORIES, 'other'];
  const n: Record<string, number> = Object.fromEntries(buckets.map((c) => [c, 0]));
  const sumCents: Record<string, number> = Object.fromEntries(buckets.map((c) => [c, 0]));
  const valued: Record<string, number> = Object.fromEntries(buckets.map((c) => [c, 0]));
  for (const { txn } of events) {
    if (txn.merchant_id === null) continue;
    const b = CATEGORIES.includes(txn.merchant_id) ? txn.merchant_id : 'other';
    n[b]++;
    if (txn.amount !== null) {
      sumCents[b] += cents(txn.amount);
      valued[b]++;
    }
  }
  const withAmount = events.filter((e) => e.txn.amount !== null);
  // By event time, then arrival: the first is the earliest, lastK the newest first.
  const byTime = [...withAmount].sort((a, b) => a.txn.event_time - b.txn.event_time || a.arrival - b.arrival);
  const amounts = withAmount.map((e) => e.txn.amount!).sort((a, b) => a - b);
  let median: number | null = null;
  if (amounts.length > 0) {
    // numpy's default (linear) quantile.
    const pos = 0.5 * (amounts.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    median = amounts[lo] + (amounts[hi] - amounts[lo]) * (pos - lo);
  }
  return {
    n_by: n,
    sum_by: Object.fromEntries(buckets.map((c) => [c, sumCents[c] / 100])),
    mean_by: Object.fromEntries(buckets.map((c) => [c, valued[c] === 0 ? null : sumCents[c] / 100 / valued[c]])),
    first: byTime.length > 0 ? byTime[0].txn.amount : null,
    last2: byTime.slice(-2).reverse().map((e) => e.txn.amount!),
    top3: [...amounts].reverse().slice(0, 3),
    median,
  };
}

function check(rows: readonly WindowRowOut[], output: string, inWindow: (t: number, row: WindowRowOut) => boolean): number {
  const op = program.windowOps.find((w) => w.name === output)!;
  const col = (name: string): number => op.columns.findIndex((c) => c.name === name);
  const arrivals = TXNS.map((txn, arrival) => ({ txn, arrival }));
  let checked = 0;
  for (const row of rows.filter((r) => r.output === output && r.final)) {
    const what = `${output} ${row.key} [${new Date(row.windowStart).toISOString()}, ${new Date(row.windowEnd).toISOString()})`;
    const events = arrivals.filter((e) => e.txn.card_id === row.key && inWindow(e.txn.event_time, row));
    assert.ok(events.length > 0, `${what}: a window without events`);
    const want = bruteForce(events);
    const got = (name: string): unknown => row.values[col(name)];
    assert.deepEqual({ ...(got('n_by') as object) }, want.n_by, `${what}: countBy`);
    assert.deepEqual(Object.keys(got('sum_by') as object), [...CATEGORIES, 'other'], `${what}: declared categories in order, "other" last`);
    for (const c of [...CATEGORIES, 'other']) {
      assertClose((got('sum_by') as Record<string, number>)[c], want.sum_by[c], `${what}: sumBy ${c}`);
      assertClose((got('mean_by') as Record<string, number | null>)[c], want.mean_by[c], `${what}: meanBy ${c}`);
    }
    assert.equal(got('first'), want.first, `${what}: first`);
    assert.deepEqual(got('last2'), want.last2, `${what}: lastK`);
    assert.deepEqual(got('top3'), want.top3, `${what}: topK`);
    assertClose(got('median'), want.median, `${what}: quantile 0.5`);
    checked++;
  }
  return checked;
}

test('hopping, session and calendar windows: bucketed, first, lastK, topK and quantile equal a brute force over each window\'s events', async () => {
  const out = await runAll(program, TXNS);
  const hopping = check(out.windows, 'hopping', (t, r) => t >= r.windowStart && t < r.windowEnd);
  // A session runs from its first event to its last + the gap.
  const sessions = check(out.windows, 'sessions', (t, r) => t >= r.windowStart && t <= r.windowEnd - SESSION_GAP);
  const days = check(out.windows, 'days', (t, r) => t >= r.windowStart && t < r.windowEnd);
  assert.ok(hopping > 100 && sessions > 50 && days >= 8, `windows checked: ${hopping} hopping, ${sessions} sessions, ${days} days`);
  // Hopping windows of 2 h every 30 min: an event is in 4 of them.
  assert.ok(out.windows.some((r) => r.output === 'hopping' && r.windowEnd - r.windowStart === 2 * HOUR));
});
