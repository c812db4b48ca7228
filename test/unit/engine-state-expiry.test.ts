/**
 * The live sweep of quiet keys (Task.sweepExpired): a key whose last event is the longest
 * window behind what the task can still accept loses its stored events, and its head too when
 * nothing reads its clocks. Outputs must not change at all: the same vectors as a task that
 * never sweeps (what replay computes), whatever the batch sizes, the sweep's walk per call, the
 * keys held in memory and restarts from the store; and the store must shrink to about the keys
 * still active.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import type { InputRecord } from '../../src/engine/input.js';
import { buildProgram, type Program } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { MemoryBackend } from '../../src/state/state-backend.js';
import { timelinePrefix, versionsPrefix } from '../../src/state/task-state-keys.js';
import { assertSameOutputs, collectingSinks } from '../helpers/engine.js';
import { mulberry32 } from '../helpers/prng.js';

const HERE = fileURLToPath(import.meta.url);
const T0 = Date.UTC(2025, 0, 1);
const MIN = 60_000;

interface Txn {
  card: string;
  at: number;
  v: number;
}

/** Scalar aggregations of every removal kind over two window lengths; with or without time since the last event, and tiled windows. */
function program(sinceLast: boolean, tiled = false): Program {
  const topo = topology(`expiry${sinceLast ? '-since' : ''}${tiled ? '-tiled' : ''}`, (b) => {
    const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card, eventTime: (x) => x.at, grace: '10m', late: 'sideOutput', maxFutureSkew: null });
    const card = txns.groupBy('card', (x) => x.card);
    txns.features('f', {
      n: card.lookback('1h').count(),
      sum: card.lookback('1h').sum((x) => x.v),
      mean: card.lookback('3h').mean((x) => x.v),
      max: card.lookback('3h').max((x) => x.v),
      min: card.lookback('1h').min((x) => x.v),
      sd: card.lookback('3h').stddev((x) => x.v),
      distinct: card.lookback('3h').countDistinct((x) => Math.round(x.v / 10)),
      ...(sinceLast ? { since: card.timeSinceLast('minutes') } : {}),
      ...(tiled ? { tiled_sum: card.lookback('6h', { tile: '30m' }).sum((x) => x.v), tiled_max: card.lookback('6h', { tile: '30m' }).max((x) => x.v) } : {}),
    });
    return {};
  });
  return buildProgram(compilePlan(topo, HERE));
}

/**
 * Cards that come in waves: each is active for a while, then quiet for good; a few always
 * active; some quiet for about the windows' lengths and back, again and again. Times mostly in
 * order, some behind within grace, a few late.
 */
function records(seed: number, count: number): InputRecord[] {
  const rng = mulberry32(seed);
  const out: InputRecord[] = [];
  let t = T0;
  for (let i = 0; i < count; i++) {
    t += Math.floor(rng() * 2 * MIN);
    // The active cards drift: card c is active around record c · 40.
    const center = Math.floor(i / 40);
    // And cards that fly for a while, then rest 2 to 9 h (about the windows' lengths), again and again.
    const resting = Array.from({ length: 8 }, (_, k) => k).filter((k) => Math.floor((t - T0) / ((2 + k) * 60 * MIN)) % 2 === 0);
    const card =
      rng() < 0.05 ? `back-${Math.floor(rng() * 5)}` : rng() < 0.15 && resting.length > 0 ? `rest-${resting[Math.floor(rng() * resting.length)]}` : `c${Math.max(0, center + Math.floor(rng() * 6) - 3)}`;
    const at = rng() < 0.1 ? t - Math.floor(rng() * 12 * MIN) : t;
    out.push({ offset: i, value: { card, at, v: Math.round(rng() * 1e4) / 100 } });
  }
  return out;
}

interface SweptRun {
  readonly out: ReturnType<typeof collectingSinks>['out'];
  readonly backend: MemoryBackend;
  readonly expired: number;
}

