/**
 * As-of lookups in a table keyed by another entity (t.table with regroup: a merchant's tier
 * looked up from card-keyed transactions): origin Tasks route the versions and the queries to
 * the RegroupedTask owning the merchant, which answers once every upstream has passed t − lag.
 * Expected values come from a plain loop over all versions (greatest validity time ≤ t − lag),
 * never from the engine; they must not depend on how many origin partitions the input has, on
 * the arrival order across upstreams, on batch sizes, or on a restart of the regrouped task.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import type { InputRecord } from '../../src/engine/input.js';
import type { FeatureRow } from '../../src/engine/outputs.js';
import { buildProgram, type Program } from '../../src/engine/program.js';
import type { PartialRow, RegroupAnswer, RegroupMessage } from '../../src/engine/regroup-messages.js';
import { RegroupedTask } from '../../src/engine/regrouped-task.js';
import { RowAssembler } from '../../src/engine/row-assembler.js';
import { Task } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { MemoryBackend } from '../../src/state/state-backend.js';
import { parseRegroupVersionKey, regroupVersionsPrefix } from '../../src/state/task-state-keys.js';
import { collectingSinks, exact } from '../helpers/engine.js';
import { fnv1a, Rng } from '../helpers/prng.js';

const HERE = fileURLToPath(import.meta.url);
const M = 60_000;
const T0 = Date.UTC(2024, 0, 1);
const MERCHANTS = 6;
/** m5 never gets a version: its lookups are misses. */
const WITHOUT_VERSIONS = 'm5';

type Txn = { card_id: string; merchant_id: string; event_time: number };
type Tier = { merchant_id: string; valid_from: number; tier: string; score: number };

const tiersTopology = topology('regrouped-table-test', (t) => {
  const txns = t.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time, grace: '10m', maxFutureSkew: null });
  const tiers = t.table<Tier>('tiers', {
    schema: '../../schemas/card_limit.avsc',
    key: (v) => v.merchant_id,
    validFrom: (v) => v.valid_from,
    retention: '2h',
    grace: '10m',
    regroup: true,
    maxFutureSkew: null,
  });
  const card = txns.groupBy('card', (x) => x.card_id);
  txns.features('f', {
    card_n_1h: card.lookback('1h').count(),
    m_score: txns.asOf(tiers, (x) => x.merchant_id, { lag: '5m' }).value((v) => v.score),
    m_tier: txns.asOf(tiers, (x) => x.merchant_id, { lag: '5m' }).value((v) => v.tier, { type: 'string' }),
    m_score_now: txns.asOf(tiers, (x) => x.merchant_id).value((v) => v.score),
  });
  return {};
});

type TxnEvent = Txn & { readonly offset: number };
type TierEvent = Tier & { readonly offset: number };

interface Dataset {
  readonly txns: Txn[];
  readonly tiers: Tier[];
}

/**
 * Tier versions in time order and transactions at most the grace out of order (so nothing is
 * late and the brute force needs no lateness rule), on a one-minute grid so that versions and transactions share instants; some
 * versions of one merchant share a validity time (with different scores), and over ~7 hours the
 * 2 h retention trims old versions.
 */
function generate(seed: number): Dataset {
  const rng = new Rng(seed);
  const txns: Txn[] = [];
  const tiers: Tier[] = [];
  let clock = T0;
  for (let i = 0; i < 1200; i++) {
    clock += rng.int(0, 1) * M;
    // Up to the grace behind: never late, but a query at t − lag may then lie below the regrouped task's frontier.
    const behind = rng.chance(0.3) ? rng.int(5, 10) * M : 0;
    txns.push({ card_id: `c${rng.int(0, 9)}`, merchant_id: `m${rng.int(0, MERCHANTS - 1)}`, event_time: clock - behind });
    if (rng.chance(0.3)) {
      const merchant = `m${rng.int(0, MERCHANTS - 2)}`;
      const copies = rng.chance(0.2) ? 2 : 1;
      for (let c = 0; c < copies; c++) tiers.push({ merchant_id: merchant, valid_from: clock + rng.int(0, 1) * M, tier: rng.pick(['low', 'medium', 'high']), score: rng.int(0, 100) / 100 });
    }
  }
  tiers.sort((a, b) => a.valid_from - b.valid_from);
  return { txns, tiers };
}

