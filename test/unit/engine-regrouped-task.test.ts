/**
 * Regrouped features in the engine (DESIGN.md, "Regrouping and features across entities"):
 * origin Tasks send UPDATEs, QUERYs and watermarks; RegroupedTasks answer; RowAssemblers join.
 * Expectations come from plain loops over the generated events (lateness decided by the
 * source's rule, windows by their definition), never from the engine. The RegroupedTask must
 * answer bit for bit the same whatever the arrival order across upstreams, the batch sizes and
 * a restart from its store.
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
import { regroupTimelinePrefix } from '../../src/state/task-state-keys.js';
import { RowAssembler } from '../../src/engine/row-assembler.js';
import { Task } from '../../src/engine/task.js';
import { kafkaPartition } from '../../src/io/partitioning.js';
import { compilePlan } from '../../src/plan/compile.js';
import { aggregationFor } from '../../src/ops/aggregation-registry.js';
import { MemoryBackend } from '../../src/state/state-backend.js';
import { KeyTimeline, type TimelineLayout } from '../../src/time/lookback-window.js';
import { assertClose, collectingSinks, exact } from '../helpers/engine.js';
import { Rng } from '../helpers/prng.js';

const HERE = fileURLToPath(import.meta.url);
const M = 60_000;
const T0 = Date.UTC(2024, 0, 1);
const GRACE = 10 * M;
const ORIGINS = 3;
const REGROUPS = 2;

type Txn = { card_id: string; merchant_id: string; amount: number; event_time: number };

const regroupTopology = topology('regroup-test', (t) => {
  const txns = t.source<Txn>('txns', {
    schema: '../../schemas/card_transaction.avsc',
    key: (x) => x.card_id,
    eventTime: (x) => x.event_time,
    grace: '10m',
    late: 'drop',
  });
  const card = txns.groupBy('card', (x) => x.card_id);
  const merchant = txns.regroupBy('merchant', (x) => x.merchant_id);
  txns.features(
    'f',
    {
      card_n_1h: card.lookback('1h').count(),
      m_n_1h: merchant.lookback('1h', { asOf: '5m' }).count(),
      m_sum_1h: merchant.lookback('1h', { asOf: '5m' }).sum((x) => x.amount),
      m_last_1h: merchant.lookback('1h', { asOf: '5m' }).last((x) => x.amount),
      m_mean_30m: merchant.lookback('30m', { asOf: '2m' }).mean((x) => x.amount),
      m_max_1h: merchant.lookback('1h', { asOf: '5m' }).max((x) => x.amount),
      m_cards_1h: merchant.lookback('1h', { asOf: '5m' }).countDistinct((x) => x.card_id),
      m_std_1h: merchant.lookback('1h', { asOf: '5m' }).stddev((x) => x.amount),
    },
    { derive: { m_n_minus_card: (v) => v.m_n_1h - v.card_n_1h } },
  );
  return {};
});

// A type alias (not an interface) so that it is assignable to the engine's SourceValue record type.
type Event = Txn & { readonly partition: number; readonly offset: number };

/**
 * Events per origin partition: times on a coarse grid (so one merchant gets several events at
 * the same instant, with different amounts) and out of order by up to 15 minutes (so some are
 * later than the 10-minute grace).
 */
function generate(seed: number, perPartition: number): Event[][] {
  const rng = new Rng(seed);
  return Array.from({ length: ORIGINS }, (_, p) => {
    const events: Event[] = [];
    let clock = T0;
    for (let offset = 0; offset < perPartition; offset++) {
      clock += rng.int(0, 2) * M;
      const t = clock - (rng.chance(0.2) ? rng.int(0, 15) * M : 0);
      events.push({
        card_id: `c${p}-${rng.int(0, 5)}`,
        merchant_id: `m${rng.int(0, 4)}`,
        amount: rng.int(1, 999) / 100,
        event_time: t,
        partition: p,
        offset,
      });
    }
    return events;
  });
}

