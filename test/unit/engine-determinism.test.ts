/**
 * The determinism contract (DESIGN.md): for the same per-partition input sequences the
 * engine emits the same rows, bit for bit, whatever the batching, whatever the interleaving
 * of partitions and sources, and across crashes and restarts from checkpoints.
 *
 * Data: card-like transactions and logins for 50 cards, partitioned by a test-side hash of
 * the card id mod 4, arriving out of order within each partition (a few hours late, i.e.
 * beyond grace), with some malformed records. Two sources per task exercise the merge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import type { InputBatch, InputRecord } from '../../src/engine/input.js';
import { buildProgram, type Program } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import type { TaskCounters } from '../../src/engine/task-counters.js';
import { compilePlan } from '../../src/plan/compile.js';
import { LevelBackend, MemoryBackend, type StateBackend } from '../../src/state/state-backend.js';
import { assertSameOutputs, collectingSinks, type Collected } from '../helpers/engine.js';
import { fnv1a, Rng } from '../helpers/prng.js';

const HERE = fileURLToPath(import.meta.url);
const PARTITIONS = 4;
const CARDS = 50;
const T0 = Date.UTC(2025, 2, 1);
const S = 1000;
const MIN = 60 * S;
const HOUR = 60 * MIN;

interface Txn {
  txn_id: string;
  card_id: string;
  merchant_id: string;
  amount: number;
  event_time: number | null;
}

interface Login {
  card_id: string;
  device: string;
  at: number | null;
}

const cardFeatures = topology('determinism', (t) => {
  const txns = t.source<Txn>('txns', {
    maxFutureSkew: null, // these tests look at the first records as they arrive (no future-skew warm-up)
    schema: '../../schemas/card_transaction.avsc',
    key: (x) => x.card_id,
    eventTime: (x) => x.event_time,
    grace: '20m',
    late: 'sideOutput',
  });
  const logins = t.source<Login>('logins', {
    maxFutureSkew: null, // these tests look at the first records as they arrive (no future-skew warm-up)
    schema: '../../schemas/chargeback.avsc',
    key: (l) => l.card_id,
    eventTime: (l) => l.at,
    grace: '5m',
    late: 'drop',
  });
  const card = txns.groupBy('card', (x) => x.card_id);
  txns.features(
    'txn_features',
    {
      n_1h: card.lookback('1h').count(),
      n_24h: card.lookback('24h').count(),
      sum_24h: card.lookback('24h').sum((x) => x.amount),
      sum_1h_incl: card.lookback('1h', { includeCurrent: true }).sum((x) => x.amount),
      mean_24h: card.lookback('24h').mean((x) => x.amount),
      min_1h: card.lookback('1h').min((x) => x.amount),
      max_7h: card.lookback('7h').max((x) => x.amount),
      std_24h: card.lookback('24h').stddev((x) => x.amount),
      var_6h: card.lookback('6h').variance((x) => x.amount, { population: true }),
      merchants_24h: card.lookback('24h').countDistinct((x) => x.merchant_id),
      last_3h: card.lookback('3h').last((x) => x.amount),
      last_merchant_3h: card.lookback('3h').last((x) => x.merchant_id, { type: 'string' }),
      since: card.timeSinceLast('seconds'),
    },
    {
      derive: {
        z_24h: (v, x) => (v.mean_24h === null || v.std_24h === null || v.std_24h === 0 ? null : (x.amount - v.mean_24h) / v.std_24h),
      },
    },
  );
  // Window operators on the same group: final rows at close, and per-event session updates.
  card
    .tumbling('1h', { emit: 'final' })
    .aggregate('card_hourly', (w) => ({ n: w.count(), amount: w.sum((x) => x.amount), max: w.max((x) => x.amount) }));
  card
    .session('30m', { emit: 'update' })
    .aggregate('card_sessions', (w) => ({ n: w.count(), mean: w.mean((x) => x.amount), std: w.stddev((x) => x.amount) }));
  const device = logins.groupBy('login_card', (l) => l.card_id);
  logins.features('login_features', {
    logins_1h: device.lookback('1h').count(),
    devices_24h: device.lookback('24h').countDistinct((l) => l.device),
    since_login: device.timeSinceLast('minutes'),
  });
  return {};
});

const SOURCES = ['txns', 'logins'] as const;
type SourceName = (typeof SOURCES)[number];
/** Per partition, per source: the records in offset order. */
type Dataset = Array<Record<SourceName, InputRecord[]>>;

