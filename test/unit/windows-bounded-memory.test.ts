/**
 * Window operators (tumbling, hopping, session, calendar) keep at most the task's cache bound of
 * keys in memory once their state is stored, and a task that opens reads none of them: a batch
 * reads the keys it touches and, through the close index (p<n>/wc/<op>/<close>/<key>), the keys
 * whose windows close within it. Rows must not change at all: the same rows, in the same order,
 * as a task that keeps everything in memory, whatever the bound, the batch sizes and the
 * restarts; and the tumbling counts and sums equal a brute force over the input.
 *
 * Before, every open window stayed in memory outside the bound (about 300 bytes each), and a
 * task that opened read every key of every window operator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import type { InputRecord } from '../../src/engine/input.js';
import { buildProgram, type Program } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelBackend, MemoryBackend, type StateBackend } from '../../src/state/state-backend.js';
import { metaKey, windowClosePrefix } from '../../src/state/task-state-keys.js';
import { assertSameOutputs, collectingSinks } from '../helpers/engine.js';
import { mulberry32 } from '../helpers/prng.js';

const HERE = fileURLToPath(import.meta.url);
const T0 = Date.UTC(2025, 0, 1);
const MIN = 60_000;
const HOUR = 60 * MIN;
const KEYS = 600;

interface Txn {
  card: string;
  at: number;
  v: number;
}

/** One operator of each window kind over the card; no lookback, so the task's cached keys are the windows' alone. */
function program(): Program {
  const topo = topology('bounded-windows', (b) => {
    const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card, eventTime: (x) => x.at, grace: '20m', late: 'sideOutput', maxFutureSkew: null });
    const card = txns.groupBy('card', (x) => x.card);
    card.tumbling('1h', { emit: 'final' }).aggregate('hourly', (w) => ({ n: w.count(), sum: w.sum((x) => x.v) }));
    card.hopping('2h', '30m', { emit: 'final' }).aggregate('sliding', (w) => ({ n: w.count(), max: w.max((x) => x.v) }));
    card.session('45m', { emit: 'final' }).aggregate('visits', (w) => ({ n: w.count(), sum: w.sum((x) => x.v) }));
    card.calendar('day', 'America/New_York', { emit: 'update' }).aggregate('daily', (w) => ({ n: w.count() }));
    return {};
  });
  return buildProgram(compilePlan(topo, HERE));
}

/**
 * Cards active in waves (card c around record c · 8, so most are quiet for hours after their
 * wave and their windows wait in the store to close), a few always active, times jittered
 * within the grace so that no record is late.
 */
function records(seed: number, count: number): InputRecord[] {
  const rng = mulberry32(seed);
  const out: InputRecord[] = [];
  let t = T0;
  for (let i = 0; i < count; i++) {
    t += Math.floor(rng() * 40_000);
    const card = rng() < 0.1 ? `hot-${Math.floor(rng() * 4)}` : `c${Math.min(KEYS - 1, Math.max(0, Math.floor(i / 8) + Math.floor(rng() * 7) - 3))}`;
    const at = t - Math.floor(rng() * 15 * MIN);
    out.push({ offset: i, value: { card, at, v: Math.round(rng() * 1e4) / 100 } });
  }
  return out;
}

interface Run {
  readonly out: ReturnType<typeof collectingSinks>['out'];
  readonly maxHeld: number;
  readonly evictions: number;
}

/** The records in random batches, a checkpoint after each, reopening the task from its store now and then; the most keys held right after a checkpoint. */
async function run(prog: Program, input: readonly InputRecord[], seed: number, maxCachedKeys: number, reopen: boolean, backend: StateBackend = new MemoryBackend()): Promise<Run> {
  const rng = mulberry32(seed);
  const out = collectingSinks();
  let task = await Task.open(prog, 0, backend, out.sinks, { maxCachedKeys });
  let maxHeld = 0;
  let evictions = 0;
  for (let i = 0; i < input.length; ) {
    const n = rng() < 0.1 ? 700 : 1 + Math.floor(rng() * 90);
    await task.process({ source: 'txns', partition: 0, records: input.slice(i, i + n) });
    i += n;
    await task.checkpoint();
    maxHeld = Math.max(maxHeld, task.cacheStats.cachedKeys);
    if (reopen && rng() < 0.08) {
      evictions += task.cacheStats.evictions;
      task = await Task.open(prog, 0, backend, out.sinks, { maxCachedKeys });
      assert.equal(task.cacheStats.cachedKeys, 0, 'a task that opens reads no window key');
    }
  }
  await task.endOfInput('txns');
  evictions += task.cacheStats.evictions;
  return { out: out.out, maxHeld, evictions };
}

const prog = program();
const input = records(7, 6000);