interface OriginOutput {
  /** Per regroup partition: the messages this origin sent it, in order. */
  readonly messages: RegroupMessage[][];
  readonly rows: PartialRow[];
}

/** Run one origin partition through a Task in batches, sending a watermark after each. */
async function runOrigin(program: Program, events: readonly Event[], rng: Rng): Promise<OriginOutput> {
  const out: OriginOutput = { messages: Array.from({ length: REGROUPS }, () => []), rows: [] };
  const route = (m: RegroupMessage & { key: string }): void => void out.messages[kafkaPartition(m.key, REGROUPS)].push(m);
  const { sinks } = collectingSinks();
  const task = await Task.open(program, events[0].partition, new MemoryBackend(), {
    ...sinks,
    regroup: { update: route, query: route, partialRow: (r) => out.rows.push({ ...r, values: [...r.values] }) },
  });
  let last = -Infinity;
  for (let i = 0; i < events.length; ) {
    const n = rng.int(1, 40);
    const records: InputRecord[] = events.slice(i, i + n).map((e) => ({ offset: e.offset, value: e }));
    i += n;
    await task.process({ source: 'txns', partition: events[0].partition, records });
    if (task.regroupWatermark > last) {
      last = task.regroupWatermark;
      for (const list of out.messages) list.push({ kind: 'watermark', upstream: events[0].partition, watermark: last });
    }
  }
  await task.endOfInput('txns');
  return out;
}

const answerId = (a: { partition: number; offset: number; output: number; query: number }): string => `${a.partition}/${a.offset}/${a.output}/${a.query}`;

/**
 * Feed the task `task()` returns the upstream queues interleaved at random (each upstream's own
 * order kept, as a Kafka partition keeps it) in random batch sizes; `afterBatch` is told how many
 * messages went in so far.
 */
async function feed(task: () => RegroupedTask, queues: ReadonlyArray<readonly RegroupMessage[]>, rng: Rng, afterBatch?: (sent: number) => Promise<void>): Promise<void> {
  const heads = queues.map(() => 0);
  let sent = 0;
  for (;;) {
    const open = queues.map((_, p) => p).filter((p) => heads[p] < queues[p].length);
    if (open.length === 0) return;
    const p = rng.pick(open);
    const batch = queues[p].slice(heads[p], heads[p] + rng.int(1, 50));
    heads[p] += batch.length;
    await task().receive(batch);
    sent += batch.length;
    await afterBatch?.(sent);
  }
}

/**
 * Feed regroup partition r the upstream streams (see feed), optionally reopening the task from
 * its store once midway. Every upstream ends with watermark +∞.
 */
async function answerPartition(program: Program, r: number, streams: ReadonlyArray<readonly RegroupMessage[]>, rng: Rng, restartAt?: number): Promise<Map<string, RegroupAnswer>> {
  const answers = new Map<string, RegroupAnswer>();
  const collect = (a: RegroupAnswer): void => {
    const id = answerId(a);
    assert.ok(!answers.has(id), `answer ${id} emitted twice`);
    answers.set(id, a);
  };
  const backend = new MemoryBackend();
  let task = await RegroupedTask.open(program, r, ORIGINS, backend, collect);
  const queues = streams.map((s, p) => [...s, { kind: 'watermark', upstream: p, watermark: Infinity } as RegroupMessage]);
  let restarted = false;
  await feed(() => task, queues, rng, async (sent) => {
    if (restartAt === undefined || restarted || sent < restartAt) return;
    // Crash right after a checkpoint: a new task from the store continues where it was.
    restarted = true;
    await task.checkpoint();
    task = await RegroupedTask.open(program, r, ORIGINS, backend, collect);
  });
  assert.equal(task.pending, 0);
  if (restartAt !== undefined) assert.ok(restarted, 'the restart happened');
  return answers;
}

interface Expected {
  m_max_1h: number | null;
  m_cards_1h: number;
  m_std_1h: number | null;
  m_n_1h: number;
  m_sum_1h: number;
  m_last_1h: number | null;
  m_mean_30m: number | null;
}

