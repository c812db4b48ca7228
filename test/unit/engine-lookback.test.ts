/**
 * Lookback-window semantics of the engine (DESIGN.md "Time semantics"), driven through a real
 * Task with hand-computed expectations. Times are in ms; M = one minute, W = one hour unless
 * a feature says otherwise. The vector of an event at t covers the key's earlier-applied
 * events with time in (t − W, t], excluding the event itself unless includeCurrent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology, type Duration } from '../../src/dsl/index.js';
import type { InputRecord } from '../../src/engine/input.js';
import { buildProgram, type Program } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { MemoryBackend } from '../../src/state/state-backend.js';
import { assertClose, collectingSinks, rowsByName, type Collected } from '../helpers/engine.js';
import { mulberry32 } from '../helpers/prng.js';

const HERE = fileURLToPath(import.meta.url);
const M = 60_000;
const T0 = Date.UTC(2024, 0, 1); // 2024-01-01T00:00:00Z

// A type alias (not an interface) so that it is assignable to the engine's SourceValue record type.
type Txn = {
  card_id: string;
  merchant_id: string;
  amount: number;
  event_time: unknown;
};

function cardTopology(opts: { grace: Duration; late: 'drop' | 'sideOutput' }) {
  return topology('lookback-test', (t) => {
    const txns = t.source<Txn>('txns', {
      schema: '../../schemas/card_transaction.avsc',
      key: (x) => x.card_id,
      eventTime: (x) => x.event_time as number,
      grace: opts.grace,
      late: opts.late,
    });
    const card = txns.groupBy('card', (x) => x.card_id);
    txns.features('f', {
      n: card.lookback('1h').count(),
      n_30m: card.lookback('30m').count(),
      n_5m: card.lookback('5m').count(),
      n_incl: card.lookback('1h', { includeCurrent: true }).count(),
      sum: card.lookback('1h').sum((x) => x.amount),
      sum_incl: card.lookback('1h', { includeCurrent: true }).sum((x) => x.amount),
      mean: card.lookback('1h').mean((x) => x.amount),
      min: card.lookback('1h').min((x) => x.amount),
      max: card.lookback('1h').max((x) => x.amount),
      std: card.lookback('1h').stddev((x) => x.amount),
      distinct: card.lookback('1h').countDistinct((x) => x.merchant_id),
      last: card.lookback('1h').last((x) => x.amount),
      last_incl: card.lookback('1h', { includeCurrent: true }).last((x) => x.amount),
      since: card.timeSinceLast('minutes'),
    });
    return {};
  });
}

async function openTask(opts: { grace: Duration; late: 'drop' | 'sideOutput' }): Promise<{ program: Program; task: Task; out: Collected }> {
  const program = buildProgram(compilePlan(cardTopology(opts), HERE));
  const { sinks, out } = collectingSinks();
  const task = await Task.open(program, 0, new MemoryBackend(), sinks);
  return { program, task, out };
}

async function feed(task: Task, records: InputRecord[]): Promise<void> {
  await task.process({ source: 'txns', partition: 0, records });
  await task.endOfInput('txns');
}

const txn = (card: string, tMs: unknown, amount: number, merchant: string): Txn => ({ card_id: card, merchant_id: merchant, amount, event_time: tMs });

/**
 * Key A: ten events. Per event: [time offset from T0 in ms, amount, merchant].
 *  e0 0          10  A
 *  e1 10M        20  B
 *  e2 30M         5  A
 *  e3 60M        40  C   (e0 sits exactly at t − W = 0: excluded)
 *  e4 70M        -3  B   (e1 exactly at t − W = 10M: excluded)
 *  e5 90M − 1ms  12  A   (e2 at 30M = t − W + 1ms: included)
 *  e6 90M − 1ms   7  D   (same time as e5, applied after it: e5 included)
 *  e7 200M      100  E   (nothing in (140M, 200M]: empty window)
 *  e8 230M        8  A
 *  e9 250M        1  A
 */