/** Split by key hash as a keyed Kafka topic would (a merchant's versions in one partition). */
function partitionBy<T>(values: readonly T[], key: (v: T) => string, partitions: number): Array<Array<T & { offset: number }>> {
  const out: Array<Array<T & { offset: number }>> = Array.from({ length: partitions }, () => []);
  for (const v of values) {
    const p = fnv1a(key(v)) % partitions;
    out[p].push({ ...v, offset: out[p].length });
  }
  return out;
}

interface OriginOutput {
  readonly messages: RegroupMessage[][];
  readonly rows: PartialRow[];
}

/** One origin partition: both inputs in random batches, a watermark after every batch. */
async function runOrigin(program: Program, p: number, txns: readonly TxnEvent[], tiers: readonly TierEvent[], regroups: number, rng: Rng, tiersFirst: boolean): Promise<OriginOutput> {
  const out: OriginOutput = { messages: Array.from({ length: regroups }, () => []), rows: [] };
  const route = (m: RegroupMessage & { key: string }): void => void out.messages[fnv1a(m.key) % regroups].push(m);
  const { sinks } = collectingSinks();
  const task = await Task.open(program, p, new MemoryBackend(), { ...sinks, regroup: { update: route, query: route, partialRow: (r) => out.rows.push({ ...r, values: [...r.values] }) } });
  const heads = { txns: 0, tiers: 0 };
  const inputs = { txns, tiers };
  let last = -Infinity;
  if (tiersFirst) {
    // Live, with the transactions quiet: every version (hours ahead of them) is read, and the skip releases them.
    await task.process({ source: 'tiers', partition: p, records: tiers.map((e) => ({ offset: e.offset, value: e })) });
    heads.tiers = tiers.length;
    await task.skipIdleInput('txns');
  }
  for (;;) {
    const open = (['txns', 'tiers'] as const).filter((s) => heads[s] < inputs[s].length);
    if (open.length === 0) break;
    const source = rng.pick(open);
    const n = rng.int(1, 30);
    const records: InputRecord[] = inputs[source].slice(heads[source], heads[source] + n).map((e) => ({ offset: e.offset, value: e }));
    heads[source] += records.length;
    await task.process({ source, partition: p, records });
    if (task.regroupWatermark > last) {
      last = task.regroupWatermark;
      for (const list of out.messages) list.push({ kind: 'watermark', upstream: p, watermark: last });
    }
  }
  await task.endOfInput('txns');
  await task.endOfInput('tiers');
  return out;
}

/**
 * A regroup partition fed its upstreams interleaved at random, in random batches, restarted from
 * its store once if asked; with `sweep`, the live sweep runs (random walk budgets) and the task
 * checkpoints after a third of the batches, and `swept` counts the versions it trimmed.
 */
async function answerPartition(program: Program, r: number, streams: ReadonlyArray<readonly RegroupMessage[]>, rng: Rng, restartAt?: number, sweep?: { trimmed: number }): Promise<{ answers: RegroupAnswer[]; misses: number }> {
  const answers: RegroupAnswer[] = [];
  const backend = new MemoryBackend();
  let task = await RegroupedTask.open(program, r, streams.length, backend, (a) => answers.push(a));
  const queues = streams.map((s, p) => [...s, { kind: 'watermark', upstream: p, watermark: Infinity } as RegroupMessage]);
  const heads = queues.map(() => 0);
  let sent = 0;
  let restarted = false;
  let missesBefore = 0;
  for (;;) {
    const open = queues.map((_, p) => p).filter((p) => heads[p] < queues[p].length);
    if (open.length === 0) break;
    const p = rng.pick(open);
    const batch = queues[p].slice(heads[p], heads[p] + rng.int(1, 50));
    heads[p] += batch.length;
    await task.receive(batch);
    sent += batch.length;
    if (sweep !== undefined && rng.chance(0.3)) {
      sweep.trimmed += await task.sweepExpired(rng.int(1, 30));
      await task.checkpoint();
    }
    if (restartAt !== undefined && !restarted && sent >= restartAt) {
      restarted = true;
      await task.checkpoint();
      missesBefore = task.lookupMisses;
      task = await RegroupedTask.open(program, r, streams.length, backend, (a) => answers.push(a));
      assert.equal(task.lookupMisses, missesBefore, 'the miss count survives a restart');
    }
  }
  assert.equal(task.pending, 0);
  if (restartAt !== undefined) assert.ok(restarted, 'the restart happened');
  return { answers, misses: task.lookupMisses };
}

