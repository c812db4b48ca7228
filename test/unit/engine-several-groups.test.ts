/**
 * One record feeding several groups: two groups of the source stream (the partition key and a
 * refinement of it, as flights by origin and by route) and a group of a filtered child stream.
 * A batch finds each key's timeline once and applies the record to each of them in turn, so a
 * mix-up between groups, streams or keys (loaded, cached or evicted and read back within the
 * batch) shows as wrong vectors, as does a group reading another group's value columns (the card
 * group reads merchant ids and amounts, the pair group amounts). Every vector is compared with a
 * brute-force scan written here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import type { InputRecord } from '../../src/engine/input.js';
import { buildProgram } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { MemoryBackend } from '../../src/state/state-backend.js';
import { collectingSinks, rowsByName } from '../helpers/engine.js';
import { mulberry32 } from '../helpers/prng.js';

const HERE = fileURLToPath(import.meta.url);
const M = 60_000;
const T0 = Date.UTC(2024, 0, 1);

type Txn = { card_id: string; merchant_id: string; amount: number; event_time: number };

const topo = topology('several-groups', (t) => {
  const txns = t.source<Txn>('txns', {
    schema: '../../schemas/card_transaction.avsc',
    key: (x) => x.card_id,
    eventTime: (x) => x.event_time,
    grace: '5m',
    late: 'sideOutput',
  });
  const card = txns.groupBy('card', (x) => x.card_id);
  const pair = txns.groupBy('pair', (x) => `${x.card_id}|${x.merchant_id}`);
  txns.features('all', {
    // First, so the card group's first value column (merchant_id) is not the pair group's (amount).
    card_merchants: card.lookback('1h').countDistinct((x) => x.merchant_id),
    card_n: card.lookback('1h').count(),
    card_sum: card.lookback('1h').sum((x) => x.amount),
    pair_n: pair.lookback('30m').count(),
    pair_max: pair.lookback('30m').max((x) => x.amount),
  });
  const big = txns.filter((x) => x.amount >= 50);
  const bigCard = big.groupBy('big_card', (x) => x.card_id);
  big.features('big', { big_n: bigCard.lookback('2h').count(), big_sum: bigCard.lookback('2h').sum((x) => x.amount) });
  return {};
});

interface Applied {
  readonly t: number;
  readonly amount: number;
  readonly merchant?: string;
}

/** The definition applied literally: earlier-applied events of the key with time in (t − W, t]. */
function inWindow(history: Map<string, Applied[]>, key: string, t: number, w: number): Applied[] {
  return (history.get(key) ?? []).filter((x) => x.t > t - w && x.t <= t);
}

function remember(history: Map<string, Applied[]>, key: string, e: Applied): void {
  const h = history.get(key) ?? [];
  h.push(e);
  history.set(key, h);
}