const A_EVENTS: Array<[number, number, string]> = [
  [0, 10, 'A'],
  [10 * M, 20, 'B'],
  [30 * M, 5, 'A'],
  [60 * M, 40, 'C'],
  [70 * M, -3, 'B'],
  [90 * M - 1, 12, 'A'],
  [90 * M - 1, 7, 'D'],
  [200 * M, 100, 'E'],
  [230 * M, 8, 'A'],
  [250 * M, 1, 'A'],
];

interface Expect {
  n: number;
  n_30m: number;
  n_5m: number;
  sum: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  std: number | null;
  distinct: number;
  last: number | null;
  since: number | null;
}

/** Hand-computed vectors of key A (window members listed; std = sqrt(Σ(x − mean)² / (n − 1))). */
const A_EXPECTED: Expect[] = [
  // e0: nothing before it.
  { n: 0, n_30m: 0, n_5m: 0, sum: 0, mean: null, min: null, max: null, std: null, distinct: 0, last: null, since: null },
  // e1 @10M: (−50M, 10M] = {e0:10}; std null below 2 values; since 10 min. 30m: (−20M,10M] = {e0}.
  { n: 1, n_30m: 1, n_5m: 0, sum: 10, mean: 10, min: 10, max: 10, std: null, distinct: 1, last: 10, since: 10 },
  // e2 @30M: {e0:10, e1:20}: mean 15, std sqrt((25 + 25)/1) = sqrt(50); merchants {A, B}. 30m: (0, 30M] = {e1}.
  { n: 2, n_30m: 1, n_5m: 0, sum: 30, mean: 15, min: 10, max: 20, std: Math.sqrt(50), distinct: 2, last: 20, since: 20 },
  // e3 @60M: (0, 60M] = {e1:20, e2:5} (e0 at 0 excluded): mean 12.5, std sqrt(7.5² · 2) = sqrt(112.5). 30m: (30M, 60M] = {} (e2 at 30M excluded).
  { n: 2, n_30m: 0, n_5m: 0, sum: 25, mean: 12.5, min: 5, max: 20, std: Math.sqrt(112.5), distinct: 2, last: 5, since: 30 },
  // e4 @70M: (10M, 70M] = {e2:5, e3:40} (e1 at 10M excluded): mean 22.5, std sqrt(17.5² · 2) = sqrt(612.5); {A, C}. 30m: (40M,70M] = {e3}.
  { n: 2, n_30m: 1, n_5m: 0, sum: 45, mean: 22.5, min: 5, max: 40, std: Math.sqrt(612.5), distinct: 2, last: 40, since: 10 },
  // e5 @90M−1: (30M − 1, 90M − 1] = {e2:5, e3:40, e4:−3}: sum 42, mean 14, deviations −9, 26, −17 → 81 + 676 + 289 = 1046, /2 = 523.
  // merchants {A, C, B}; since (90M − 1 − 70M) / M = 1199999 / 60000 min. 30m: (60M − 1, 90M − 1] = {e3, e4}.
  { n: 3, n_30m: 2, n_5m: 0, sum: 42, mean: 14, min: -3, max: 40, std: Math.sqrt(523), distinct: 3, last: -3, since: 1199999 / 60000 },
  // e6 @90M−1: {e2:5, e3:40, e4:−3, e5:12}: sum 54, mean 13.5, deviations −8.5, 26.5, −16.5, −1.5 → 72.25 + 702.25 + 272.25 + 2.25 = 1049, /3.
  // last = e5's 12 (same time, applied earlier); since 0. 30m: {e3, e4, e5}. 5m: (85M−1, 90M−1] = {e5}.
  { n: 4, n_30m: 3, n_5m: 1, sum: 54, mean: 13.5, min: -3, max: 40, std: Math.sqrt(1049 / 3), distinct: 3, last: 12, since: 0 },
  // e7 @200M: (140M, 200M] is empty, but the key has a previous event: since (200M − 90M + 1) / M = 6600001 / 60000.
  { n: 0, n_30m: 0, n_5m: 0, sum: 0, mean: null, min: null, max: null, std: null, distinct: 0, last: null, since: 6600001 / 60000 },
  // e8 @230M: (170M, 230M] = {e7:100}. 30m: (200M, 230M] = {} (e7 at 200M excluded).
  { n: 1, n_30m: 0, n_5m: 0, sum: 100, mean: 100, min: 100, max: 100, std: null, distinct: 1, last: 100, since: 30 },
  // e9 @250M: (190M, 250M] = {e7:100, e8:8}: mean 54, std sqrt(46² · 2) = sqrt(4232); merchants {E, A}. 30m: (220M, 250M] = {e8}.
  { n: 2, n_30m: 1, n_5m: 0, sum: 108, mean: 54, min: 8, max: 100, std: Math.sqrt(4232), distinct: 2, last: 8, since: 20 },
];

