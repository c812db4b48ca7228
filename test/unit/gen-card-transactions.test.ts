import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_START,
  cardEventStream,
  generateCardTransactions,
  type CardStreamItem,
} from '../../src/gen/card-transactions.js';
import { latenessShares, measureLateness } from '../../src/gen/lateness.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

// One mid-sized dataset shared by the statistical tests (~0.2 s to generate).
const BIG = generateCardTransactions({ events: 100_000, seed: 2026 });

test('same seed → identical output; different seed → different output', () => {
  const a = generateCardTransactions({ events: 5_000, seed: 11 });
  const b = generateCardTransactions({ events: 5_000, seed: 11 });
  const c = generateCardTransactions({ events: 5_000, seed: 12 });
  assert.equal(JSON.stringify(a.transactions), JSON.stringify(b.transactions));
  assert.equal(JSON.stringify(a.chargebacks), JSON.stringify(b.chargebacks));
  assert.deepEqual(a.summary, b.summary);
  assert.notEqual(JSON.stringify(a.transactions), JSON.stringify(c.transactions));
  assert.equal(a.transactions.length, 5_000);
  assert.equal(c.transactions.length, 5_000);
});

test('the streaming generator yields the same records as the array API, merged in arrival order', () => {
  const opts = { events: 20_000, seed: 5 };
  const arrays = generateCardTransactions(opts);
  const tx: unknown[] = [];
  const cb: unknown[] = [];
  let last = -Infinity;
  let item: IteratorResult<CardStreamItem>;
  const it = cardEventStream(opts);
  while (!(item = it.next()).done) {
    const v = item.value;
    assert.ok(v.arrival >= last, 'merged stream must be in arrival order');
    last = v.arrival;
    if (v.topic === 'transactions') tx.push(v.value);
    else {
      assert.equal(v.arrival, v.value.reported_at);
      cb.push(v.value);
    }
  }
  assert.deepEqual(tx, arrays.transactions);
  assert.deepEqual(cb, arrays.chargebacks);
  assert.deepEqual(item.value, arrays.summary);
});

test('records are well formed', () => {
  const { transactions, summary } = BIG;
  const ids = new Set<string>();
  let usd = 0;
  for (const t of transactions) {
    assert.match(t.txn_id, /^tx-[0-9a-f]{8}$/);
    assert.match(t.card_id, /^card-\d{6}$/);
    assert.match(t.merchant_id, /^mer-\d{5}$/);
    assert.ok(t.amount > 0 && Number.isFinite(t.amount));
    assert.equal(Math.round(t.amount * 100) / 100, t.amount, `amount ${t.amount} has more than 2 decimals`);
    assert.ok(Number.isSafeInteger(t.event_time) && t.event_time >= DEFAULT_START);
    assert.match(t.currency, /^[A-Z]{3}$/);
    assert.match(t.country, /^[A-Z]{2}$/);
    assert.deepEqual(Object.keys(t), ['txn_id', 'card_id', 'merchant_id', 'amount', 'currency', 'amount_usd', 'event_time', 'country']);
    ids.add(t.txn_id);
    if (t.currency === 'USD') usd++;
  }
  assert.equal(ids.size, transactions.length, 'txn ids are unique');
  assert.ok(usd / transactions.length > 0.7, `USD share ${usd / transactions.length}`);
  assert.equal(summary.events, transactions.length);
  assert.equal(summary.cards, 1000);
  assert.ok(summary.endTime >= summary.maxEventTime);
  // ~100 transactions per card at 1.5/day → roughly two months of data
  const spanDays = (summary.endTime - DEFAULT_START) / DAY;
  assert.ok(spanDays > 45 && spanDays < 90, `span ${spanDays} days`);
});

/** The fixed rates the README documents (units per US dollar), read from the README rather than the generator. */
function readmeRates(): Record<string, number> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const m = /Fixed rates \(units per US dollar\):([^.]*(?:\.\d[^.]*)*)\./.exec(readme);
  assert.ok(m, 'the README lists the fixed rates');
  return Object.fromEntries([...m[1].matchAll(/([A-Z]{3}) (\d+(?:\.\d+)?)/g)].map(([, c, r]) => [c, Number(r)]));
}

