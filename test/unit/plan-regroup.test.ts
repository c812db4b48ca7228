/**
 * Plans of regrouped topologies: asOf is required where it means something and refused where
 * it does not, and the canonical plan gains fields only when a topology uses them (existing
 * topology versions stay; plan-version.test.ts checks those).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import { compilePlan } from '../../src/plan/compile.js';

const HERE = fileURLToPath(import.meta.url);
type Txn = { card_id: string; merchant_id: string; amount: number; event_time: number };

function build(asOf: '1m' | '2m' | undefined, onCard = false) {
  return topology('regroup-plan', (t) => {
    const txns = t.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time });
    const card = txns.groupBy('card', (x) => x.card_id);
    const merchant = txns.regroupBy('merchant', (x) => x.merchant_id);
    txns.features('f', {
      card_n: card.lookback('1h', onCard ? { asOf: '1m' } : {}).count(),
      m_n: merchant.lookback('1h', asOf === undefined ? {} : { asOf }).count(),
    });
    return {};
  });
}

test('a lookback of a regrouped group without asOf is a plan error that says why and how', () => {
  assert.throws(() => compilePlan(build(undefined), HERE), /feature m_n: a lookback of regrouped group merchant needs asOf.*lookback\('1h', \{ asOf: '5m' \}\).*does not depend on which partition/);
});

test('asOf on a group within the partition key is refused', () => {
  assert.throws(() => compilePlan(build('1m', true), HERE), /feature card_n: asOf is for groups declared with regroupBy.*remove asOf/);
});

test('the canonical plan marks the regrouping and the lag, and the lag is part of the version', () => {
  const a = compilePlan(build('1m'), HERE);
  const b = compilePlan(build('2m'), HERE);
  const canonical = a.canonical as { groups: Array<Record<string, unknown>>; outputs: Array<{ features: Array<[string, Record<string, unknown>]> }> };
  assert.deepEqual(canonical.groups.map((g) => [g.name, g.regroup]), [['card', undefined], ['merchant', true]]);
  const features = Object.fromEntries(canonical.outputs[0].features);
  assert.equal(features.m_n.asOf, '1m');
  assert.equal('asOf' in features.card_n, false, 'features without a lag keep their old canonical form');
  assert.notEqual(a.version, b.version);
});