/** The accepted events of each origin partition, by the source's lateness rule (plain loop). */
function accepted(events: readonly Event[]): Event[] {
  let streamTime = -Infinity;
  return events.filter((e) => {
    if (e.event_time < streamTime - GRACE) return false;
    streamTime = Math.max(streamTime, e.event_time);
    return true;
  });
}

/**
 * By the definition: the merchant's accepted events with time in (t − L − W, t − L]; last is
 * the amount of the latest one. Equal-time updates are applied in ascending order of their
 * value columns, which come in the order the plan first reads them (features sorted by name:
 * m_cards_1h reads card_id, then the others amount), so a tie goes to the largest
 * (card_id, amount).
 */
function expectedFor(all: readonly Event[], e: Event): Expected {
  const inWindow = (lag: number, w: number): Event[] => all.filter((x) => x.merchant_id === e.merchant_id && x.event_time > e.event_time - lag - w && x.event_time <= e.event_time - lag);
  const h = inWindow(5 * M, 60 * M);
  const half = inWindow(2 * M, 30 * M);
  let lastEvent: Event | undefined;
  const later = (x: Event, y: Event): boolean =>
    x.event_time !== y.event_time ? x.event_time > y.event_time : x.card_id !== y.card_id ? x.card_id > y.card_id : x.amount > y.amount;
  for (const x of h) if (!lastEvent || later(x, lastEvent)) lastEvent = x;
  const mean = h.reduce((s, x) => s + x.amount, 0) / h.length;
  return {
    m_max_1h: h.length === 0 ? null : Math.max(...h.map((x) => x.amount)),
    m_cards_1h: new Set(h.map((x) => x.card_id)).size,
    // Two-pass sample standard deviation, a different algorithm from the engine's Welford.
    m_std_1h: h.length < 2 ? null : Math.sqrt(h.reduce((s, x) => s + (x.amount - mean) ** 2, 0) / (h.length - 1)),
    m_n_1h: h.length,
    m_sum_1h: h.reduce((s, x) => s + x.amount, 0),
    m_last_1h: lastEvent?.amount ?? null,
    m_mean_30m: half.length === 0 ? null : half.reduce((s, x) => s + x.amount, 0) / half.length,
  };
}

async function pipeline(seed: number, perPartition: number) {
  const plan = compilePlan(regroupTopology, HERE);
  const program = buildProgram(plan);
  const events = generate(seed, perPartition);
  const rng = new Rng(seed + 1);
  const origins: OriginOutput[] = [];
  for (const list of events) origins.push(await runOrigin(program, list, rng));
  const streams = (r: number): RegroupMessage[][] => origins.map((o) => o.messages[r]);
  return { program, events, origins, streams };
}