function partitionOf(card: string): number {
  return fnv1a(card) % PARTITIONS;
}

/** Arrival delay: mostly seconds, sometimes minutes (within grace), rarely hours (late). */
function delay(rng: Rng): number {
  const r = rng.next();
  if (r < 0.85) return rng.int(0, 60) * S;
  if (r < 0.97) return rng.int(1, 15) * MIN;
  return rng.int(30, 180) * MIN;
}

function generate(seed: number, txnCount: number, loginCount: number): Dataset {
  const rng = new Rng(seed);
  const cards = Array.from({ length: CARDS }, (_, i) => `card-${String(i).padStart(2, '0')}`);
  const data: Dataset = Array.from({ length: PARTITIONS }, () => ({ txns: [], logins: [] }));
  const arrivals: Array<Array<{ source: SourceName; arrival: number; rec: Omit<InputRecord, 'offset'> }>> = Array.from({ length: PARTITIONS }, () => []);
  const lastTime = new Map<string, number>();
  for (let i = 0; i < txnCount; i++) {
    // Skewed card popularity: low ids are busier.
    const card = cards[Math.floor(CARDS * rng.next() * rng.next())];
    // 5% ties with the card's previous event time.
    const t = rng.chance(0.05) && lastTime.has(card) ? lastTime.get(card)! : T0 + rng.int(0, 3 * 24 * 3600) * S;
    lastTime.set(card, t);
    const value: Txn = {
      txn_id: `t${i}`,
      card_id: card,
      merchant_id: `m${rng.int(0, 12)}`,
      amount: rng.int(1, 50_000) / 100,
      event_time: t,
    };
    let rec: Omit<InputRecord, 'offset'> = { value: value as unknown as InputRecord['value'] };
    const bad = rng.next();
    if (bad < 0.005) rec = { error: `invalid JSON at line ${i + 1}: Unexpected end of JSON input`, raw: `{"card_id":"${card}"` };
    else if (bad < 0.01) rec = { value: { ...value, event_time: null } as unknown as InputRecord['value'] };
    arrivals[partitionOf(card)].push({ source: 'txns', arrival: t + delay(rng), rec });
  }
  for (let i = 0; i < loginCount; i++) {
    const card = cards[rng.int(0, CARDS - 1)];
    const t = T0 + rng.int(0, 3 * 24 * 3600) * S;
    const value: Login = { card_id: card, device: `d${rng.int(0, 5)}`, at: rng.chance(0.005) ? null : t };
    arrivals[partitionOf(card)].push({ source: 'logins', arrival: t + delay(rng), rec: { value: value as unknown as InputRecord['value'] } });
  }
  for (let p = 0; p < PARTITIONS; p++) {
    // Stable sort by arrival: each partition's offset order is its arrival order.
    const sorted = arrivals[p].map((a, i) => ({ ...a, i })).sort((a, b) => a.arrival - b.arrival || a.i - b.i);
    for (const a of sorted) {
      const list = data[p][a.source];
      list.push({ ...a.rec, offset: list.length });
    }
  }
  return data;
}

/** Every (source, partition) sequence cut into batches of 1..maxBatch, interleaved at random, each sequence's order kept. */
function schedule(data: Dataset, sources: readonly SourceName[], rng: Rng, maxBatch: number): InputBatch[] {
  const queues: InputBatch[][] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    for (const source of sources) {
      const recs = data[p][source];
      const q: InputBatch[] = [];
      for (let i = 0; i < recs.length; ) {
        const n = rng.int(1, maxBatch);
        q.push({ source, partition: p, records: recs.slice(i, i + n) });
        i += n;
      }
      queues.push(q);
    }
  }
  const heads = queues.map(() => 0);
  const out: InputBatch[] = [];
  for (;;) {
    const live = queues.map((q, i) => i).filter((i) => heads[i] < queues[i].length);
    if (live.length === 0) return out;
    const i = rng.pick(live);
    out.push(queues[i][heads[i]++]);
  }
}

function emptyCollected(): Collected {
  return { features: [], windows: [], dead: [], late: [] };
}

interface PartitionRun {
  out: Collected;
  counters: TaskCounters;
}

/** (a) The reference: each partition's sequences in one batch per source. */
function sourcesOf(program: Program): SourceName[] {
  return program.sources.map((s) => s.node.name as SourceName);
}