test('amount_usd is the amount converted at the documented fixed rate, so amounts compare across currencies', () => {
  const README_RATES = readmeRates();
  assert.equal(Object.keys(README_RATES).length, 16);
  const currencies = new Set<string>();
  let maxUsd = 0;
  for (const t of BIG.transactions) {
    const rate = README_RATES[t.currency];
    assert.ok(rate !== undefined, `currency ${t.currency} is in the README's table`);
    currencies.add(t.currency);
    assert.equal(t.amount_usd, Math.round((t.amount / rate) * 100) / 100, `${t.txn_id}: ${t.amount} ${t.currency}`);
    if (t.amount_usd > maxUsd) maxUsd = t.amount_usd;
  }
  assert.ok(currencies.size >= 10, `many currencies (${[...currencies].join(' ')})`);
  // Draws are capped at 25,000 USD (legitimate) and 9,999 USD (fraud); rounding adds at most a cent.
  assert.ok(maxUsd > 1000 && maxUsd <= 25_000.01, `largest amount_usd ${maxUsd}`);
});

test('arrival order: arrivals non-decreasing, delay between 0 and 30 h', () => {
  const { transactions, arrivals, summary } = BIG;
  for (let i = 0; i < transactions.length; i++) {
    if (i > 0) assert.ok(arrivals[i]! >= arrivals[i - 1]!);
    const delay = arrivals[i]! - transactions[i]!.event_time;
    assert.ok(delay >= 0 && delay <= 30 * HOUR, `delay ${delay}`);
  }
  assert.equal(summary.endTime, arrivals[arrivals.length - 1]);
});

test('lateness profile: a few percent minutes late, a fraction of a percent hours late', () => {
  const p = measureLateness(BIG.transactions, (t) => t.event_time, (t) => t.card_id);
  const s = latenessShares(p.stream, p.total);
  // stream: behind the max event time seen before it in the whole topic
  assert.ok(s.inOrder > 0.95 && s.inOrder < 0.985, `in order ${s.inOrder}`);
  assert.ok(s.minutes > 0.015 && s.minutes < 0.045, `minutes late ${s.minutes}`);
  assert.ok(s.hours > 0.0015 && s.hours < 0.005, `hours late ${s.hours}`);
  assert.ok(s.underSecond + s.underMinute < 0.01, `slightly late ${s.underSecond + s.underMinute}`);
  assert.ok(p.stream.maxLagMs > 20 * HOUR && p.stream.maxLagMs <= 30 * HOUR);
  // per card: most cards are sparse, so far fewer records are out of order per key
  const k = latenessShares(p.perKey, p.total);
  assert.ok(k.inOrder > 0.99, `per-card in order ${k.inOrder}`);
  assert.ok(k.hours > 0.0005 && k.hours < 0.004, `per-card hours late ${k.hours}`);
  assert.ok(k.minutes > 0, 'fraud bursts and heavy users produce some per-card minute lateness');
});

test('lateness can be switched off', () => {
  const g = generateCardTransactions({ events: 20_000, seed: 3, lateMinutesRate: 0, lateHoursRate: 0 });
  const p = measureLateness(g.transactions, (t) => t.event_time, (t) => t.card_id);
  assert.equal(p.stream.minutes + p.stream.hours, 0);
  assert.ok(p.stream.maxLagMs < 100);
});