test('regrouped features equal a brute-force computation over all accepted events, and rows assemble in order', async () => {
  const { program, events, origins, streams } = await pipeline(7, 400);
  const answers = new Map<string, RegroupAnswer>();
  for (let r = 0; r < REGROUPS; r++) for (const [k, a] of await answerPartition(program, r, streams(r), new Rng(100 + r))) answers.set(k, a);

  const all = events.flatMap(accepted);
  assert.ok(all.length < ORIGINS * 400, 'some events are late (so lateness is exercised)');
  const f = program.outputs[0];
  const col = (name: string): number => f.columns.findIndex((c) => c.name === name);
  let rows = 0;
  let ties = 0;
  for (let p = 0; p < ORIGINS; p++) {
    const assembled: FeatureRow[] = [];
    const assembler = new RowAssembler(program, p, (row) => assembled.push({ ...row, values: [...row.values] }));
    // Answers first, then rows: the assembler takes them in any order.
    for (const a of answers.values()) if (a.partition === p) assembler.answer(a);
    for (const row of origins[p].rows) assembler.row(row);
    assert.equal(assembler.pending, 0);
    assert.deepEqual(assembled.map((r) => r.offset), accepted(events[p]).map((e) => e.offset), 'one row per accepted event, in offset order');
    for (const row of assembled) {
      const e = events[p][row.offset];
      const want = expectedFor(all, e);
      const got = (name: string): unknown => row.values[col(name)];
      assert.equal(got('m_n_1h'), want.m_n_1h, `m_n_1h of ${p}/${row.offset}`);
      assertClose(got('m_sum_1h'), want.m_sum_1h, `m_sum_1h of ${p}/${row.offset}`, 1e-9);
      assert.equal(got('m_last_1h'), want.m_last_1h, `m_last_1h of ${p}/${row.offset}`);
      assertClose(got('m_mean_30m'), want.m_mean_30m, `m_mean_30m of ${p}/${row.offset}`, 1e-9);
      assert.equal(got('m_max_1h'), want.m_max_1h, `m_max_1h of ${p}/${row.offset}`);
      assert.equal(got('m_cards_1h'), want.m_cards_1h, `m_cards_1h of ${p}/${row.offset}`);
      assertClose(got('m_std_1h'), want.m_std_1h, `m_std_1h of ${p}/${row.offset}`, 1e-9);
      assert.equal(got('m_n_minus_card'), want.m_n_1h - (got('card_n_1h') as number), 'derived features see the regrouped values');
      if (all.filter((x) => x.merchant_id === e.merchant_id && x.event_time === e.event_time).length > 1) ties++;
      rows++;
    }
  }
  assert.equal(rows, all.length);
  assert.ok(ties > 50, `equal-time events of one merchant occur (${ties})`);
});

test('a RegroupedTask answers bit for bit the same for any arrival order, batch sizes and a restart from its store', async () => {
  const { program, streams } = await pipeline(11, 300);
  const signature = (answers: Map<string, RegroupAnswer>): string[] => [...answers].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, a]) => `${k}=${a.values.map(exact).join(',')}`);
  for (let r = 0; r < REGROUPS; r++) {
    const reference = signature(await answerPartition(program, r, streams(r), new Rng(1)));
    assert.ok(reference.length > 100);
    for (let seed = 2; seed < 14; seed++) {
      const total = streams(r).reduce((n, s) => n + s.length, 0);
      const restartAt = seed % 2 === 0 ? new Rng(seed).int(1, total) : undefined;
      const got = signature(await answerPartition(program, r, streams(r), new Rng(seed), restartAt));
      assert.deepEqual(got, reference, `regroup partition ${r}, arrival seed ${seed}${restartAt === undefined ? '' : `, restart after ${restartAt} messages`}`);
    }
  }
});

test('a hand-over (bootstrap) checkpoints the held updates but not the held queries: continuing from it answers every later query as a run over everything', async () => {
  const { program, streams } = await pipeline(23, 300);
  const signature = (answers: Iterable<[string, RegroupAnswer]>): string[] => [...answers].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, a]) => `${k}=${a.values.map(exact).join(',')}`);
  const rng = new Rng(24);
  for (let r = 0; r < REGROUPS; r++) {
    const reference = await answerPartition(program, r, streams(r), new Rng(1));
    // The history: each upstream's messages up to its first watermark past two thirds (its real final watermark).
    const cut = streams(r).map((s) => {
      let i = Math.floor((s.length * 2) / 3);
      while (i < s.length && s[i].kind !== 'watermark') i++;
      return i + 1;
    });
    const historyQueries = new Set(streams(r).flatMap((s, p) => s.slice(0, cut[p]).flatMap((m) => (m.kind === 'query' ? [answerId(m)] : []))));
    const backend = new MemoryBackend();
    const historyAnswers = new Map<string, RegroupAnswer>();
    const history = await RegroupedTask.open(program, r, ORIGINS, backend, (a) => historyAnswers.set(answerId(a), a));
    await feed(() => history, streams(r).map((s, p) => s.slice(0, cut[p])), rng);
    const taken = history.takeHeldQueries();
    const heldUpdates = history.pending;
    assert.ok(taken.length > 0 && heldUpdates > 0, `regroup partition ${r}: the hand-over holds queries (${taken.length}) and updates (${heldUpdates})`);
    await history.checkpoint();
    assert.equal(historyAnswers.size + taken.length, historyQueries.size, 'each query of the history is answered or taken');
    for (const q of taken) assert.ok(historyQueries.has(answerId(q)) && !historyAnswers.has(answerId(q)));

    // Live from the hand-over: the rest of every upstream, then its end.
    const liveAnswers = new Map<string, RegroupAnswer>();
    const live = await RegroupedTask.open(program, r, ORIGINS, backend, (a) => {
      assert.ok(!historyQueries.has(answerId(a)), `answer ${answerId(a)} for a query of the history`);
      assert.ok(!liveAnswers.has(answerId(a)), `answer ${answerId(a)} emitted twice`);
      liveAnswers.set(answerId(a), a);
    });
    assert.equal(live.pending, heldUpdates, 'the held updates come back, the held queries do not');
    await feed(() => live, streams(r).map((s, p) => [...s.slice(cut[p]), { kind: 'watermark', upstream: p, watermark: Infinity } as RegroupMessage]), rng);
    assert.equal(live.pending, 0);
    const later = [...reference].filter(([id]) => !historyQueries.has(id));
    assert.ok(later.length > 50);
    assert.deepEqual(signature(liveAnswers), signature(later), `regroup partition ${r}: later queries answered as by a run over everything`);
  }
});

