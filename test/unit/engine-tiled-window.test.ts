/**
 * Sawtooth (tiled) lookback windows: the vector at t covers [floor_h(t − W), t], whole tiles
 * from per-tile aggregates and the tile holding t from raw events, earlier-applied events
 * only. Expectations are worked out by hand below; W = 1 h, h = 15 min, M = one minute.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import { buildProgram } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { LevelBackend, MemoryBackend } from '../../src/state/state-backend.js';
import { collectingSinks, exact, rowsByName } from '../helpers/engine.js';
import { mulberry32 } from '../helpers/prng.js';

const HERE = fileURLToPath(import.meta.url);
const M = 60_000;
const T0 = Date.UTC(2024, 0, 1);

type Txn = { card_id: string; merchant_id: string; amount: number; event_time: number };

const topo = topology('tiled-test', (t) => {
  const txns = t.source<Txn>('txns', {
    maxFutureSkew: null, // these tests look at the first records as they arrive (no future-skew warm-up)
    schema: '../../schemas/card_transaction.avsc',
    key: (x) => x.card_id,
    eventTime: (x) => x.event_time,
    grace: '2h',
  });
  const card = txns.groupBy('card', (x) => x.card_id);
  txns.features('f', {
    n: card.lookback('1h', { tile: '15m' }).count(),
    sum: card.lookback('1h', { tile: '15m' }).sum((x) => x.amount),
    max: card.lookback('1h', { tile: '15m' }).max((x) => x.amount),
    n_incl: card.lookback('1h', { tile: '15m', includeCurrent: true }).count(),
    exact_n: card.lookback('1h').count(),
  });
  return {};
});

const plan = compilePlan(topo, HERE);
const program = buildProgram(plan);
const columns = program.outputs[0].columns;

// (minute, amount) in arrival order. The 7th arrives out of order (t = 50 after t = 70).
const EVENTS: Array<[number, number]> = [
  [0, 10],
  [14, 20],
  [15, 5],
  [44, 7],
  [61, 30],
  [70, 1],
  [50, 100],
  [76, 2],
];

const rec = (i: number, [m, amount]: [number, number]) => ({
  offset: i,
  value: { card_id: 'c1', merchant_id: 'm', amount, event_time: T0 + m * M },
});

test('tiled window: sawtooth start, exact recent edge, no future leakage (hand computed)', async () => {
  const { sinks, out } = collectingSinks();
  const task = await Task.open(program, 0, new MemoryBackend(), sinks);
  await task.process({ source: 'txns', partition: 0, records: EVENTS.map((e, i) => rec(i, e)) });
  const rows = rowsByName(out.features, columns);
  // Tiles are [0,15) [15,30) [30,45) [45,60) [60,75) [75,90) minutes. Range = [floor15(t − 60), t].
  //  t=0 : from floor(−60)=−60 → nothing before: n 0, sum 0, max null; exact (−60,0]: 0.
  //  t=14: [−60,14] ∋ {0}: n 1, sum 10, max 10; exact 1.
  //  t=15: [−45,15] ∋ {0,14}: n 2, sum 30, max 20; exact 2.
  //  t=44: [−16→−30? floor15(−16) = −30, 44] ∋ {0,14,15}: n 3, sum 35, max 20; exact 3.
  //  t=61: [floor15(1)=0, 61] ∋ {0,14,15,44}: n 4, sum 42, max 20.
  //        exact (1,61] ∋ {14,15,44}: 3 — the sawtooth keeps 0 because its tile [0,15) is whole.
  //  t=70: [floor15(10)=0, 70] ∋ {0,14,15,44,61}: n 5, sum 72, max 30; exact (10,70] ∋ {14,15,44,61}: 4.
  //  t=50 (arrives after 70): [floor15(−10)=−15, 50] ∋ {0,14,15,44}; 61 and 70 are later: excluded.
  //        n 4, sum 42, max 20; exact (−10,50] ∋ {0,14,15,44}: 4.
  //  t=76: [floor15(16)=15, 76] ∋ {15,44,61,70,50}: n 5, sum 5+7+30+1+100 = 143, max 100;
  //        exact (16,76] ∋ {44,61,70,50}: 4.
  const expected = [
    [0, 0, null, 0],
    [1, 10, 10, 1],
    [2, 30, 20, 2],
    [3, 35, 20, 3],
    [4, 42, 20, 3],
    [5, 72, 30, 4],
    [4, 42, 20, 4],
    [5, 143, 100, 4],
  ];
  assert.deepEqual(
    rows.map((r) => [r.n, r.sum, r.max, r.exact_n]),
    expected,
  );
  // includeCurrent adds exactly the event itself.
  assert.deepEqual(
    rows.map((r) => r.n_incl),
    expected.map((e) => (e[0] as number) + 1),
  );
});

test('tiled window: state is bounded by tiles, and a restart from LevelDB continues identically', async () => {
  // 2,000 events one minute apart for one key, in order; W = 1 h with 15 min tiles, grace 2 h:
  // tiles reachable = those from floor15(stream time − 2h − 1h) on, i.e. at most 3h/15min + 1 = 13.
  const rng = mulberry32(7);
  const events = Array.from({ length: 2000 }, (_, i) => rec(i, [i, Math.round(rng() * 1000) / 10]));
  const run = async (crashAt: number | null): Promise<string[]> => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-tiled-'));
    try {
      const { sinks, out } = collectingSinks();
      let backend = await LevelBackend.open(dir);
      let task = await Task.open(program, 0, backend, sinks);
      const committed: typeof out.features = [];
      if (crashAt !== null) {
        await task.process({ source: 'txns', partition: 0, records: events.slice(0, crashAt) });
        await task.checkpoint();
        committed.push(...out.features);
        out.features.length = 0;
        // Rows after the checkpoint are lost with the crash; the restarted task redoes them.
        await task.process({ source: 'txns', partition: 0, records: events.slice(crashAt, crashAt + 37) });
        out.features.length = 0;
        await backend.close();
        backend = await LevelBackend.open(dir);
        task = await Task.open(program, 0, backend, sinks);
        assert.equal(task.resumePositions().txns, crashAt);
      }
      await task.process({ source: 'txns', partition: 0, records: events });
      const tl = (task as unknown as { timelines: Array<Map<string, { tiled: Array<{ starts: number[] }>; size: number }>> }).timelines[0].get('c1')!;
      for (const r of tl.tiled) assert.ok(r.starts.length <= 13, `tiles kept: ${r.starts.length}`);
      await backend.close();
      return [...committed, ...out.features].map((r) => `${r.offset}:${r.values.map(exact).join(',')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const whole = await run(null);
  assert.equal(whole.length, 2000);
  for (const crashAt of [1, 333, 1250]) assert.deepEqual(await run(crashAt), whole, `crash at ${crashAt}`);
});