function checkRow(row: Record<string, unknown>, e: Expect, amount: number, what: string): void {
  for (const k of ['n', 'n_30m', 'n_5m', 'sum', 'mean', 'min', 'max', 'distinct', 'last'] as const) {
    assert.equal(row[k], e[k], `${what}: ${k}`);
  }
  assertClose(row.std, e.std, `${what}: std`);
  assertClose(row.since, e.since, `${what}: since`);
  // includeCurrent: the same window plus the event itself.
  assert.equal(row.n_incl, e.n + 1, `${what}: n_incl`);
  assert.equal(row.sum_incl, e.sum + amount, `${what}: sum_incl`);
  assert.equal(row.last_incl, amount, `${what}: last_incl (the current event is the latest)`);
}

test('lookback vectors for one key: bounds (t − W, t], includeCurrent, every aggregation, empty windows', async () => {
  const { program, task, out } = await openTask({ grace: '10m', late: 'drop' });
  const cols = program.outputs[0].columns;
  assert.deepEqual(
    cols.map((c) => c.name),
    ['distinct', 'last', 'last_incl', 'max', 'mean', 'min', 'n', 'n_30m', 'n_5m', 'n_incl', 'since', 'std', 'sum', 'sum_incl'],
    'feature columns are sorted by name',
  );
  await feed(
    task,
    A_EVENTS.map(([dt, amount, m], i) => ({ offset: i, value: txn('A', T0 + dt, amount, m) })),
  );
  const rows = rowsByName(out.features, cols);
  assert.equal(rows.length, 10);
  rows.forEach((r, i) => {
    assert.equal(r.offset, i);
    assert.equal(r.key, 'A');
    assert.equal(r.eventTime, T0 + A_EVENTS[i][0]);
    checkRow(r, A_EXPECTED[i], A_EVENTS[i][1], `e${i}`);
  });
  assert.equal(out.dead.length, 0);
  assert.equal(out.late.length, 0);
  assert.equal(task.counters.emitted, 10);
  assert.equal(task.currentStreamTime, T0 + 250 * M);
});

test('two keys interleaved do not interfere', async () => {
  const { program, task, out } = await openTask({ grace: '10m', late: 'drop' });
  // Key B in between A's events (merged stream stays in time order, so nothing is late):
  //  b0 @5M 1000 m=A, b1 @64M 2000 m=Z, b2 @100M 3000 m=Z.
  const B_EVENTS: Array<[number, number, string]> = [
    [5 * M, 1000, 'A'],
    [64 * M, 2000, 'Z'],
    [100 * M, 3000, 'Z'],
  ];
  const merged = [
    ...A_EVENTS.map(([dt, amount, m], i) => ({ key: 'A', i, dt, amount, m })),
    ...B_EVENTS.map(([dt, amount, m], i) => ({ key: 'B', i, dt, amount, m })),
  ].sort((x, y) => x.dt - y.dt || (x.key === y.key ? x.i - y.i : x.key === 'A' ? -1 : 1));
  await feed(
    task,
    merged.map((e, offset) => ({ offset, value: txn(e.key, T0 + e.dt, e.amount, e.m) })),
  );
  const rows = rowsByName(out.features, program.outputs[0].columns);
  const a = rows.filter((r) => r.key === 'A');
  const b = rows.filter((r) => r.key === 'B');
  assert.equal(a.length, 10);
  a.forEach((r, i) => checkRow(r, A_EXPECTED[i], A_EVENTS[i][1], `A e${i} (interleaved)`));
  const B_EXPECTED: Expect[] = [
    // b0: first event of B, even though A already has history.
    { n: 0, n_30m: 0, n_5m: 0, sum: 0, mean: null, min: null, max: null, std: null, distinct: 0, last: null, since: null },
    // b1 @64M: (4M, 64M] = {b0:1000}; since 59 min.
    { n: 1, n_30m: 0, n_5m: 0, sum: 1000, mean: 1000, min: 1000, max: 1000, std: null, distinct: 1, last: 1000, since: 59 },
    // b2 @100M: (40M, 100M] = {b1:2000}; 30m: (70M, 100M] = {}; since 36 min.
    { n: 1, n_30m: 0, n_5m: 0, sum: 2000, mean: 2000, min: 2000, max: 2000, std: null, distinct: 1, last: 2000, since: 36 },
  ];
  assert.equal(b.length, 3);
  b.forEach((r, i) => checkRow(r, B_EXPECTED[i], B_EVENTS[i][1], `B b${i}`));
});