test('held queries already in a checkpoint cannot be taken', async () => {
  const { program, streams } = await pipeline(23, 100);
  const task = await RegroupedTask.open(program, 0, ORIGINS, new MemoryBackend(), () => undefined);
  await task.receive(streams(0).flat().filter((m) => m.kind === 'query'));
  await task.checkpoint();
  assert.throws(() => task.takeHeldQueries(), /a held query is in a stored checkpoint already/);
});

test("a key filter (parity's sampled replay): every card's accepted events still update their merchants, only the kept cards' events ask and hand over rows", async () => {
  const program = buildProgram(compilePlan(regroupTopology, HERE));
  const events = generate(17, 300)[0];
  const kept = (card: string): boolean => card.endsWith('1');
  const run = async (filter?: (key: string) => boolean): Promise<{ updates: string[]; queries: string[]; rows: number[] }> => {
    const got = { updates: [] as string[], queries: [] as string[], rows: [] as number[] };
    const task = await Task.open(
      program,
      events[0].partition,
      new MemoryBackend(),
      {
        ...collectingSinks().sinks,
        regroup: {
          update: (m) => void got.updates.push(`${m.key}@${m.t}:${JSON.stringify(m.vals)}`),
          query: (m) => void got.queries.push(`${m.offset}/${m.query}`),
          partialRow: (r) => void got.rows.push(r.offset),
        },
      },
      filter === undefined ? {} : { keyFilter: filter },
    );
    await task.process({ source: 'txns', partition: events[0].partition, records: events.map((e) => ({ offset: e.offset, value: e })) });
    await task.endOfInput('txns');
    return got;
  };
  const all = await run();
  const filtered = await run(kept);
  const keptOffsets = new Set(events.filter((e) => kept(e.card_id)).map((e) => e.offset));
  assert.ok(keptOffsets.size > 10 && keptOffsets.size < events.length / 2, `${keptOffsets.size} of ${events.length} events kept`);
  assert.deepEqual(filtered.updates, all.updates, 'the same updates, in the same order, for every card');
  assert.deepEqual(filtered.rows, all.rows.filter((o) => keptOffsets.has(o)), 'rows of the kept cards only');
  assert.deepEqual(filtered.queries, all.queries.filter((q) => keptOffsets.has(Number(q.split('/')[0]))), 'queries of the kept cards only');
  assert.ok(filtered.rows.length > 0 && filtered.queries.length > 0);
});