/** The records in random batches, each followed by a sweep (random walk) and a checkpoint, restarting from the store now and then. */
async function sweptRun(prog: Program, input: readonly InputRecord[], seed: number, opts: { readonly sweep: boolean; readonly maxCachedKeys: number }): Promise<SweptRun> {
  const rng = mulberry32(seed);
  const backend = new MemoryBackend();
  const out = collectingSinks();
  let task = await Task.open(prog, 0, backend, out.sinks, { maxCachedKeys: opts.maxCachedKeys });
  let expired = 0;
  for (let i = 0; i < input.length; ) {
    // Now and then a batch of a backlog spanning a day and more: keys it touches early are quiet by its end.
    const n = rng() < 0.08 ? 1500 : 1 + Math.floor(rng() * 120);
    await task.process({ source: 'txns', partition: 0, records: input.slice(i, i + n) });
    i += n;
    if (opts.sweep) expired += await task.sweepExpired(rng() < 0.5 ? 1 + Math.floor(rng() * 20) : 10_000);
    await task.checkpoint();
    if (rng() < 0.05) task = await Task.open(prog, 0, backend, out.sinks, { maxCachedKeys: opts.maxCachedKeys });
  }
  return { out: out.out, backend, expired };
}

for (const [sinceLast, tiled] of [
  [false, false],
  [true, false],
  [false, true],
] as const) {
  test(`sweeping quiet keys changes no output and frees their state${sinceLast ? ' (time since the last event keeps a small head)' : ''}${tiled ? ' (tiled windows too)' : ''}`, async () => {
    const prog = program(sinceLast, tiled);
    const input = records(sinceLast ? 3 : tiled ? 4 : 2, 6000);
    const ref = collectingSinks();
    await (await Task.open(prog, 0, new MemoryBackend(), ref.sinks)).process({ source: 'txns', partition: 0, records: input });
    assert.ok(ref.out.late.length > 0, 'some records are late, so the acceptance bound is exercised');

    const kept = await sweptRun(prog, input, 11, { sweep: false, maxCachedKeys: 10 });
    assertSameOutputs(kept.out, ref.out, 'checkpointed without sweeping');
    for (const [seed, maxCachedKeys] of [
      [12, 10],
      [13, 100_000],
      [14, 3],
    ] as const) {
      const swept = await sweptRun(prog, input, seed, { sweep: true, maxCachedKeys });
      assertSameOutputs(swept.out, ref.out, `swept (seed ${seed}, ${maxCachedKeys} keys in memory)`);
      assert.ok(swept.expired > 100, `keys expired: ${swept.expired}`);
      // Swept keys are not swept again: a sweep of the whole store after one finds nothing more to free.
      const reopened = await Task.open(prog, 0, swept.backend, collectingSinks().sinks, { maxCachedKeys });
      await reopened.sweepExpired(100_000);
      await reopened.checkpoint();
      assert.equal(await reopened.sweepExpired(100_000), 0, 'a second sweep of the whole store');
      // By hand, after that whole sweep: a card whose last event (late records left out) is 3 h (the longest
      // exact window) + 10 min (grace) behind stream time keeps no events; nor a head, unless time since its
      // last event reads the head's clock or a 6 h tile of it can still be read (one starting at or after the
      // tile of stream time − 10 min − 6 h).
      const last = new Map<string, number>();
      let streamTime = -Infinity;
      for (const r of input) {
        const { card, at } = r.value as unknown as Txn;
        if (at < streamTime - 10 * MIN) continue;
        streamTime = Math.max(streamTime, at);
        last.set(card, Math.max(last.get(card) ?? -Infinity, at));
      }
      const acceptFrom = streamTime - 10 * MIN;
      const tile = 30 * MIN;
      let quiet = 0;
      for (const [card, at] of last) {
        const keys = [...swept.backend.data.keys()].filter((k) => k.startsWith(timelinePrefix(0, 'card', card)));
        const hasHead = keys.some((k) => k.endsWith('/h'));
        if (at > acceptFrom - 3 * 60 * MIN) {
          assert.ok(hasHead, `${card}: active, its state stays`);
          continue;
        }
        quiet++;
        assert.deepEqual(keys.filter((k) => !k.endsWith('/h')), [], `${card}: quiet, no events stored`);
        const tileReadable = tiled && Math.floor(at / tile) * tile >= Math.floor((acceptFrom - 6 * 60 * MIN) / tile) * tile;
        assert.equal(hasHead, sinceLast || tileReadable, `${card}: quiet since ${(streamTime - at) / MIN} min, head kept?`);
      }
      assert.ok(quiet > 100 && quiet < last.size - 3, `quiet cards: ${quiet} of ${last.size}`);
    }
  });
}

/** A transaction of `card` at T0 + `minutes`. */
const rec = (offset: number, card: string, minutes: number, v: number): InputRecord => ({ offset, value: { card, at: T0 + minutes * MIN, v } });