test('an out-of-order event sees only earlier event times (no future leakage); later events include it', async () => {
  const { program, task, out } = await openTask({ grace: '15m', late: 'drop' });
  // Arrival order a, b, c, d, e, f; d (40M) arrives after c (50M), within the 15 min grace.
  const evs: Array<[string, number, number]> = [
    ['a', 0, 1],
    ['b', 30 * M, 2],
    ['c', 50 * M, 4],
    ['d', 40 * M, 8],
    ['e', 55 * M, 16],
    ['f', 58 * M, 32],
  ];
  await feed(
    task,
    evs.map(([, dt, amount], i) => ({ offset: i, value: txn('K', T0 + dt, amount, `m${i}`) })),
  );
  const rows = rowsByName(out.features, program.outputs[0].columns);
  assert.equal(rows.length, 6);
  const byName = Object.fromEntries(evs.map(([n], i) => [n, rows[i]]));
  // d @40M: (−20M, 40M] = {a:1, b:2}; c (50M) arrived earlier but is in d's future: excluded.
  // mean 1.5, std sqrt((0.25 + 0.25)/1) = sqrt(0.5), max 2, last = b's 2 (latest time ≤ 40M), since 40 − 30 = 10.
  const d = byName.d;
  assert.equal(d.n, 2);
  assert.equal(d.sum, 3);
  assert.equal(d.mean, 1.5);
  assert.equal(d.min, 1);
  assert.equal(d.max, 2);
  assertClose(d.std, Math.sqrt(0.5), 'd std');
  assert.equal(d.distinct, 2);
  assert.equal(d.last, 2);
  assert.equal(d.since, 10);
  assert.equal(d.n_incl, 3, 'd n_incl = {a, b, d}');
  assert.equal(d.sum_incl, 11, 'd sum_incl = 1 + 2 + 8');
  assert.equal(d.last_incl, 8, 'd last_incl: d is the latest event ≤ 40M');
  assert.equal(d.n_30m, 1, 'd 30m: (10M, 40M] = {b}');
  assert.equal(d.n_5m, 0, 'd 5m: (35M, 40M] = {}');
  // e @55M: (−5M, 55M] = {a, b, c, d}: sum 15, max 8, last = c's 4 (c at 50M is the latest by time), since 55 − 50 = 5.
  const e = byName.e;
  assert.equal(e.n, 4);
  assert.equal(e.sum, 15);
  assert.equal(e.mean, 3.75);
  assert.equal(e.max, 8);
  assert.equal(e.min, 1);
  assert.equal(e.last, 4);
  assert.equal(e.since, 5);
  assert.equal(e.n_30m, 3, 'e 30m: (25M, 55M] = {b, c, d}');
  assert.equal(e.n_5m, 0, 'e 5m: (50M, 55M] = {} (c at 50M excluded; d at 40M must not be "removed" twice)');
  // sample std of {1, 2, 4, 8}: mean 3.75, deviations −2.75, −1.75, 0.25, 4.25 → 7.5625 + 3.0625 + 0.0625 + 18.0625 = 28.75, /3.
  assertClose(e.std, Math.sqrt(28.75 / 3), 'e std');
  // f @58M: (−2M, 58M] = {a, b, c, d, e}: sum 31, max 16, last 16, since 3; 5m: (53M, 58M] = {e}.
  const f = byName.f;
  assert.equal(f.n, 5);
  assert.equal(f.sum, 31);
  assert.equal(f.max, 16);
  assert.equal(f.last, 16);
  assert.equal(f.since, 3);
  assert.equal(f.n_5m, 1);
  assert.equal(f.distinct, 5);
  assert.equal(out.late.length + task.counters.late, 0, 'd is within grace: not late');
});