test('KeyTimeline.readAt: a read after an insert into an already-read tile sees the insert', () => {
  const W = 64 * M;
  const layout: TimelineLayout = {
    windows: [{ size: W, includeCurrent: false, aggs: [{ def: aggregationFor({ kind: 'count', params: {} }), column: -1, out: 0 }] }],
    tiledWindows: [],
    columns: 0,
    sinceLast: [],
    maxWindow: W,
  };
  const tl = new KeyTimeline(layout);
  let seq = 0;
  const times: number[] = [];
  const insert = (t: number): void => {
    tl.insert(t, seq++, []);
    times.push(t);
  };
  const countAt = (qt: number): number => times.filter((t) => t > qt - W && t <= qt).length;
  for (let t = 0; t < 200 * M; t += 3 * M) insert(t);
  const out: Array<number | null> = [null];
  const qt = 150 * M + 7;
  tl.readAt(qt, out as never);
  assert.equal(out[0], countAt(qt));
  // Behind the reads: lands in a tile the read above folded whole.
  insert(120 * M + 1);
  insert(120 * M + 2);
  tl.readAt(qt, out as never);
  assert.equal(out[0], countAt(qt), 'the cached tile was refreshed');
});

/** Origin outputs of 3 × 900 transactions whose merchants take turns (see the comment inside). */
async function rotatingMerchants(program: Program, perBlock = 3): Promise<OriginOutput[]> {
  // Merchants take turns: block b of 90 minutes has merchants q<b mod 4>-0..perBlock-1 (and a few of the
  // block before), so each is quiet for hours (more than a 1 h window plus a 45 min lag) and
  // then comes back.
  const rng = new Rng(41);
  const events: Event[][] = Array.from({ length: ORIGINS }, (_, p) => {
    const list: Event[] = [];
    let clock = T0;
    for (let offset = 0; offset < 900; offset++) {
      clock += rng.int(0, 2) * M;
      const t = clock - (rng.chance(0.1) ? rng.int(0, 8) * M : 0);
      // Now and then (in the first two thirds) one of the block before: merchants that went quiet are queried a while later.
      const block = (Math.floor((t - T0) / (90 * M)) + 4 + (offset < 600 && rng.chance(0.15) ? 3 : 0)) % 4;
      list.push({ card_id: `c${p}-${rng.int(0, 5)}`, merchant_id: `q${block}-${rng.int(0, perBlock - 1)}`, amount: rng.int(1, 999) / 100, event_time: t, partition: p, offset });
    }
    return list;
  });
  const origins: OriginOutput[] = [];
  for (const list of events) origins.push(await runOrigin(program, list, new Rng(42)));
  return origins;
}

/** Lags long beside the window, so that a sweep ignoring them frees events a later query still reads. */
const SWEEP_LAG = 45 * M;
const sweepTopology = topology('regroup-sweep-test', (t) => {
  const txns = t.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time, grace: '10m', late: 'drop' });
  const card = txns.groupBy('card', (x) => x.card_id);
  const merchant = txns.regroupBy('merchant', (x) => x.merchant_id);
  txns.features('f', {
    card_n_1h: card.lookback('1h').count(),
    m_n_1h: merchant.lookback('1h', { asOf: '45m' }).count(),
    m_sum_1h: merchant.lookback('1h', { asOf: '45m' }).sum((x) => x.amount),
    m_mean_30m: merchant.lookback('30m', { asOf: '2m' }).mean((x) => x.amount),
  });
  return {};
});