async function referenceRun(program: Program, data: Dataset): Promise<PartitionRun[]> {
  const sources = sourcesOf(program);
  const backend = new MemoryBackend();
  const runs: PartitionRun[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const { sinks, out } = collectingSinks();
    const task = await Task.open(program, p, backend, sinks);
    for (const source of sources) await task.process({ source, partition: p, records: data[p][source] });
    for (const source of sources) await task.endOfInput(source);
    runs.push({ out, counters: { ...task.counters } });
  }
  return runs;
}

async function openTasks(program: Program, backend: StateBackend): Promise<Array<{ task: Task; out: Collected }>> {
  const tasks: Array<{ task: Task; out: Collected }> = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const { sinks, out } = collectingSinks();
    tasks.push({ task: await Task.open(program, p, backend, sinks), out });
  }
  return tasks;
}

async function endAll(tasks: Array<{ task: Task }>, sources: readonly SourceName[], rng: Rng): Promise<void> {
  for (const { task } of tasks) {
    const order = rng.chance(0.5) ? [...sources] : [...sources].reverse();
    for (const s of order) await task.endOfInput(s);
  }
}

/** The same transaction features without the logins source: a single-input task (no merge). */
const txnsOnly = topology('determinism-single-input', (t) => {
  const txns = t.source<Txn>('txns', {
    schema: '../../schemas/card_transaction.avsc',
    key: (x) => x.card_id,
    eventTime: (x) => x.event_time,
    grace: '20m',
    late: 'sideOutput',
  });
  const card = txns.groupBy('card', (x) => x.card_id);
  txns.features('txn_features', {
    n_1h: card.lookback('1h').count(),
    sum_24h: card.lookback('24h').sum((x) => x.amount),
    min_1h: card.lookback('1h').min((x) => x.amount),
    max_7h: card.lookback('7h').max((x) => x.amount),
    std_24h: card.lookback('24h').stddev((x) => x.amount),
    merchants_24h: card.lookback('24h').countDistinct((x) => x.merchant_id),
    last_3h: card.lookback('3h').last((x) => x.amount),
    since: card.timeSinceLast('seconds'),
  });
  card.hopping('2h', '30m', { emit: 'final' }).aggregate('card_hopping', (w) => ({ n: w.count(), amount: w.sum((x) => x.amount) }));
  return {};
});

const program = buildProgram(compilePlan(cardFeatures, HERE));
const singleInput = buildProgram(compilePlan(txnsOnly, HERE));
const DATA = generate(20250301, 3000, 1000);

test('the generated input really is out of order, partly late and partly malformed', async () => {
  const ref = await referenceRun(program, DATA);
  let outOfOrder = 0;
  let total = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    assert.ok(DATA[p].txns.length > 100, `partition ${p} has transactions`);
    assert.ok(DATA[p].logins.length > 20, `partition ${p} has logins`);
    let max = -Infinity;
    for (const r of DATA[p].txns) {
      const t = (r.value as unknown as Txn | undefined)?.event_time;
      if (typeof t !== 'number') continue;
      if (t < max) outOfOrder++;
      max = Math.max(max, t);
    }
    total += DATA[p].txns.length + DATA[p].logins.length;
  }
  const sum = (k: keyof TaskCounters): number => ref.reduce((n, r) => n + r.counters[k], 0);
  assert.ok(outOfOrder > 100, `out-of-order transactions: ${outOfOrder}`);
  assert.ok(sum('lateSideOutput') > 10, `late transactions on the side output: ${sum('lateSideOutput')}`);
  assert.ok(sum('lateDropped') > 2, `late logins dropped: ${sum('lateDropped')}`);
  assert.ok(sum('deadLetters') > 10, `dead letters: ${sum('deadLetters')}`);
  assert.equal(sum('processed'), total);
  // Every record is accounted for exactly once: a feature row, a late record or a dead letter.
  assert.equal(sum('emitted') + sum('late') + sum('deadLetters'), total);
  assert.equal(ref.reduce((n, r) => n + r.out.late.length, 0), sum('lateSideOutput'));
  // The window operators emitted both kinds of rows, so their determinism is covered below too.
  const windows = ref.flatMap((r) => r.out.windows);
  assert.ok(windows.some((w) => w.output === 'card_hourly' && w.final), 'final tumbling rows');
  assert.ok(windows.some((w) => w.output === 'card_sessions' && !w.final), 'session update rows');
});