// Late records: stream time reaches 60M; grace 15 min, so anything before 45M is late.
const LATE_SEQ: Array<[string, number, number]> = [
  ['x', 0, 1], // offset 0
  ['x', 60 * M, 2], // 1: stream time 60M
  ['x', 45 * M, 4], // 2: exactly stream time − grace: accepted
  ['x', 45 * M - 1, 8], // 3: 1 ms older than that: late
  ['y', 30 * M, 16], // 4: another key is late too (stream time is per task)
  ['x', 70 * M, 32], // 5: in order
];

test("late records with late: 'drop' are counted and produce no row, and never enter state", async () => {
  const { program, task, out } = await openTask({ grace: '15m', late: 'drop' });
  await feed(
    task,
    LATE_SEQ.map(([k, dt, amount], i) => ({ offset: i, value: txn(k, T0 + dt, amount, 'm') })),
  );
  const rows = rowsByName(out.features, program.outputs[0].columns);
  assert.deepEqual(
    rows.map((r) => r.offset),
    [0, 1, 2, 5],
    'offsets 3 and 4 are late: no feature row',
  );
  assert.equal(task.counters.lateDropped, 2);
  assert.equal(task.counters.late, 2);
  assert.equal(task.counters.lateSideOutput, 0);
  assert.equal(out.late.length, 0, 'drop: nothing on the late sink');
  // offset 2 @45M: (−15M, 45M] = {x@0:1, x@60M? no (future)} → {1}.
  assert.equal(rows[2].n, 1);
  assert.equal(rows[2].sum, 1);
  // offset 5 @70M: (10M, 70M] = {x@60M:2, x@45M:4}; the dropped 8 is not there.
  assert.equal(rows[3].n, 2);
  assert.equal(rows[3].sum, 6);
  assert.equal(rows[3].since, 10);
  assert.equal(task.currentStreamTime, T0 + 70 * M);
});

test("late records with late: 'sideOutput' reach the late sink with a reason", async () => {
  const { program, task, out } = await openTask({ grace: '15m', late: 'sideOutput' });
  await feed(
    task,
    LATE_SEQ.map(([k, dt, amount], i) => ({ offset: i, value: txn(k, T0 + dt, amount, 'm') })),
  );
  const rows = rowsByName(out.features, program.outputs[0].columns);
  assert.deepEqual(
    rows.map((r) => r.offset),
    [0, 1, 2, 5],
  );
  assert.equal(task.counters.lateSideOutput, 2);
  assert.equal(task.counters.lateDropped, 0);
  assert.equal(out.late.length, 2);
  assert.deepEqual(
    out.late.map((l) => [l.source, l.partition, l.offset, l.eventTime, l.streamTime]),
    [
      ['txns', 0, 3, T0 + 45 * M - 1, T0 + 60 * M],
      ['txns', 0, 4, T0 + 30 * M, T0 + 60 * M],
    ],
  );
  for (const l of out.late) {
    assert.match(l.reason, /grace/, 'the reason names the grace');
    assert.ok(l.reason.length > 10);
    assert.equal(typeof l.value, 'object');
  }
  assert.equal(out.late[0].value.amount, 8);
  assert.equal(rows[3].sum, 6, 'side-output records are not in state either');
});