test('a key that comes back after its state was swept gets the values of a key never swept, and a recent key is not swept', async () => {
  const prog = program(false);
  const backend = new MemoryBackend();
  const out = collectingSinks();
  const task = await Task.open(prog, 0, backend, out.sinks, { maxCachedKeys: 1 });
  // a: three events, then quiet; b moves stream time on.
  await task.process({ source: 'txns', partition: 0, records: [rec(0, 'a', 0, 1.1), rec(1, 'a', 1, 2.2), rec(2, 'a', 2, 3.3), rec(3, 'b', 60, 5)] });
  await task.checkpoint();
  // Stream time 2 h 50: a's last event (2 min) is not yet 3 h (its longest window) + 10 min (grace) behind.
  await task.process({ source: 'txns', partition: 0, records: [rec(4, 'b', 170, 5)] });
  assert.equal(await task.sweepExpired(1000), 0);
  await task.checkpoint();
  assert.ok([...backend.data.keys()].some((k) => k.startsWith(timelinePrefix(0, 'card', 'a'))));
  // Stream time 3 h 12: now it is.
  await task.process({ source: 'txns', partition: 0, records: [rec(5, 'b', 192, 5)] });
  assert.equal(await task.sweepExpired(1000), 1);
  await task.checkpoint();
  assert.deepEqual([...backend.data.keys()].filter((k) => k.startsWith(timelinePrefix(0, 'card', 'a'))), [], "a's head and events are deleted");
  await task.process({ source: 'txns', partition: 0, records: [rec(6, 'a', 200, 7)] });
  const last = out.out.features[out.out.features.length - 1];
  const byName = Object.fromEntries(prog.outputs[0].columns.map((c, i) => [c.name, last.values[i]]));
  // By hand: a's events (0-2 min) are in no window of 200 min, and a vector covers the events before its own: every window is empty.
  assert.deepEqual(byName, { n: 0, distinct: 0, sum: 0, mean: null, max: null, min: null, sd: null });
});

/** A store that notes the prefixes scanned (a restore reads a key's segments with one scan). */
class ScanCountingBackend extends MemoryBackend {
  readonly scanned: string[] = [];
  override async scan(prefix: string): Promise<Array<[string, Uint8Array]>> {
    this.scanned.push(prefix);
    return super.scan(prefix);
  }
}

test('a swept key that keeps its head (time since the last event) comes back without a read of its segments, with its clock', async () => {
  const prog = program(true);
  const backend = new ScanCountingBackend();
  const out = collectingSinks();
  const task = await Task.open(prog, 0, backend, out.sinks, { maxCachedKeys: 1 });
  await task.process({ source: 'txns', partition: 0, records: [rec(0, 'a', 0, 1.1), rec(1, 'a', 2, 2.2), rec(2, 'b', 60, 5)] });
  await task.checkpoint();
  await task.process({ source: 'txns', partition: 0, records: [rec(3, 'b', 192, 5)] });
  assert.equal(await task.sweepExpired(1000), 1);
  await task.checkpoint();
  const left = [...backend.data.keys()].filter((k) => k.startsWith(timelinePrefix(0, 'card', 'a')));
  assert.deepEqual(left, [`${timelinePrefix(0, 'card', 'a')}h`], "only a's head stays, for its clock");
  // b's event pushes a out of memory (one key per group), then a comes back.
  await task.process({ source: 'txns', partition: 0, records: [rec(4, 'b', 195, 5)] });
  await task.checkpoint();
  backend.scanned.length = 0;
  await task.process({ source: 'txns', partition: 0, records: [rec(5, 'a', 200, 7)] });
  assert.deepEqual(backend.scanned.filter((p) => p.startsWith(timelinePrefix(0, 'card', 'a'))), [], "a's head holds no event: its segments are not read");
  const last = out.out.features[out.out.features.length - 1];
  const byName = Object.fromEntries(prog.outputs[0].columns.map((c, i) => [c.name, last.values[i]]));
  // By hand: the last event of a was at 2 min, this one at 200 min; every window is empty.
  assert.deepEqual(byName, { n: 0, distinct: 0, sum: 0, mean: null, max: null, min: null, sd: null, since: 198 });
});

type Limit = { card: string; from: number; limit: number };