/** (b) Random batchings and interleavings; every partition's outputs must equal the reference bit for bit. */
async function checkInterleavings(program: Program, seed: number, RUNS: number): Promise<void> {
  const ref = await referenceRun(program, DATA);
  const sources = sourcesOf(program);
  const rng = new Rng(seed);
  // Non-vacuous: every output kind of the program produced rows in the reference.
  for (const o of [...program.outputs, ...program.windowOps]) {
    const n = ref.reduce((k, r) => k + r.out.features.filter((f) => f.output === o.name).length + r.out.windows.filter((w) => w.output === o.name).length, 0);
    assert.ok(n > 0, `output ${o.name} has rows in the reference run`);
  }
  for (let run = 0; run < RUNS; run++) {
    // One backend for all partitions, as a worker holds them; occasional checkpoints must not matter.
    const backend = new MemoryBackend();
    const tasks = await openTasks(program, backend);
    for (const batch of schedule(DATA, sources, rng, 50)) {
      await tasks[batch.partition].task.process(batch);
      if (rng.chance(0.02)) await tasks[batch.partition].task.checkpoint();
    }
    await endAll(tasks, sources, rng);
    for (let p = 0; p < PARTITIONS; p++) {
      assertSameOutputs(tasks[p].out, ref[p].out, `run ${run}, partition ${p}`);
      assert.deepEqual(tasks[p].task.counters, ref[p].counters, `run ${run}, partition ${p}: counters`);
    }
  }
}

/** Crash at random points after random checkpoints, restart from LevelDB, feed again from offset 0. */
async function checkCrashes(t: { after: (fn: () => void) => void }, program: Program, seed: number, TRIALS: number): Promise<void> {
  const ref = await referenceRun(program, DATA);
  const sources = sourcesOf(program);
  const rng = new Rng(seed);
  let lostRows = 0;
  let committedRows = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-crash-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));

    // Before the crash: random batching and interleaving, random checkpoints, stop at a random batch.
    const before = schedule(DATA, sources, rng, 50);
    const crashAt = rng.int(1, before.length - 1);
    let backend = await LevelBackend.open(dir);
    let tasks = await openTasks(program, backend);
    const committed: Collected[] = Array.from({ length: PARTITIONS }, emptyCollected);
    const committedPositions: Array<Record<string, number>> = Array.from({ length: PARTITIONS }, () => Object.fromEntries(sources.map((s) => [s, 0])));
    const committedCounters: Array<TaskCounters | undefined> = new Array(PARTITIONS).fill(undefined);
    let checkpoints = 0;
    for (let i = 0; i < crashAt; i++) {
      const b = before[i];
      const { task, out } = tasks[b.partition];
      await task.process(b);
      if (rng.chance(0.1)) {
        await task.checkpoint();
        checkpoints++;
        // What a driver would have flushed at this checkpoint.
        committed[b.partition] = { features: [...out.features], windows: [...out.windows], dead: [...out.dead], late: [...out.late] };
        committedPositions[b.partition] = { ...task.resumePositions() };
        committedCounters[b.partition] = { ...task.counters };
      }
    }
    // Crash: no final checkpoint; everything emitted since each partition's last checkpoint is lost.
    await backend.close();
    for (let p = 0; p < PARTITIONS; p++) {
      lostRows += tasks[p].out.features.length - committed[p].features.length;
      committedRows += committed[p].features.length;
    }

    backend = await LevelBackend.open(dir);
    tasks = await openTasks(program, backend);
    for (let p = 0; p < PARTITIONS; p++) {
      assert.deepEqual(tasks[p].task.resumePositions(), committedPositions[p], `trial ${trial}, partition ${p}: resume positions`);
      if (committedCounters[p]) assert.deepEqual(tasks[p].task.counters, committedCounters[p], `trial ${trial}, partition ${p}: restored counters`);
    }
    // Restart: the driver feeds every partition again from offset 0, batched differently; the task skips what it applied.
    for (const b of schedule(DATA, sources, rng, 50)) await tasks[b.partition].task.process(b);
    await endAll(tasks, sources, rng);
    for (let p = 0; p < PARTITIONS; p++) {
      const after = tasks[p].out;
      const joined: Collected = {
        features: [...committed[p].features, ...after.features],
        windows: [...committed[p].windows, ...after.windows],
        dead: [...committed[p].dead, ...after.dead],
        late: [...committed[p].late, ...after.late],
      };
      assertSameOutputs(joined, ref[p].out, `trial ${trial} (crash after batch ${crashAt}/${before.length}, ${checkpoints} checkpoints), partition ${p}`);
      assert.deepEqual(tasks[p].task.counters, ref[p].counters, `trial ${trial}, partition ${p}: counters`);
    }
    await backend.close();
  }
  // The trials really exercised both sides of a crash.
  assert.ok(committedRows > 0, 'some rows were committed before crashes');
  assert.ok(lostRows > 0, 'some rows were emitted after the last checkpoint and had to be recomputed');
}