test('malformed records and bad event times are dead-lettered with a reason; nothing else changes', async () => {
  const good = (i: number): Txn => txn('A', T0 + A_EVENTS[i][0], A_EVENTS[i][1], A_EVENTS[i][2]);
  // Good records of key A at even offsets, bad ones between them.
  const bad: Array<[InputRecord['value'] | undefined, string | undefined, RegExp]> = [
    [undefined, 'invalid JSON at line 2: Unexpected token', /invalid JSON at line 2/],
    [txn('A', undefined, 999, 'Q'), undefined, /missing event time/],
    [txn('A', 'yesterday', 999, 'Q'), undefined, /unparsable event time "yesterday"/],
    // Far in the future but without a zone: must be rejected, and must not advance stream time.
    [txn('A', '2099-01-01T00:00:00', 999, 'Q'), undefined, /no UTC offset/],
    [txn('A', Number.NaN, 999, 'Q'), undefined, /NaN/],
    [txn('A', null, 999, 'Q'), undefined, /missing event time/],
  ];
  const withBad: InputRecord[] = [];
  const withoutBad: InputRecord[] = [];
  let offset = 0;
  for (let i = 0; i < A_EVENTS.length; i++) {
    withBad.push({ offset, value: good(i) });
    withoutBad.push({ offset, value: good(i) });
    offset++;
    if (i < bad.length) {
      const [value, error] = bad[i];
      withBad.push(error !== undefined ? { offset, error, raw: '{"card_id": "A", oops' } : { offset, value });
      offset++;
    }
  }

  const clean = await openTask({ grace: '10m', late: 'drop' });
  await feed(clean.task, withoutBad);
  const dirty = await openTask({ grace: '10m', late: 'drop' });
  await feed(dirty.task, withBad);

  assert.equal(dirty.out.dead.length, bad.length);
  dirty.out.dead.forEach((d, i) => {
    assert.equal(d.source, 'txns');
    assert.equal(d.partition, 0);
    assert.equal(d.offset, 2 * i + 1);
    assert.match(d.reason, bad[i][2]);
  });
  assert.equal(dirty.out.dead[0].raw, '{"card_id": "A", oops', 'raw bytes kept for the dead-letter sink');
  assert.equal(dirty.task.counters.deadLetters, bad.length);
  assert.equal(dirty.out.late.length, 0);
  assert.equal(dirty.task.counters.late, 0, 'the zone-less 2099 record did not advance stream time');

  // Feature rows identical to the run without bad records (values checked by hand above).
  const cols = clean.program.outputs[0].columns;
  assert.deepEqual(rowsByName(dirty.out.features, cols), rowsByName(clean.out.features, cols));
  rowsByName(dirty.out.features, cols).forEach((r, i) => checkRow(r, A_EXPECTED[i], A_EVENTS[i][1], `e${i} with dead letters around`));
  assert.equal(dirty.task.currentStreamTime, clean.task.currentStreamTime);
  assert.equal(dirty.task.currentStreamTime, T0 + 250 * M);
  const { processed: p1, deadLetters: d1, ...restDirty } = dirty.task.counters;
  const { processed: p0, deadLetters: d0, ...restClean } = clean.task.counters;
  assert.deepEqual(restDirty, restClean);
  assert.equal(p1 - p0, bad.length);
  assert.equal(d1 - d0, bad.length);
  // Resume positions count dead-lettered offsets as consumed.
  assert.deepEqual(dirty.task.resumePositions(), { txns: withBad.length });
});

/**
 * A long history on one key, so the timeline is trimmed and compacted many times, with
 * out-of-order arrivals within grace, a second key advancing stream time, and a restart
 * from a checkpoint half way. Every vector is compared with a brute-force scan written here
 * (the definition applied literally: earlier-applied events of the key with time in (t − W, t]).
 */