/** The features' values per (card, offset in the whole txns list) and the misses, for one way of partitioning and feeding. */
async function serve(data: Dataset, origins: number, regroups: number, seed: number, restartAt?: number, tiersFirst = false, sweep?: { trimmed: number }): Promise<{ rows: Map<number, Record<string, unknown>>; misses: number }> {
  const program = buildProgram(compilePlan(tiersTopology, HERE));
  const rng = new Rng(seed);
  const indexed = data.txns.map((x, i) => ({ ...x, index: i }));
  const txnParts = partitionBy(indexed, (x) => x.card_id, origins);
  const tierParts = partitionBy(data.tiers, (x) => x.merchant_id, origins);
  const outs: OriginOutput[] = [];
  for (let p = 0; p < origins; p++) outs.push(await runOrigin(program, p, txnParts[p], tierParts[p], regroups, rng, tiersFirst));
  const answers: RegroupAnswer[] = [];
  let misses = 0;
  for (let r = 0; r < regroups; r++) {
    const got = await answerPartition(program, r, outs.map((o) => o.messages[r]), rng, restartAt, sweep);
    answers.push(...got.answers);
    misses += got.misses;
  }
  const f = program.outputs[0];
  const rows = new Map<number, Record<string, unknown>>();
  for (let p = 0; p < origins; p++) {
    const assembled: FeatureRow[] = [];
    const assembler = new RowAssembler(program, p, (row) => assembled.push({ ...row, values: [...row.values] }));
    for (const a of answers) if (a.partition === p) assembler.answer(a);
    for (const row of outs[p].rows) assembler.row(row);
    assert.equal(assembler.pending, 0, 'every row got its answers');
    assert.deepEqual(assembled.map((x) => x.offset), txnParts[p].map((x) => x.offset), 'one row per transaction, in offset order');
    for (const row of assembled) {
      const o: Record<string, unknown> = {};
      f.columns.forEach((c, i) => (o[c.name] = row.values[i]));
      rows.set(txnParts[p][row.offset].index, o);
    }
  }
  return { rows, misses };
}

/**
 * By the definition: the merchant's version with the greatest validity time ≤ qt. Versions of
 * one merchant valid from the same instant are applied in ascending order of their stored
 * values (score first: m_score sorts before m_tier), so the greatest score among them holds.
 */
function versionAt(tiers: readonly Tier[], merchant: string, qt: number): Tier | undefined {
  let best: Tier | undefined;
  for (const v of tiers) {
    if (v.merchant_id !== merchant || v.valid_from > qt) continue;
    if (!best || v.valid_from > best.valid_from || (v.valid_from === best.valid_from && (v.score > best.score || (v.score === best.score && v.tier > best.tier)))) best = v;
  }
  return best;
}

test('a table keyed by another entity: each lookup gives the version valid at t − lag, whatever the partitioning; misses are null and counted', async () => {
  const data = generate(11);
  const ties = data.tiers.filter((v, i) => data.tiers.some((w, j) => j !== i && w.merchant_id === v.merchant_id && w.valid_from === v.valid_from && w.score !== v.score)).length;
  assert.ok(ties >= 4, `versions of one merchant share a validity time (${ties})`);
  let expectedMisses = 0;
  const expected = data.txns.map((x) => {
    const lagged = versionAt(data.tiers, x.merchant_id, x.event_time - 5 * M);
    const now = versionAt(data.tiers, x.merchant_id, x.event_time);
    expectedMisses += (lagged ? 0 : 1) + (now ? 0 : 1);
    return { m_score: lagged?.score ?? null, m_tier: lagged?.tier ?? null, m_score_now: now?.score ?? null };
  });
  assert.ok(expected.some((e, i) => e.m_score !== e.m_score_now && data.txns[i].merchant_id !== WITHOUT_VERSIONS), 'the lag changes some answers');
  const changedAtExactlyT = data.txns.filter((x) => data.tiers.some((v) => v.merchant_id === x.merchant_id && v.valid_from === x.event_time)).length;
  assert.ok(changedAtExactlyT > 0, 'some versions become valid exactly at a transaction of their merchant');

  const sweep = { trimmed: 0 };
  for (const [origins, regroups, tiersFirst, swept] of [[1, 1, false, false], [3, 2, false, false], [4, 4, false, false], [3, 2, true, false], [3, 2, false, true], [1, 1, false, true]] as const) {
    // tiersFirst: a live skip of the quiet transactions releases versions hours ahead of them; they must not make the transactions late.
    // swept: the live sweep trims versions past retention from merchants no message touched lately; no answer may change.
    const { rows, misses } = await serve(data, origins, regroups, 100 + origins, 40, tiersFirst, swept ? sweep : undefined);
    assert.equal(rows.size, data.txns.length);
    data.txns.forEach((x, i) => {
      const got = rows.get(i)!;
      for (const k of ['m_score', 'm_tier', 'm_score_now'] as const) assert.equal(got[k], expected[i][k], `${k} of transaction ${i} (${x.merchant_id} at +${(x.event_time - T0) / M} min), ${origins} origin partitions`);
    });
    assert.equal(misses, expectedMisses, `lookups without a version, ${origins} origin partitions`);
  }
  assert.ok(sweep.trimmed > 0, `the sweep trimmed versions (${sweep.trimmed} keys)`);
});

