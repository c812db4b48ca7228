/** Plan-time checks of the aggregations: state-size warnings, parameter errors, schema field types. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology, type Group } from '../../src/dsl/index.js';
import { compilePlan } from '../../src/plan/compile.js';
import { planWarnings } from '../../src/plan/plan-warnings.js';
import { renderPlan } from '../../src/plan/render-plan.js';
import { checkTopologyFields } from '../../src/schemas/topology-field-check.js';

const HERE = fileURLToPath(import.meta.url);
type Txn = { card_id: string; merchant_id: string; event_time: number };

test('plan warns about an unbounded exact countDistinct and mostFrequent (features and windows), not about a bounded countDistinct', () => {
  const topo = topology('warn', (b) => {
    const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time });
    const card = txns.groupBy('card', (x) => x.card_id);
    txns.features('f', {
      merchants: card.lookback('7d').countDistinct((x) => x.merchant_id),
      merchants_bounded: card.lookback('7d').countDistinct((x) => x.merchant_id, { exactUpTo: 500 }),
    });
    card.tumbling('1d').aggregate('daily', (w) => ({
      merchants: w.countDistinct((x) => x.merchant_id),
      top_merchants: w.mostFrequent((x) => x.merchant_id, 3),
      by_merchant: w.histogram((x) => x.merchant_id, { maxCategories: 5 }),
      declared: w.histogram((x) => x.merchant_id, { categories: ['m1'] }),
    }));
    return {};
  });
  const warnings = planWarnings(compilePlan(topo, HERE));
  assert.equal(warnings.length, 4, warnings.join('\n'));
  assert.match(warnings[0], /^feature f\.merchants: countDistinct keeps every distinct value .* exactUpTo/);
  assert.match(warnings[1], /^window daily\.by_merchant: histogram with maxCategories keeps a count per distinct category/);
  assert.match(warnings[2], /^window daily\.merchants: /);
  assert.match(warnings[3], /^window daily\.top_merchants: mostFrequent keeps a count per distinct value/);
});

test('bad parameters of the new aggregations are one-line errors saying what is allowed', () => {
  const build = (fn: (card: Group<Txn>) => unknown) =>
    topology('bad', (b) => {
      fn(b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time }).groupBy('card', (x) => x.card_id));
      return {};
    });
  assert.throws(() => build((c) => c.lookback('1h').quantile((x) => x.event_time, 1.5)), /quantile: q must be a number from 0 to 1 \(got 1\.5\)/);
  assert.throws(() => build((c) => c.lookback('1h').quantile((x) => x.event_time, 0.5, { relativeError: 0 })), /relativeError must be from 0\.0001 to 0\.5/);
  assert.throws(() => build((c) => c.lookback('1h').countDistinct((x) => x.merchant_id, { exactUpTo: 0 })), /exactUpTo must be an integer from 1/);
  assert.throws(() => build((c) => c.lookback('1h').countDistinct((x) => x.merchant_id, { precision: 12 })), /precision needs exactUpTo/);
  assert.throws(() => build((c) => c.lookback('1h').histogram((x) => x.event_time, { bins: [3, 1] })), /bins must be at least 2 finite, increasing edges \(got \[3, 1\]\)/);
  assert.throws(() => build((c) => c.lookback('1h').histogram((x) => x.merchant_id, { categories: ['a', 'other'] })), /not "other"/);
  assert.throws(() => build((c) => c.lookback('1h').topK((x) => x.event_time, 0)), /topK: k must be an integer from 1 to 10,000 \(got 0\)/);
});

test('the schema field check knows the new aggregations: numeric ones refuse a string field, string ones a number', () => {
  const topo = topology('typed', (b) => {
    const txns = b.source<Txn & { amount: number }>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time });
    const week = txns.groupBy('card', (x) => x.card_id).lookback('7d');
    txns.features('f', {
      p90: week.quantile((x) => x.merchant_id as unknown as number, 0.9),
      top: week.topK((x) => x.card_id as unknown as number, 3),
      frequent: week.mostFrequent((x) => x.amount as unknown as string, 2),
      binned_merchants: week.histogram((x) => x.merchant_id as unknown as number, { bins: [0, 1] }),
      last_merchants: week.lastK((x) => x.amount as unknown as string, 2, { type: 'string' }),
      fine_skew: week.skewness((x) => x.amount),
      fine_first: week.first((x) => x.merchant_id, { type: 'string' }),
    });
    return {};
  });
  const problems = checkTopologyFields(compilePlan(topo, HERE));
  assert.deepEqual(problems.map((p) => `${p.path}: ${p.rule}`).sort(), ['txns.amount: topology-field-not-string', 'txns.card_id: topology-field-not-numeric', 'txns.merchant_id: topology-field-not-numeric']);
  assert.match(problems.find((p) => p.path === 'txns.merchant_id')!.message, /feature binned_merchants \(histogram\)/);
  const notString = problems.find((p) => p.rule === 'topology-field-not-string')!;
  assert.match(notString.message, /feature frequent \(mostFrequent\), feature last_merchants \(lastK\)/);
  assert.match(notString.message, /which is double, not a string/);
});

test('plan warns about a table no feature looks up, and shows it as unused rather than as labels', () => {
  type Limit = { card_id: string; valid_from: number; limit_usd: number };
  const topo = topology('unused-table', (b) => {
    const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time });
    b.table<Limit>('card_limits', { schema: '../../schemas/card_limit.avsc', key: (l) => l.card_id, validFrom: (l) => l.valid_from, retention: '30d' });
    txns.features('f', { n: txns.groupBy('card', (x) => x.card_id).lookback('1h').count() });
    return {};
  });
  const plan = compilePlan(topo, HERE);
  assert.deepEqual(
    planWarnings(plan).filter((w) => w.startsWith('table')),
    ['table card_limits: no feature looks it up (asOf), so it is not read; remove it or add a lookup'],
  );
  assert.match(renderPlan(plan), /\[unused table\] card_limits/);
});