test('every chargeback refers to an existing transaction and arrives after it', () => {
  const { transactions, arrivals, chargebacks, fraudTxnIds, summary } = BIG;
  const index = new Map<string, number>();
  transactions.forEach((t, i) => index.set(t.txn_id, i));
  let last = -Infinity;
  const seen = new Set<string>();
  let fraudCb = 0;
  for (const cb of chargebacks) {
    const i = index.get(cb.txn_id);
    assert.ok(i !== undefined, `chargeback for unknown txn ${cb.txn_id}`);
    const t = transactions[i]!;
    assert.equal(cb.card_id, t.card_id);
    assert.ok(cb.reported_at > arrivals[i]!, 'chargeback arrives after its transaction');
    const age = cb.reported_at - t.event_time;
    assert.ok(age >= DAY && age <= 40 * DAY, `chargeback after ${age / DAY} days`);
    assert.ok(cb.reported_at <= summary.endTime, 'only labels reported by the snapshot end');
    assert.ok(cb.reported_at >= last, 'chargebacks in arrival order');
    last = cb.reported_at;
    assert.ok(!seen.has(cb.txn_id), 'at most one chargeback per transaction');
    seen.add(cb.txn_id);
    assert.ok(cb.reason.length > 0);
    if (fraudTxnIds.has(cb.txn_id)) {
      fraudCb++;
      assert.match(cb.reason, /fraud|counterfeit|unauthorized/);
    }
  }
  assert.equal(summary.chargebacks, chargebacks.length);
  assert.equal(summary.fraudChargebacks, fraudCb);
  const falseCb = chargebacks.length - fraudCb;
  assert.ok(falseCb > 0 && falseCb < chargebacks.length * 0.2, `false chargebacks ${falseCb}`);
  // maturity: old fraud is mostly labelled, recent fraud mostly not yet
  let oldFraud = 0;
  let oldLabelled = 0;
  let recentFraud = 0;
  let recentLabelled = 0;
  for (const t of transactions) {
    if (!fraudTxnIds.has(t.txn_id)) continue;
    const old = t.event_time < summary.endTime - 40 * DAY;
    if (old) {
      oldFraud++;
      if (seen.has(t.txn_id)) oldLabelled++;
    } else if (t.event_time > summary.endTime - 7 * DAY) {
      recentFraud++;
      if (seen.has(t.txn_id)) recentLabelled++;
      if (t.event_time > summary.endTime - DAY) assert.ok(!seen.has(t.txn_id), 'no label within a day');
    }
  }
  assert.ok(oldFraud > 0 && oldLabelled / oldFraud > 0.75 && oldLabelled / oldFraud < 0.95, `${oldLabelled}/${oldFraud}`);
  assert.ok(recentFraud > 0 && recentLabelled / recentFraud < 0.5, `${recentLabelled}/${recentFraud}`);
});

test('fraud: a small rate, larger amounts, new merchants, often abroad, in bursts of minutes', () => {
  const { transactions, fraudTxnIds, summary } = BIG;
  const rate = summary.fraudTransactions / summary.events;
  assert.equal(fraudTxnIds.size, summary.fraudTransactions);
  assert.ok(rate > 0.002 && rate < 0.012, `fraud rate ${rate}`);
  const usd = (f: boolean) =>
    transactions.filter((t) => fraudTxnIds.has(t.txn_id) === f && t.currency === 'USD').map((t) => t.amount).sort((a, b) => a - b);
  const median = (xs: number[]) => xs[xs.length >> 1]!;
  assert.ok(median(usd(true)) > 3 * median(usd(false)), 'fraud amounts are larger');
  const foreign = (f: boolean) => {
    const xs = transactions.filter((t) => fraudTxnIds.has(t.txn_id) === f);
    return xs.filter((t) => t.country !== 'US').length / xs.length;
  };
  assert.ok(foreign(true) > 0.5 && foreign(false) < 0.25, `abroad: fraud ${foreign(true)} legit ${foreign(false)}`);
  // bursts: consecutive fraud events on a card are minutes apart
  const byCard = new Map<string, number[]>();
  for (const t of transactions) if (fraudTxnIds.has(t.txn_id)) (byCard.get(t.card_id) ?? byCard.set(t.card_id, []).get(t.card_id)!).push(t.event_time);
  let closeGaps = 0;
  let gaps = 0;
  for (const times of byCard.values()) {
    times.sort((a, b) => a - b);
    for (let i = 1; i < times.length; i++) {
      gaps++;
      if (times[i]! - times[i - 1]! <= 7 * 60_000) closeGaps++;
    }
  }
  assert.ok(gaps > 0 && closeGaps / gaps > 0.8, `burst gaps ${closeGaps}/${gaps}`);
});