test('regrouped table answers are identical bit for bit across arrival orders, batch sizes and restarts', async () => {
  const data = generate(23);
  const runs = await Promise.all([
    serve(data, 3, 3, 1),
    serve(data, 3, 3, 2, 25),
    serve(data, 2, 3, 3, 90),
  ]);
  const encode = (rows: Map<number, Record<string, unknown>>): string[] => [...rows.entries()].sort((a, b) => a[0] - b[0]).map(([i, o]) => `${i}:${Object.values(o).map(exact).join(',')}`);
  const first = encode(runs[0].rows);
  for (const run of runs.slice(1)) assert.deepEqual(encode(run.rows), first);
});

test('the plan refuses a regrouped table whose retention is shorter than lag + grace', () => {
  const bad = topology('short-retention', (t) => {
    const txns = t.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time, grace: '30m' });
    const tiers = t.table<Tier>('tiers', { schema: '../../schemas/card_limit.avsc', key: (v) => v.merchant_id, validFrom: (v) => v.valid_from, retention: '20m', regroup: true });
    txns.features('f', { s: txns.asOf(tiers, (x) => x.merchant_id, { lag: '1m' }).value((v) => v.score) });
    return {};
  });
  assert.throws(() => compilePlan(bad, HERE), /retention 20m of table tiers is shorter than the lookup's lag 1m plus the grace 30m/);
});

test('the sweep trims a quiet merchant\'s versions as a touch would: the latest valid by the floor minus retention stays, a lookup still to come gets its version', async () => {
  const program = buildProgram(compilePlan(tiersTopology, HERE));
  const table = program.tables.find((t) => t.name === 'tiers')!;
  const group = program.groups.length + table.index;
  const lagged = program.outputs[0].regroupQueries.find((q) => q.lag === 5 * M)!;
  const backend = new MemoryBackend();
  const answers: RegroupAnswer[] = [];
  let task = await RegroupedTask.open(program, 0, 1, backend, (a) => answers.push(a));
  const version = (key: string, minutes: number, score: number): RegroupMessage => ({ kind: 'update', group, key, t: T0 + minutes * M, vals: [score, `tier-${score}`] });
  const watermark = (minutes: number): RegroupMessage => ({ kind: 'watermark', upstream: 0, watermark: T0 + minutes * M });
  // Retention 2 h. y's versions are released (and trimmed, as touched) at a floor of 125 min,
  // x's at 180 min: x keeps 30, 100 and 178 min (30 the latest valid by 60 min). Then the floor
  // moves to 182 min and nothing touches either: the sweep trims y at 62 min, keeping 30 (the
  // latest valid by then) and 100; x has nothing more to lose.
  await task.receive([version('y', 10, 1), version('y', 30, 2), version('y', 100, 3), watermark(125)]);
  await task.receive([version('x', 10, 1), version('x', 30, 2), version('x', 100, 3), version('x', 178, 4), watermark(180)]);
  await task.receive([watermark(182)]);
  await task.checkpoint();
  assert.equal(await task.sweepExpired(1_000_000), 1, 'y is trimmed');
  await task.checkpoint();
  const kept = async (key: string): Promise<number[]> => (await backend.scan(regroupVersionsPrefix(0, 'tiers', key))).map(([k]) => (parseRegroupVersionKey(0, k)!.t - T0) / M);
  assert.deepEqual([await kept('x'), await kept('y')], [[30, 100, 178], [30, 100]]);
  // After a restart, transactions at 182 min (at the watermark) ask as of 177 min: the versions of 100 min.
  task = await RegroupedTask.open(program, 0, 1, backend, (a) => answers.push(a));
  const query = (key: string, offset: number): RegroupMessage => ({ kind: 'query', partition: 0, source: 'txns', offset, output: 0, group, key, qt: T0 + 177 * M, query: lagged.index });
  await task.receive([query('x', 0), query('y', 1)]);
  assert.deepEqual(answers.map((a) => a.values), [[3, 'tier-3'], [3, 'tier-3']]);
});
