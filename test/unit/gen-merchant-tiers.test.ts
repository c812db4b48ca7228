import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateCardTransactions, highRiskMerchants } from '../../src/gen/card-transactions.js';
import { merchantTierVersions, type MerchantTier } from '../../src/gen/merchant-tiers.js';

const DAY = 86_400_000;
const SEED = 2026;
// Large enough that every merchant has transactions and the fraud bursts' favourites stand out.
const BIG = generateCardTransactions({ events: 100_000, seed: SEED });
const { merchants, start, endTime } = BIG.summary;
const TIERS = merchantTierVersions({ seed: SEED, merchants, start, end: endTime });

function byMerchant(versions: readonly MerchantTier[]): Map<string, MerchantTier[]> {
  const out = new Map<string, MerchantTier[]>();
  for (const v of versions) out.set(v.merchant_id, [...(out.get(v.merchant_id) ?? []), v]);
  return out;
}

test('merchant tiers: the same seed gives the same versions, another seed others', () => {
  const again = merchantTierVersions({ seed: SEED, merchants, start, end: endTime });
  assert.equal(JSON.stringify(again), JSON.stringify(TIERS));
  // Two seeds whose merchants have the same leans, so only the tiers' own stream can tell them apart.
  const favourites = (seed: number): string => JSON.stringify(highRiskMerchants(seed, 50));
  const seeds = Array.from({ length: 200 }, (_, i) => i);
  const a = seeds.find((s) => seeds.some((o) => o > s && favourites(o) === favourites(s)))!;
  const b = seeds.find((o) => o > a && favourites(o) === favourites(a))!;
  const tiersOf = (seed: number): string => JSON.stringify(merchantTierVersions({ seed, merchants: 50, start, end: endTime }));
  assert.notEqual(tiersOf(a), tiersOf(b), `seeds ${a} and ${b}`);
});

test('merchant tiers: sorted by (valid_from, merchant_id), as the topic would hold them', () => {
  for (let i = 1; i < TIERS.length; i++) {
    const [a, b] = [TIERS[i - 1]!, TIERS[i]!];
    assert.ok(a.valid_from < b.valid_from || (a.valid_from === b.valid_from && a.merchant_id < b.merchant_id), `versions ${i - 1} and ${i} out of order`);
  }
});

test('merchant tiers: the table has exactly the merchants the transactions use', () => {
  const inTable = new Set(TIERS.map((v) => v.merchant_id));
  const inTransactions = new Set(BIG.transactions.map((x) => x.merchant_id));
  assert.equal(inTable.size, merchants, 'one entry per merchant of the summary');
  assert.deepEqual([...inTable].sort(), [...inTransactions].sort());
  // A small data set need not reach every merchant, but each one it reaches has a tier.
  const small = generateCardTransactions({ events: 300, seed: 42 });
  const s = small.summary;
  const smallTable = new Set(merchantTierVersions({ seed: 42, merchants: s.merchants, start: s.start, end: s.endTime }).map((v) => v.merchant_id));
  for (const x of small.transactions) assert.ok(smallTable.has(x.merchant_id), `${x.merchant_id} has a tier`);
});

test('merchant tiers: a first version 0 to 28 days before the start, changes up to the snapshot end, whole minutes', () => {
  let changesInData = 0;
  for (const [merchant, vs] of byMerchant(TIERS)) {
    assert.ok(vs[0]!.valid_from <= start && vs[0]!.valid_from > start - 28 * DAY, `${merchant}: first version within 28 days before the start`);
    for (const v of vs) assert.ok(v.valid_from <= endTime && v.valid_from % 60_000 === 0, `${merchant}: ${v.valid_from}`);
    for (let i = 1; i < vs.length; i++) assert.notEqual(vs[i]!.risk_tier, vs[i - 1]!.risk_tier, `${merchant}: a version changes the tier`);
    changesInData += vs.filter((v) => v.valid_from > start).length;
  }
  // About one change per merchant and 20 days over the ~66 days of data.
  const days = (endTime - start) / DAY;
  const daysPerChange = (merchants * days) / changesInData;
  assert.ok(daysPerChange > 15 && daysPerChange < 25, `a change per ${daysPerChange.toFixed(1)} days`);
});

test('merchant tiers: tiers are low, medium or high, with a two-decimal score in the tier\'s band', () => {
  const band = (score: number): string => (score <= 0.33 ? 'low' : score <= 0.66 ? 'medium' : 'high');
  const seen = new Set<string>();
  for (const v of TIERS) {
    assert.ok(['low', 'medium', 'high'].includes(v.risk_tier), v.risk_tier);
    assert.ok(v.tier_score >= 0 && v.tier_score <= 1, `${v.tier_score}`);
    assert.equal(v.tier_score, Number(v.tier_score.toFixed(2)), `${v.tier_score} has two decimals`);
    assert.equal(band(v.tier_score), v.risk_tier, `${v.merchant_id}: score ${v.tier_score} for tier ${v.risk_tier}`);
    seen.add(v.risk_tier);
  }
  assert.equal(seen.size, 3);
});

test('merchant tiers: the merchants fraud bursts favour lean to higher tiers', () => {
  // Which merchants those are, read from the data: they hold most of the fraudulent transactions.
  const fraudCount = new Map<string, number>();
  for (const x of BIG.transactions) if (BIG.fraudTxnIds.has(x.txn_id)) fraudCount.set(x.merchant_id, (fraudCount.get(x.merchant_id) ?? 0) + 1);
  const favoured = new Set([...fraudCount].filter(([, n]) => n >= 10).map(([m]) => m));
  assert.deepEqual(
    [...favoured].sort(),
    highRiskMerchants(SEED, merchants).map((m) => `mer-${String(m).padStart(5, '0')}`),
  );
  const highShare = (pick: (m: string) => boolean): number => {
    const vs = TIERS.filter((v) => pick(v.merchant_id));
    return vs.filter((v) => v.risk_tier === 'high').length / vs.length;
  };
  const favouredHigh = highShare((m) => favoured.has(m));
  const othersHigh = highShare((m) => !favoured.has(m));
  assert.ok(favouredHigh > 0.35 && othersHigh < 0.2, `share of high versions: favoured ${favouredHigh}, others ${othersHigh}`);
});
