/**
 * topologies/card-fraud.ts over a generated data set, backfilled from files, against a
 * brute-force computation over every transaction and tier version: its amount features are in
 * one currency (amount_usd), so a card that pays in NGN or JPY abroad does not reach millions;
 * its merchant features and risk tier come through the regrouping as of t − 1 min.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetReadObjects } from 'hyparquet';
import { DateTime } from 'luxon';
import type { CardTransaction } from '../../src/gen/card-transactions.js';
import type { MerchantTier } from '../../src/gen/merchant-tiers.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { kafkaPartition } from '../../src/io/partitioning.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { assertClose } from '../helpers/engine.js';
import { arrayBuffer, parquetFiles } from '../helpers/training-files.js';

const FILE = fileURLToPath(new URL('../../topologies/card-fraud.ts', import.meta.url));
const MIN = 60_000;
const HOUR = 60 * MIN;
const GRACE = 30 * MIN;
const LAG = MIN;

const readNdjson = <T>(path: string): T[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);

/** The on-time transactions of each partition: arrival order is processing order, a record more than the grace behind the partition's largest event time so far is late. */
function onTime(transactions: readonly CardTransaction[], partitions: number): Map<string, CardTransaction & { partition: number; offset: number }> {
  const out = new Map<string, CardTransaction & { partition: number; offset: number }>();
  const streamTime = new Array<number>(partitions).fill(-Infinity);
  const offsets = new Array<number>(partitions).fill(0);
  for (const x of transactions) {
    const p = kafkaPartition(x.card_id, partitions);
    const offset = offsets[p]++;
    if (x.event_time < streamTime[p] - GRACE) continue;
    streamTime[p] = Math.max(streamTime[p], x.event_time);
    out.set(`${p}/${offset}`, { ...x, partition: p, offset });
  }
  return out;
}

/** The merchant's version with the greatest validity time ≤ qt; of equal times the greater (risk_tier, tier_score), the regrouped task's order. */
function tierAt(versions: readonly MerchantTier[], qt: number): MerchantTier | undefined {
  let best: MerchantTier | undefined;
  for (const v of versions) {
    if (v.valid_from > qt) continue;
    const greater = !best || v.valid_from > best.valid_from || (v.valid_from === best.valid_from && (v.risk_tier > best.risk_tier || (v.risk_tier === best.risk_tier && v.tier_score > best.tier_score)));
    if (greater) best = v;
  }
  return best;
}