test('a record feeding several groups and streams gets each group’s vector, through evictions and reloads within a batch', async () => {
  const rng = mulberry32(99);
  const events: Txn[] = [];
  for (let i = 0; i < 4000; i++) {
    // Twelve cards and four merchants; some events up to 4 min behind (within the 5 min grace).
    const t = T0 + i * 20_000 - (rng() < 0.15 ? Math.floor(rng() * 4 * M) : 0);
    events.push({ card_id: `c${Math.floor(rng() * 12)}`, merchant_id: `m${Math.floor(rng() * 4)}`, amount: Math.floor(rng() * 10_000) / 100, event_time: t });
  }

  const cards = new Map<string, Applied[]>();
  const pairs = new Map<string, Applied[]>();
  const bigCards = new Map<string, Applied[]>();
  const expectedAll: Array<Record<string, number | null>> = [];
  const expectedBig: Array<Record<string, number | null>> = [];
  for (const e of events) {
    const t = e.event_time;
    const pairKey = `${e.card_id}|${e.merchant_id}`;
    const c = inWindow(cards, e.card_id, t, 60 * M);
    const p = inWindow(pairs, pairKey, t, 30 * M);
    expectedAll.push({
      card_merchants: new Set(c.map((x) => x.merchant)).size,
      card_n: c.length,
      card_sum: c.reduce((a, x) => a + x.amount, 0),
      pair_n: p.length,
      pair_max: p.length === 0 ? null : Math.max(...p.map((x) => x.amount)),
    });
    remember(cards, e.card_id, { t, amount: e.amount, merchant: e.merchant_id });
    remember(pairs, pairKey, { t, amount: e.amount });
    if (e.amount >= 50) {
      const b = inWindow(bigCards, e.card_id, t, 120 * M);
      expectedBig.push({ big_n: b.length, big_sum: b.reduce((a, x) => a + x.amount, 0) });
      remember(bigCards, e.card_id, { t, amount: e.amount });
    }
  }

  const program = buildProgram(compilePlan(topo, HERE));
  const backend = new MemoryBackend();
  const { sinks, out } = collectingSinks();
  // Room for three keys per group: after each durable checkpoint most keys leave memory, and
  // the next batch reads them back, often several times over within the batch.
  const task = await Task.open(program, 0, backend, sinks, { maxCachedKeys: 3 });
  const records: InputRecord[] = events.map((value, offset) => ({ offset, value }));
  let loaded = 0;
  for (let i = 0; i < records.length; ) {
    const n = 1 + Math.floor(rng() * 60);
    await task.process({ source: 'txns', partition: 0, records: records.slice(i, i + n) });
    i += n;
    // A checkpoint makes state durable, and then cold keys leave memory (Task.afterDurable).
    await task.checkpoint();
    loaded++;
  }
  await task.endOfInput('txns');
  assert.ok(task.cacheStats.evictions > 1000, `keys evicted and read back: ${task.cacheStats.evictions} over ${loaded} batches`);
  assert.equal(out.late.length, 0);

  const all = rowsByName(
    out.features.filter((r) => r.output === 'all'),
    program.outputs.find((o) => o.name === 'all')!.columns,
  );
  const big = rowsByName(
    out.features.filter((r) => r.output === 'big'),
    program.outputs.find((o) => o.name === 'big')!.columns,
  );
  assert.equal(all.length, events.length);
  assert.equal(big.length, expectedBig.length);
  const close = (a: unknown, b: number | null, what: string): void => {
    if (b === null || typeof a !== 'number') assert.equal(a, b, what);
    else assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} against ${b}`);
  };
  for (let i = 0; i < all.length; i++) for (const [k, v] of Object.entries(expectedAll[i])) close(all[i][k], v, `offset ${i} ${k}`);
  for (let i = 0; i < big.length; i++) for (const [k, v] of Object.entries(expectedBig[i])) close(big[i][k], v, `big row ${i} ${k}`);
});

test('a commit evicts down to 80 % of the bound, keys the batch did not touch first, its own too when they alone exceed it, never between its slices', async () => {
  const program = buildProgram(compilePlan(topo, HERE));
  const { sinks } = collectingSinks();
  const backend = new ReadCountingBackend();
  const task = await Task.open(program, 0, backend, sinks, { maxCachedKeys: 100 });
  // Keys' state only, not what opening the task reads.
  backend.reads = 0;
  const record = (offset: number, card: number): InputRecord => ({ offset, value: { card_id: `c${card}`, merchant_id: 'm', amount: 10, event_time: T0 + offset * 1000 } });
  let offset = 0;
  const batch = async (cards: readonly number[]): Promise<void> => {
    await task.process({ source: 'txns', partition: 0, records: cards.map((c) => record(offset++, c)) });
    await task.checkpoint();
  };
  const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
  // Two groups hold a key per card (card, and pair with a single merchant); no amount is big.
  // One batch of 1,500 records, which the engine applies 512 at a time: cards c0..c149 in its
  // first 1,024 records, c0..c9 again in the rest. Each key is read once: nothing leaves between slices.
  await batch(Array.from({ length: 1500 }, (_, i) => (i < 1024 ? i % 150 : i % 10)));
  assert.equal(backend.reads, 2 * 150);
  // 150 keys per group, all the batch's own, against a bound of 100: the first 70 loaded (c0..c69) leave.
  assert.equal(task.cacheStats.evictions, 2 * 70);
  assert.equal(task.cacheStats.cachedKeys, 2 * 80);
  // c0..c29 come back (read again); 110 keys: 30 the batch did not touch leave (c70..c99, loaded first).
  await batch(range(0, 30));
  assert.equal(backend.reads, 2 * 180);
  assert.equal(task.cacheStats.evictions, 2 * 100);
  assert.equal(task.cacheStats.cachedKeys, 2 * 80);
  // What stayed: the batch's keys and the 50 loaded last before it; none of them is read again.
  await batch(range(0, 30));
  await batch(range(100, 150));
  assert.equal(backend.reads, 2 * 180);
  // c70..c99 left: read again.
  await batch(range(70, 100));
  assert.equal(backend.reads, 2 * 210);
});

/** Counts the keys read from the store. */
class ReadCountingBackend extends MemoryBackend {
  reads = 0;
  override getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    this.reads += keys.length;
    return super.getMany(keys);
  }
}