test('same rows bit for bit for random batchings and interleavings of partitions and sources', async () => {
  await checkInterleavings(program, 7, 24);
});

test('single-input tasks (no merge): same rows bit for bit for random batchings', async () => {
  await checkInterleavings(singleInput, 8, 12);
});

test('crash and restart from LevelDB checkpoints: committed rows + rows after restart = the uninterrupted run', async (t) => {
  await checkCrashes(t, program, 99, 6);
});

test('crash and restart of single-input tasks from LevelDB checkpoints', async (t) => {
  await checkCrashes(t, singleInput, 100, 4);
});

test('a restarted task continues from a checkpoint taken mid-merge without losing held-back records', async (t) => {
  // Only txns are fed before the checkpoint: the merge holds them back waiting for logins, so
  // nothing is applied and the resume positions must stay at 0.
  const dir = mkdtempSync(join(tmpdir(), 'skewless-crash-merge-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ref = await referenceRun(program, DATA);
  let backend = await LevelBackend.open(dir);
  const first = collectingSinks();
  const task = await Task.open(program, 1, backend, first.sinks);
  await task.process({ source: 'txns', partition: 1, records: DATA[1].txns.slice(0, 40) });
  assert.equal(first.out.features.length, 0, 'merge waits for the logins input');
  assert.deepEqual(task.resumePositions(), { txns: 0, logins: 0 });
  await task.process({ source: 'logins', partition: 1, records: DATA[1].logins.slice(0, 5) });
  await task.checkpoint();
  const positions = task.resumePositions();
  const committed = first.out.features.length;
  assert.ok(committed > 0, 'something was applied once both inputs had heads');
  assert.ok(positions.txns < 40 || positions.logins < 5, `the merge still holds records back: ${JSON.stringify(positions)}`);
  await backend.close();

  backend = await LevelBackend.open(dir);
  const second = collectingSinks();
  const restarted = await Task.open(program, 1, backend, second.sinks);
  assert.deepEqual(restarted.resumePositions(), positions);
  for (const source of sourcesOf(program)) await restarted.process({ source, partition: 1, records: DATA[1][source] });
  for (const source of sourcesOf(program)) await restarted.endOfInput(source);
  await backend.close();
  assertSameOutputs(
    { features: [...first.out.features, ...second.out.features], windows: [...first.out.windows, ...second.out.windows], dead: [...first.out.dead, ...second.out.dead], late: [...first.out.late, ...second.out.late] },
    ref[1].out,
    'partition 1 after a mid-merge checkpoint',
  );
});

test('a tiny state cache (keys evicted at checkpoints and read back) gives the same rows bit for bit', async () => {
  for (const [prog, seed] of [
    [program, 31],
    [singleInput, 32],
  ] as const) {
    const ref = await referenceRun(prog, DATA);
    const sources = sourcesOf(prog);
    const rng = new Rng(seed);
    for (let run = 0; run < 3; run++) {
      const backend = new MemoryBackend();
      const tasks: Array<{ task: Task; out: Collected }> = [];
      for (let p = 0; p < PARTITIONS; p++) {
        const { sinks, out } = collectingSinks();
        tasks.push({ task: await Task.open(prog, p, backend, sinks, { maxCachedKeys: 3 }), out });
      }
      for (const batch of schedule(DATA, sources, rng, 40)) {
        await tasks[batch.partition].task.process(batch);
        // Each checkpoint evicts down to 80 % of the bound (2 keys), the batch's own keys too: frequent checkpoints keep evicting.
        if (rng.chance(0.7)) await tasks[batch.partition].task.checkpoint();
      }
      await endAll(tasks, sources, rng);
      let evictions = 0;
      for (let p = 0; p < PARTITIONS; p++) {
        assertSameOutputs(tasks[p].out, ref[p].out, `run ${run}, partition ${p}`);
        assert.deepEqual(tasks[p].task.counters, ref[p].counters, `run ${run}, partition ${p}: counters`);
        evictions += tasks[p].task.cacheStats.evictions;
      }
      // ~12 cards per partition against a cache of 3: keys were evicted and read back hundreds of times.
      assert.ok(evictions > 100, `evictions: ${evictions}`);
    }
  }
});