test('card-fraud card and merchant features and daily spend equal a brute force over every transaction and tier version, with 1, 3 and 8 partitions, 5 keys in memory, and for a tenth of the cards alone (parity\'s sampled replay)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-card-fraud-'));
  try {
    const data = await writeCardDataset({ outDir: join(dir, 'data'), events: 20_000, seed: 3, format: 'ndjson' });
    const transactions = readNdjson<CardTransaction>(data.transactionsPath);
    const tiers = readNdjson<MerchantTier>(data.merchantTiersPath);
    assert.ok(transactions.some((t) => t.currency !== 'USD' && t.amount > 10 * t.amount_usd), 'the data has amounts in weak currencies');
    const tiersOf = new Map<string, MerchantTier[]>();
    const push = <K, V>(map: Map<K, V[]>, k: K, v: V): void => void (map.get(k) ?? map.set(k, []).get(k)!).push(v);
    for (const v of tiers) push(tiersOf, v.merchant_id, v);
    const plan = await loadTopology(FILE);

    // The last run computes rows for a tenth of the cards only, as parity does for its sample:
    // their merchant features must still count every card's transactions.
    const cards = [...new Set(transactions.map((x) => x.card_id))].sort();
    const sampled = cards.filter((_, i) => i % 10 === 0);
    // With 5 keys in memory, state (lookback timelines, open days, regrouped merchants) goes to
    // the store and comes back all the time: windows are read back by their close index
    // (window-state.ts) when stream time closes days of keys no longer held.
    const runs: ReadonlyArray<{ partitions: number; keys?: readonly string[]; cacheKeys?: number }> = [
      { partitions: 1 },
      { partitions: 3 },
      { partitions: 8 },
      { partitions: 8, cacheKeys: 5 },
      { partitions: 3, keys: sampled },
    ];
    const dailyRows = new Map<string, string>();
    for (const { partitions, keys, cacheKeys } of runs) {
      const out = join(dir, `out-${partitions}-${keys === undefined ? 'all' : 'sampled'}-${cacheKeys ?? 'default'}`);
      await replayFiles({
        plan,
        inputs: { transactions: data.transactionsPath, chargebacks: data.chargebacksPath, merchant_tiers: data.merchantTiersPath },
        out,
        partitions,
        ...(keys === undefined ? {} : { keys: { keys } }),
        ...(cacheKeys === undefined ? {} : { cacheKeys }),
      });
      const rows: Array<Record<string, unknown>> = [];
      for (const f of parquetFiles(join(out, 'card_features'))) rows.push(...(await parquetReadObjects({ file: arrayBuffer(readFileSync(join(out, 'card_features', f))) })));
      const accepted = onTime(transactions, partitions);
      const expectedRows = keys === undefined ? accepted.size : [...accepted.values()].filter((x) => keys.includes(x.card_id)).length;
      assert.ok(keys === undefined || (expectedRows > 500 && expectedRows < accepted.size / 5), `${expectedRows} rows of sampled cards`);
      assert.equal(rows.length, expectedRows, `one row per on-time transaction of the computed cards (${partitions} partitions)`);
      const all = [...accepted.values()];
      const byMerchant = new Map<string, typeof all>();
      for (const x of all) push(byMerchant, x.merchant_id, x);
      for (const list of byMerchant.values()) list.sort((a, b) => a.event_time - b.event_time);
      const byCard = new Map<string, typeof all>();
      for (const x of all) push(byCard, x.card_id, x);
      let tierChanges = 0;
      const dataStart = Math.min(...transactions.map((e) => e.event_time));
      for (const row of rows) {
        const x = accepted.get(`${row.partition as number}/${Number(row.offset)}`)!;
        assert.ok(x, `row ${row.partition}/${row.offset} is an on-time transaction`);
        const t = x.event_time;
        // Card features: the card's on-time transactions processed before it with time in (t − W, t].
        const cardRows = byCard.get(x.card_id)!.filter((e) => e.offset < x.offset && e.event_time > t - 7 * 24 * HOUR && e.event_time <= t);
        const week = cardRows.map((e) => e.amount_usd);
        const day = cardRows.filter((e) => e.event_time > t - 24 * HOUR).map((e) => e.amount_usd);
        assert.equal(row.amount_max_7d ?? null, week.length === 0 ? null : Math.max(...week), `amount_max_7d of ${x.txn_id}`);
        assertClose(row.amount_sum_24h, day.reduce((a, b) => a + b, 0), `amount_sum_24h of ${x.txn_id}`, 1e-9);
        // Merchant features: every partition's on-time transactions of the merchant with time in (t − 1m − W, t − 1m].
        const m = (w: number): number[] => {
          // The merchant's transactions sorted by time: the window is one slice of it.
          const list = byMerchant.get(x.merchant_id)!;
          const first = (bound: number): number => {
            let lo = 0;
            let hi = list.length;
            while (lo < hi) {
              const mid = (lo + hi) >> 1;
              if (list[mid].event_time <= bound) lo = mid + 1;
              else hi = mid;
            }
            return lo;
          };
          return list.slice(first(t - LAG - w), first(t - LAG)).map((e) => e.amount_usd);
        };
        const h = m(HOUR);
        const d = m(24 * HOUR);
        assert.equal(Number(row.merchant_txn_count_1h), h.length, `merchant_txn_count_1h of ${x.txn_id}`);
        assert.equal(Number(row.merchant_txn_count_24h), d.length, `merchant_txn_count_24h of ${x.txn_id}`);
        assertClose(row.merchant_amount_mean_1h ?? null, h.length === 0 ? null : h.reduce((a, b) => a + b, 0) / h.length, `merchant_amount_mean_1h of ${x.txn_id}`, 1e-9);
        assertClose(row.merchant_amount_mean_24h ?? null, d.length === 0 ? null : d.reduce((a, b) => a + b, 0) / d.length, `merchant_amount_mean_24h of ${x.txn_id}`, 1e-9);
        const tier = tierAt(tiersOf.get(x.merchant_id) ?? [], t - LAG);
        assert.equal(row.merchant_risk_tier ?? null, tier?.risk_tier ?? null, `merchant_risk_tier of ${x.txn_id}`);
        assert.equal(row.merchant_tier_score ?? null, tier?.tier_score ?? null, `merchant_tier_score of ${x.txn_id}`);
        if (tier !== undefined && tier.valid_from > dataStart) tierChanges++;
      }
      assert.ok(tierChanges > (keys === undefined ? 100 : 10), `rows read a tier version that became valid during the data (${tierChanges})`);
      if (keys === undefined) {
        const days = await readDailySpend(join(out, 'card_daily_spend'));
        assertDailySpend(days, all, partitions);
        // The same rows, to the bit, whatever the memory bound (which transactions are on time
        // depends on the partition count: stream time is per partition).
        const signature = (d: DailyRow): string => JSON.stringify(d);
        for (const [id, d] of days) {
          const other = dailyRows.get(`${partitions}/${id}`);
          if (other === undefined) dailyRows.set(`${partitions}/${id}`, signature(d));
          else assert.equal(signature(d), other, `day ${id} with ${partitions} partitions and ${cacheKeys} keys in memory`);
        }
      }
      const maxUsd = Math.max(...transactions.map((t) => t.amount_usd));
      assert.ok(rows.every((row) => row.amount_max_7d === null || (row.amount_max_7d as number) <= maxUsd), `amount_max_7d stays within ${maxUsd} USD`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface DailyRow {
  readonly partition: number;
  readonly end: number;
  readonly txns: number;
  readonly amount: number;
  readonly max_amount: number | null;
  readonly merchants: number;
  readonly final: boolean;
}

/** card_daily_spend's rows by `<card>/<day start>`, each card-day once. */
async function readDailySpend(dir: string): Promise<Map<string, DailyRow>> {
  const days = new Map<string, DailyRow>();
  const ms = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));
  for (const f of parquetFiles(dir)) {
    for (const row of await parquetReadObjects({ file: arrayBuffer(readFileSync(join(dir, f))) })) {
      const id = `${String(row.key)}/${ms(row.window_start)}`;
      assert.ok(!days.has(id), `one row per card-day: ${id} twice`);
      days.set(id, {
        partition: Number(row.partition),
        end: ms(row.window_end),
        txns: Number(row.txns),
        amount: row.amount as number,
        max_amount: (row.max_amount ?? null) as number | null,
        merchants: Number(row.merchants),
        final: row.final === true,
      });
    }
  }
  return days;
}

/**
 * Daily spend by brute force: every on-time transaction counts in its card's day in
 * America/New_York (by luxon's zone rules; DST days are windows-calendar.test.ts'), whose window closes
 * once its partition's stream time reaches its end + the grace (30 min, the source's): final
 * then, and written as not final at the end of the input otherwise.
 */
function assertDailySpend(days: ReadonlyMap<string, DailyRow>, accepted: ReadonlyArray<CardTransaction & { partition: number }>, partitions: number): void {
  const expected = new Map<string, { end: number; partition: number; list: CardTransaction[] }>();
  const streamTime = new Array<number>(partitions).fill(-Infinity);
  for (const x of accepted) {
    streamTime[x.partition] = Math.max(streamTime[x.partition], x.event_time);
    const day = DateTime.fromMillis(x.event_time, { zone: 'America/New_York' }).startOf('day');
    const id = `${x.card_id}/${day.toMillis()}`;
    const e = expected.get(id) ?? { end: day.plus({ days: 1 }).toMillis(), partition: x.partition, list: [] };
    e.list.push(x);
    expected.set(id, e);
  }
  assert.equal(days.size, expected.size, `card-days with ${partitions} partitions`);
  let finals = 0;
  for (const [id, e] of expected) {
    const d = days.get(id);
    assert.ok(d, `card-day ${id} has a row (${partitions} partitions)`);
    const amounts = e.list.map((x) => x.amount_usd);
    assert.equal(d.partition, e.partition, `partition of ${id}`);
    assert.equal(d.end, e.end, `end of ${id}`);
    assert.equal(d.txns, e.list.length, `txns of ${id}`);
    assertClose(d.amount, amounts.reduce((a, b) => a + b, 0), `amount of ${id}`, 1e-9);
    assert.equal(d.max_amount, Math.max(...amounts), `max_amount of ${id}`);
    assert.equal(d.merchants, new Set(e.list.map((x) => x.merchant_id)).size, `merchants of ${id}`);
    assert.equal(d.final, e.end + GRACE <= streamTime[e.partition], `final of ${id}`);
    if (d.final) finals++;
  }
  assert.ok(finals > expected.size / 2, `most days closed before the end of the input (${finals} of ${expected.size})`);
}