test('long history with trimming, compaction and a restart equals a brute-force scan of the definition', async () => {
  const rng = mulberry32(4242);
  const GRACE = 10 * M;
  const topo = topology('lookback-long', (t) => {
    const txns = t.source<Txn>('txns', {
      schema: '../../schemas/card_transaction.avsc',
      key: (x) => x.card_id,
      eventTime: (x) => x.event_time as number,
      grace: '10m',
      late: 'sideOutput',
    });
    const card = txns.groupBy('card', (x) => x.card_id);
    txns.features('f', {
      n: card.lookback('30m').count(),
      n_2h: card.lookback('2h').count(),
      sum: card.lookback('30m').sum((x) => x.amount),
      mean: card.lookback('30m').mean((x) => x.amount),
      min: card.lookback('30m').min((x) => x.amount),
      max: card.lookback('2h').max((x) => x.amount),
      std: card.lookback('30m').stddev((x) => x.amount),
      distinct: card.lookback('30m').countDistinct((x) => x.merchant_id),
      last: card.lookback('30m').last((x) => x.amount),
      since: card.timeSinceLast('ms'),
      // A window shorter than the grace: out-of-order events often land before its running range.
      n_5m: card.lookback('5m').count(),
      sum_5m: card.lookback('5m').sum((x) => x.amount),
      max_5m: card.lookback('5m').max((x) => x.amount),
      std_5m: card.lookback('5m').stddev((x) => x.amount),
      last_5m: card.lookback('5m').last((x) => x.amount),
      // includeCurrent on the in-order and the behind-the-clock paths.
      n_incl: card.lookback('30m', { includeCurrent: true }).count(),
      max_5m_incl: card.lookback('5m', { includeCurrent: true }).max((x) => x.amount),
      last_incl: card.lookback('30m', { includeCurrent: true }).last((x) => x.amount),
    });
    return {};
  });
  const program = buildProgram(compilePlan(topo, HERE));
  // Events: key K every ~1 min (often out of order by up to 12 min), key L every ~7 min.
  const events: Txn[] = [];
  for (let i = 0; i < 3000; i++) {
    const base = T0 + i * M + Math.floor(rng() * 30) * 1000;
    // Up to 12 min behind: most within the 10 min grace, some beyond it (late).
    const jitter = rng() < 0.2 ? -Math.floor(rng() * 12 * M) : 0;
    events.push(txn('K', base + jitter, Math.floor(rng() * 50_000) / 100, `m${Math.floor(rng() * 7)}`));
    if (i % 7 === 0) events.push(txn('L', base + Math.floor(rng() * 60) * 1000, Math.floor(rng() * 1000) / 10, 'x'));
  }
  // Arrival order = sorted by (base time + small noise), i.e. jittered events arrive "late".
  const records: InputRecord[] = events.map((value, offset) => ({ offset, value }));

  // Brute force over the arrival order.
  interface Applied {
    t: number;
    amount: number;
    merchant: string;
  }
  const history = new Map<string, Applied[]>();
  let streamTime = -Infinity;
  const expected: Array<Record<string, number | null> | 'late'> = [];
  for (const e of events) {
    const t = e.event_time as number;
    if (t < streamTime - GRACE) {
      expected.push('late');
      continue;
    }
    streamTime = Math.max(streamTime, t);
    const h = history.get(e.card_id) ?? [];
    const inWin = (w: number): Applied[] => h.filter((x) => x.t > t - w && x.t <= t);
    const w30 = inWin(30 * M);
    const w2h = inWin(120 * M);
    const amounts = w30.map((x) => x.amount);
    const n = amounts.length;
    const sum = amounts.reduce((a, b) => a + b, 0);
    const mean = n === 0 ? null : sum / n;
    const std = n < 2 ? null : Math.sqrt(amounts.reduce((a, b) => a + (b - mean!) ** 2, 0) / (n - 1));
    // last: greatest event time, ties broken by application order (later applied wins).
    let last: Applied | null = null;
    for (const x of w30) if (last === null || x.t >= last.t) last = x;
    const earlier = h.filter((x) => x.t <= t);
    const w5 = inWin(5 * M);
    const a5 = w5.map((x) => x.amount);
    const mean5 = a5.length === 0 ? 0 : a5.reduce((a, b) => a + b, 0) / a5.length;
    let last5: Applied | null = null;
    for (const x of w5) if (last5 === null || x.t >= last5.t) last5 = x;
    // includeCurrent: the same windows plus the event itself, which is applied last (wins ties for last).
    const self: Applied = { t, amount: e.amount, merchant: e.merchant_id };
    let lastIncl: Applied = self;
    for (const x of w30) if (x.t > lastIncl.t) lastIncl = x;
    expected.push({
      n_5m: a5.length,
      sum_5m: a5.reduce((a, b) => a + b, 0),
      max_5m: a5.length === 0 ? null : Math.max(...a5),
      std_5m: a5.length < 2 ? null : Math.sqrt(a5.reduce((a, b) => a + (b - mean5) ** 2, 0) / (a5.length - 1)),
      last_5m: last5 === null ? null : last5.amount,
      n_incl: n + 1,
      max_5m_incl: Math.max(e.amount, ...a5),
      last_incl: lastIncl.amount,
      n,
      n_2h: w2h.length,
      sum,
      mean,
      min: n === 0 ? null : Math.min(...amounts),
      max: w2h.length === 0 ? null : Math.max(...w2h.map((x) => x.amount)),
      std,
      distinct: new Set(w30.map((x) => x.merchant)).size,
      last: last === null ? null : last.amount,
      since: earlier.length === 0 ? null : t - Math.max(...earlier.map((x) => x.t)),
    });
    h.push({ t, amount: e.amount, merchant: e.merchant_id });
    history.set(e.card_id, h);
  }
  const lateCount = expected.filter((x) => x === 'late').length;
  assert.ok(lateCount > 10 && lateCount < 300, `late events in the brute force: ${lateCount}`);

  // The engine, with a checkpoint and a fresh task on the same backend half way.
  const backend = new MemoryBackend();
  const first = collectingSinks();
  const task1 = await Task.open(program, 0, backend, first.sinks);
  const half = Math.floor(records.length / 2);
  for (let i = 0; i < half; i += 100) await task1.process({ source: 'txns', partition: 0, records: records.slice(i, Math.min(i + 100, half)) });
  await task1.checkpoint();
  const second = collectingSinks();
  const task2 = await Task.open(program, 0, backend, second.sinks);
  assert.deepEqual(task2.resumePositions(), { txns: half });
  for (let i = 0; i < records.length; i += 100) await task2.process({ source: 'txns', partition: 0, records: records.slice(i, i + 100) });
  await task2.endOfInput('txns');

  const rows = rowsByName([...first.out.features, ...second.out.features], program.outputs[0].columns);
  const late = [...first.out.late, ...second.out.late];
  assert.equal(late.length, lateCount);
  assert.equal(rows.length + late.length, events.length);
  let k = 0;
  for (let i = 0; i < events.length; i++) {
    const exp = expected[i];
    if (exp === 'late') {
      assert.ok(late.some((l) => l.offset === i), `offset ${i} is late`);
      continue;
    }
    const row = rows[k++];
    assert.equal(row.offset, i);
    const what = `offset ${i} (${events[i].card_id} @ ${(events[i].event_time as number) - T0} ms)`;
    for (const c of ['n', 'n_2h', 'min', 'max', 'distinct', 'last', 'since', 'n_5m', 'max_5m', 'last_5m', 'n_incl', 'max_5m_incl', 'last_incl'] as const) {
      assert.equal(row[c], exp[c], `${what}: ${c}`);
    }
    assertClose(row.sum_5m, exp.sum_5m, `${what}: sum_5m`, 1e-9);
    assertClose(row.std_5m, exp.std_5m, `${what}: std_5m`, 1e-9);
    assertClose(row.sum, exp.sum, `${what}: sum`, 1e-9);
    assertClose(row.mean, exp.mean, `${what}: mean`, 1e-9);
    assertClose(row.std, exp.std, `${what}: std`, 1e-9);
  }
  // The scenario is not trivial: many out-of-order events, and windows that fill and empty.
  const outOfOrder = events.filter((e, i) => i > 0 && (e.event_time as number) < Math.max(...events.slice(Math.max(0, i - 20), i).map((x) => x.event_time as number))).length;
  assert.ok(outOfOrder > 300, `out-of-order events: ${outOfOrder}`);
  // ... and many of them are more than 5 minutes behind their key's clock (before the 5m window's range).
  let behind5m = 0;
  const clock = new Map<string, number>();
  for (let i = 0; i < events.length; i++) {
    if (expected[i] === 'late') continue;
    const e = events[i];
    const c = clock.get(e.card_id) ?? -Infinity;
    if ((e.event_time as number) <= c - 5 * M) behind5m++;
    clock.set(e.card_id, Math.max(c, e.event_time as number));
  }
  assert.ok(behind5m > 100, `events more than 5 min behind their key's clock: ${behind5m}`);
});