test('the sweep drops table versions past retention from keys no event touched, as a touch would, and changes no output', async () => {
  const topo = topology('expiry-table', (b) => {
    const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card, eventTime: (x) => x.at, grace: '10m', maxFutureSkew: null });
    const limits = b.table<Limit>('zlimits', { schema: '../../schemas/card_limit.avsc', key: (l) => l.card, validFrom: (l) => l.from, retention: '2h', grace: '10m', maxFutureSkew: null });
    const card = txns.groupBy('card', (x) => x.card);
    txns.features('f', { n: card.lookback('1h').count(), limit: txns.asOf(limits, (x) => x.card).value((l) => l.limit), earlier: txns.asOf(limits, (x) => x.card, { lag: '1h' }).value((l) => l.limit) });
    return {};
  });
  const prog = buildProgram(compilePlan(topo, HERE));
  // 40 cards over 40 h, every record in time order (none late): each card gets a new limit every ~20 min while
  // it is active (about 5 h), transactions now and then; then it is quiet for good, its versions untouched.
  const rng = mulberry32(21);
  const txns: InputRecord[] = [];
  const limits: InputRecord[] = [];
  const versions = new Map<string, number[]>();
  for (let m = 0; m < 40 * 60; m++) {
    const t = T0 + m * MIN;
    const active = Math.floor(m / 60);
    for (let c = Math.max(0, active - 4); c <= active; c++) {
      const card = `k${c}`;
      if (rng() < 0.05) {
        limits.push({ offset: limits.length, value: { card, from: t, limit: Math.round(rng() * 5000) } });
        versions.set(card, [...(versions.get(card) ?? []), t]);
      }
      if (rng() < 0.03) txns.push({ offset: txns.length, value: { card, at: t, v: 1 } });
    }
  }
  const feed = async (task: Task, sweep: boolean, rngFeed: () => number, reopen: () => Promise<Task>): Promise<Task> => {
    let i = 0;
    let j = 0;
    while (i < txns.length || j < limits.length) {
      const n = 1 + Math.floor(rngFeed() * 60);
      if (i < txns.length) await task.process({ source: 'txns', partition: 0, records: txns.slice(i, i + n) });
      if (j < limits.length) await task.process({ source: 'zlimits', partition: 0, records: limits.slice(j, j + n) });
      i += n;
      j += n;
      if (sweep) await task.sweepExpired(rngFeed() < 0.5 ? 1 + Math.floor(rngFeed() * 30) : 10_000);
      await task.checkpoint();
      if (rngFeed() < 0.05) {
        // A restart resumes where the checkpoint stands: records the merge held are fed again.
        task = await reopen();
        const at = task.resumePositions();
        i = at.txns ?? 0;
        j = at.zlimits ?? 0;
      }
    }
    await task.endOfInput('txns');
    await task.endOfInput('zlimits');
    await task.checkpoint();
    return task;
  };
  const ref = collectingSinks();
  const refBackend = new MemoryBackend();
  await feed(await Task.open(prog, 0, refBackend, ref.sinks), false, mulberry32(5), () => Task.open(prog, 0, refBackend, ref.sinks));
  assert.equal(ref.out.features.length, txns.length);
  const out = collectingSinks();
  const backend = new MemoryBackend();
  const open = (): Promise<Task> => Task.open(prog, 0, backend, out.sinks, { maxCachedKeys: 5 });
  await feed(await open(), true, mulberry32(6), open);
  assertSameOutputs(out.out, ref.out, 'swept');
  const final = await open();
  await final.sweepExpired(100_000);
  await final.checkpoint();
  // By hand: stream time is the last transaction's time; a card keeps its versions valid after stream time − 2 h, and the latest one before.
  const streamTime = Math.max(...txns.map((r) => (r.value as unknown as Txn).at));
  const horizon = streamTime - 2 * 60 * MIN;
  let trimmedCards = 0;
  for (const [card, times] of versions) {
    const expected = times.filter((t) => t > horizon).length + (times.some((t) => t <= horizon) ? 1 : 0);
    const stored = [...backend.data.keys()].filter((k) => k.startsWith(versionsPrefix(0, 'zlimits', card))).length;
    assert.equal(stored, expected, `${card}: versions stored`);
    if (expected < times.length) trimmedCards++;
  }
  assert.ok(trimmedCards > 30, `cards whose old versions went: ${trimmedCards}`);
  const kept = [...refBackend.data.keys()].filter((k) => k.startsWith('p0/v/')).length;
  const swept = [...backend.data.keys()].filter((k) => k.startsWith('p0/v/')).length;
  assert.ok(swept < kept / 2, `versions stored: ${swept} swept, ${kept} without sweeping`);
});