test('the live sweep frees quiet merchants\' regrouped state (their events and head) and changes no answer, across restarts', async () => {
  const plan = compilePlan(sweepTopology, HERE);
  const program = buildProgram(plan);
  const origins = await rotatingMerchants(program);
  const signature = (answers: Map<string, RegroupAnswer>): string[] => [...answers].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, a]) => `${k}=${a.values.map(exact).join(',')}`);
  const heads = async (backend: MemoryBackend, r: number): Promise<number> => (await backend.scan(`r${r}/t/merchant/`)).filter(([k]) => k.endsWith('/h')).length;
  let freed = 0;
  for (let r = 0; r < REGROUPS; r++) {
    const streams = origins.map((o) => o.messages[r]);
    const reference = await answerPartition(program, r, streams, new Rng(1));
    // The same input, sweeping (random walk budgets) and checkpointing after random batches, reopening now and then.
    const sweepRng = new Rng(50 + r);
    const answers = new Map<string, RegroupAnswer>();
    const collect = (a: RegroupAnswer): void => void answers.set(answerId(a), a);
    const backend = new MemoryBackend();
    let task = await RegroupedTask.open(program, r, ORIGINS, backend, collect);
    await feed(() => task, streams, sweepRng, async () => {
      if (!sweepRng.chance(0.3)) return;
      freed += await task.sweepExpired(sweepRng.int(1, 200));
      await task.checkpoint();
      if (sweepRng.chance(0.2)) task = await RegroupedTask.open(program, r, ORIGINS, backend, collect);
    });
    // Before the inputs end: a whole sweep, then count the heads left.
    await task.checkpoint();
    await task.sweepExpired(1_000_000);
    await task.checkpoint();
    // By hand: the floor is the lowest upstream's last watermark; a merchant keeps its head when
    // an update it got below the floor (released) is later than the floor minus the longest lag and window.
    const floor = Math.min(...streams.map((s) => Math.max(...s.flatMap((m) => (m.kind === 'watermark' ? [m.watermark] : [])))));
    const latest = new Map<string, number>();
    for (const s of streams) for (const m of s) if (m.kind === 'update' && m.t < floor) latest.set(m.key, Math.max(latest.get(m.key) ?? -Infinity, m.t));
    const keep = [...latest.values()].filter((t) => t > floor - SWEEP_LAG - 60 * M).length;
    assert.ok(keep > 0 && keep < latest.size, `regroup partition ${r}: ${keep} of ${latest.size} merchants still in a window`);
    assert.equal(await heads(backend, r), keep, `regroup partition ${r}: merchant heads kept`);
    await feed(() => task, streams.map((_, p) => [{ kind: 'watermark', upstream: p, watermark: Infinity } as RegroupMessage]), sweepRng);
    assert.deepEqual(signature(answers), signature(reference), `regroup partition ${r}: answers with the sweep`);
  }
  assert.ok(freed > 10, `the sweeps along the way freed keys (${freed})`);
});

test('the sweep keeps a regrouped key while a query still to come can read it: down to the floor minus the longest lag and window', async () => {
  const program = buildProgram(compilePlan(sweepTopology, HERE));
  const merchant = program.groups.find((g) => g.name === 'merchant')!;
  const lagged = program.outputs[0].regroupQueries.find((q) => q.lag === SWEEP_LAG)!;
  const backend = new MemoryBackend();
  const answers: RegroupAnswer[] = [];
  let task = await RegroupedTask.open(program, 0, 1, backend, (a) => answers.push(a));
  const update = (key: string, minutes: number, amount: number): RegroupMessage => ({ kind: 'update', group: merchant.index, key, t: T0 + minutes * M, vals: [amount] });
  // x's last update 70 min below the floor (180 min): within lag + window (105 min) of it; y's 170 min below.
  await task.receive([update('y', 10, 4), update('x', 100, 1.5), update('x', 110, 2.25), { kind: 'watermark', upstream: 0, watermark: T0 + 180 * M }]);
  await task.checkpoint();
  assert.equal(await task.sweepExpired(1_000_000), 1, 'y alone is freed');
  await task.checkpoint();
  const heads = (await backend.scan('r0/t/merchant/')).filter(([k]) => k.endsWith('/h')).map(([k]) => k);
  assert.deepEqual(heads, [`${regroupTimelinePrefix(0, 'merchant', 'x')}h`]);
  // After a restart, a transaction at 185 min (accepted: above the watermark) asks about x as of 140 min: (80, 140] holds both updates.
  task = await RegroupedTask.open(program, 0, 1, backend, (a) => answers.push(a));
  await task.receive([{ kind: 'query', partition: 0, source: 'txns', offset: 0, output: 0, group: merchant.index, key: 'x', qt: T0 + 140 * M, query: lagged.index }]);
  assert.equal(answers.length, 1);
  assert.deepEqual(answers[0].values, [2, 3.75], 'm_n_1h and m_sum_1h of x as of 140 min');
});