test('realistic behaviour: heavy and light cards, night is quiet, favourite merchants dominate', () => {
  const { transactions, fraudTxnIds } = BIG;
  const perCard = new Map<string, number>();
  for (const t of transactions) perCard.set(t.card_id, (perCard.get(t.card_id) ?? 0) + 1);
  const counts = [...perCard.values()].sort((a, b) => b - a);
  const top1 = counts.slice(0, 10).reduce((a, b) => a + b, 0) / transactions.length;
  assert.ok(top1 > 0.05, `top 1% of cards carry ${top1}`);
  assert.ok(counts[0]! > 10 * counts[counts.length >> 1]!, 'heaviest card ≫ median card');
  // daily seasonality for legit US transactions (home time zone UTC-5)
  const hours = new Array(24).fill(0);
  for (const t of transactions) {
    if (t.country !== 'US' || fraudTxnIds.has(t.txn_id)) continue;
    hours[(new Date(t.event_time).getUTCHours() + 24 - 5) % 24]++;
  }
  const night = hours[2] + hours[3] + hours[4];
  const midday = hours[11] + hours[12] + hours[13];
  assert.ok(night * 5 < midday, `night ${night} vs midday ${midday}`);
  // favourite merchants: a card's top 3 merchants cover most of its legit spend count
  let top3 = 0;
  let all = 0;
  const cardMerchants = new Map<string, Map<string, number>>();
  for (const t of transactions) {
    if (fraudTxnIds.has(t.txn_id)) continue;
    const m = cardMerchants.get(t.card_id) ?? cardMerchants.set(t.card_id, new Map()).get(t.card_id)!;
    m.set(t.merchant_id, (m.get(t.merchant_id) ?? 0) + 1);
  }
  for (const m of cardMerchants.values()) {
    const c = [...m.values()].sort((a, b) => b - a);
    const n = c.reduce((a, b) => a + b, 0);
    if (n < 50) continue;
    all += n;
    top3 += c.slice(0, 3).reduce((a, b) => a + b, 0);
  }
  assert.ok(top3 / all > 0.45, `top-3 merchant share ${top3 / all}`);
});

test('options are validated and explicit cards/merchants/start are honoured', () => {
  assert.throws(() => generateCardTransactions({ events: -1, seed: 1 }), RangeError);
  assert.throws(() => generateCardTransactions({ events: 10, seed: 1, cards: 0 }), RangeError);
  assert.throws(() => generateCardTransactions({ events: 10, seed: 1, lateHoursRate: 2 }), RangeError);
  assert.equal(generateCardTransactions({ events: 0, seed: 1 }).transactions.length, 0);
  const start = Date.UTC(2025, 5, 1);
  const g = generateCardTransactions({ events: 2_000, seed: 1, cards: 7, merchants: 30, start, partitions: 12 });
  assert.equal(new Set(g.transactions.map((t) => t.card_id)).size, 7);
  assert.ok(new Set(g.transactions.map((t) => t.merchant_id)).size <= 30);
  assert.ok(g.transactions.every((t) => t.event_time >= start));
});

test('measureLateness on a hand-made sequence', () => {
  const recs = [
    { t: 0, k: 'a' },
    { t: 10_000, k: 'b' },
    { t: 9_500, k: 'a' }, // stream: 500 ms behind; key a: in order
    { t: 2 * HOUR, k: 'a' },
    { t: 2 * HOUR - 90_000, k: 'b' }, // stream: 90 s behind; key b: in order
    { t: 50_000, k: 'a' }, // behind by > 1 h on the stream and on key a
  ];
  const p = measureLateness(recs, (r) => r.t, (r) => r.k);
  assert.equal(p.total, 6);
  assert.deepEqual(
    { ...p.stream, maxLagMs: 0 },
    { inOrder: 3, underSecond: 1, underMinute: 0, minutes: 1, hours: 1, maxLagMs: 0 },
  );
  assert.equal(p.perKey.inOrder, 5);
  assert.equal(p.perKey.hours, 1);
  assert.equal(p.stream.maxLagMs, 2 * HOUR - 50_000);
});