test('window operators keep at most the cache bound of keys once stored, and write the rows of a task that keeps them all, in the same order', async () => {
  const roomy = await run(prog, input, 1, 1_000_000, false);
  assert.ok(roomy.out.windows.length > 3000, `${roomy.out.windows.length} window rows`);
  assert.equal(roomy.out.late.length, 0, 'the input has no late record');
  const dir = mkdtempSync(join(tmpdir(), 'skewless-bounded-windows-'));
  try {
    for (const [bound, seed, level] of [
      [5, 2, false],
      [40, 3, false],
      [40, 4, true],
    ] as const) {
      // One of them on LevelDB: its close index is read in byte order, the memory backend's in string order.
      const backend = level ? await LevelBackend.open(join(dir, `level-${seed}`)) : new MemoryBackend();
      const bounded = await run(prog, input, seed, bound, true, backend);
      await backend.close();
      assertSameOutputs(bounded.out, roomy.out, `bound ${bound}, seed ${seed}${level ? ', LevelDB' : ''}`);
      // After a checkpoint a task holds at most the bound per operator (four operators here).
      assert.ok(bounded.maxHeld <= 4 * bound, `held ${bounded.maxHeld} keys with a bound of ${bound}`);
      assert.ok(bounded.evictions > 100, `${bounded.evictions} keys evicted`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // The tumbling hours by brute force: every record's card and hour, counted and summed.
  const expected = new Map<string, { n: number; sum: number }>();
  for (const r of input) {
    const x = r.value as unknown as Txn;
    const start = Math.floor(x.at / HOUR) * HOUR;
    const id = `${x.card} ${start}`;
    const e = expected.get(id) ?? { n: 0, sum: 0 };
    e.n++;
    e.sum += x.v;
    expected.set(id, e);
  }
  const hourly = roomy.out.windows.filter((w) => w.output === 'hourly');
  assert.equal(hourly.length, expected.size);
  for (const w of hourly) {
    const e = expected.get(`${w.key} ${w.windowStart}`);
    assert.ok(e !== undefined, `no such hour: ${w.key} ${w.windowStart}`);
    assert.equal(w.windowEnd - w.windowStart, HOUR);
    assert.equal(w.values[0], e.n);
    assert.ok(Math.abs((w.values[1] as number) - e.sum) < 1e-9, `${w.key} ${w.windowStart}: ${w.values[1]} against ${e.sum}`);
  }
});

test('a store written before the close index is read whole once, indexed at its next checkpoint, and continues with the same rows', async () => {
  const whole = await run(prog, input, 1, 1_000_000, false);
  const half = input.slice(0, 3000);
  const backend = new MemoryBackend();
  const out = collectingSinks();
  const first = await Task.open(prog, 0, backend, out.sinks, { maxCachedKeys: 30 });
  for (let i = 0; i < half.length; i += 250) {
    await first.process({ source: 'txns', partition: 0, records: half.slice(i, i + 250) });
    await first.checkpoint();
  }
  // What an earlier build left: no close index, a checkpoint record without windowIndexes.
  for (const op of ['hourly', 'sliding', 'visits', 'daily']) for (const k of [...backend.data.keys()]) if (k.startsWith(windowClosePrefix(0, op))) backend.data.delete(k);
  const meta = JSON.parse(new TextDecoder().decode(backend.data.get(metaKey(0)))) as Record<string, unknown>;
  delete meta.windowIndexes;
  backend.data.set(metaKey(0), new TextEncoder().encode(JSON.stringify(meta)));

  const reopened = await Task.open(prog, 0, backend, out.sinks, { maxCachedKeys: 30 });
  assert.ok(reopened.cacheStats.cachedKeys > 30, `read whole: ${reopened.cacheStats.cachedKeys} keys`);
  const rest = input.slice(3000);
  for (let i = 0; i < rest.length; i += 250) {
    await reopened.process({ source: 'txns', partition: 0, records: rest.slice(i, i + 250) });
    await reopened.checkpoint();
  }
  await reopened.endOfInput('txns');
  assertSameOutputs(out.out, whole.out, 'continued from a store without the index');
  const stored = JSON.parse(new TextDecoder().decode(backend.data.get(metaKey(0)))) as { windowIndexes?: string[] };
  assert.deepEqual([...(stored.windowIndexes ?? [])].sort(), ['daily', 'hourly', 'sliding', 'visits']);
  assert.ok([...backend.data.keys()].some((k) => k.startsWith(windowClosePrefix(0, 'hourly'))), 'the index is written again');
  const again = await Task.open(prog, 0, backend, collectingSinks().sinks, { maxCachedKeys: 30 });
  assert.equal(again.cacheStats.cachedKeys, 0, 'indexed: the next open reads no window key');
});