test('a regrouped task with a small key cache evicts clean keys at checkpoints, reads them back, and answers bit for bit the same', async () => {
  const program = buildProgram(compilePlan(regroupTopology, HERE));
  const origins = await rotatingMerchants(program, 12);
  const streams = (r: number): RegroupMessage[][] => origins.map((o) => o.messages[r]);
  const signature = (answers: Map<string, RegroupAnswer>): string[] => [...answers].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, a]) => `${k}=${a.values.map(exact).join(',')}`);
  for (let r = 0; r < REGROUPS; r++) {
    const reference = signature(await answerPartition(program, r, streams(r), new Rng(1)));
    const answers = new Map<string, RegroupAnswer>();
    const backend = new MemoryBackend();
    const task = await RegroupedTask.open(program, r, ORIGINS, backend, (a) => void answers.set(answerId(a), a), { maxCachedKeys: 1 });
    const rng = new Rng(60 + r);
    const sizes: number[] = [];
    await feed(() => task, [...streams(r).map((s, p) => [...s, { kind: 'watermark', upstream: p, watermark: Infinity } as RegroupMessage])], rng, async () => {
      if (!rng.chance(0.5)) return;
      await task.checkpoint();
      // Past the bound (1), only the keys of the latest release stay.
      sizes.push(task.cacheStats.cachedKeys);
    });
    assert.ok(task.cacheStats.evictions > 10, `keys were evicted (${task.cacheStats.evictions})`);
    // The latest release's merchants: usually a few of one block's 12, against about 24 per partition in all.
    const keys = new Set(streams(r).flatMap((s) => s.flatMap((m) => (m.kind === 'update' || m.kind === 'query' ? [m.key] : []))));
    const median = [...sizes].sort((a, b) => a - b)[sizes.length >> 1];
    assert.ok(median * 2 < keys.size, `cached after a checkpoint: median ${median} keys of ${keys.size}`);
    assert.deepEqual(signature(answers), reference, `regroup partition ${r}`);
  }
});

test('capCache lowers the bound of a regrouped task to a share of its fullest group, the next checkpoint evicts down to it, and no answer changes', async () => {
  const program = buildProgram(compilePlan(regroupTopology, HERE));
  const origins = await rotatingMerchants(program, 12);
  const r = 0;
  const streams = origins.map((o) => o.messages[r]);
  const signature = (answers: Map<string, RegroupAnswer>): string[] => [...answers].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, a]) => `${k}=${a.values.map(exact).join(',')}`);
  const reference = signature(await answerPartition(program, r, streams, new Rng(1)));
  const answers = new Map<string, RegroupAnswer>();
  const task = await RegroupedTask.open(program, r, ORIGINS, new MemoryBackend(), (a) => void answers.set(answerId(a), a));
  const all = streams.map((s) => s.slice());
  const half = all.map((s) => s.splice(0, s.length >> 1));
  // Small steps of every upstream in turn: each release holds the merchants of a short span of time only.
  for (let at = 0; half.some((s) => at < s.length); at += 8) for (const s of half) await task.receive(s.slice(at, at + 8));
  const before = task.cacheStats.cachedKeys;
  assert.ok(before >= 8, `${before} keys in memory`);
  assert.equal(task.overCacheBound, false, 'no bound yet');
  // A quarter of the keys the fullest group holds (the topology has one regrouped group), at least 2.
  const bound = task.capCache(0.25, 2);
  assert.equal(bound, Math.max(2, Math.floor(before * 0.25)));
  assert.equal(task.capCache(0.9, 2), bound, 'a bound is never raised');
  assert.equal(task.overCacheBound, true);
  await task.checkpoint();
  assert.ok(task.cacheStats.evictions > 0 && task.cacheStats.cachedKeys < before, JSON.stringify(task.cacheStats));
  for (const [p, s] of all.entries()) await task.receive([...s, { kind: 'watermark', upstream: p, watermark: Infinity }]);
  assert.deepEqual(signature(answers), reference);
});
