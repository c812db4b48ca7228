/**
 * Cost per event of each aggregation relative to `mean`, over the same lookback window and
 * the same tumbling windows, through the engine (Task over an in-memory store, checkpointing
 * every 5,000 events, so head encoding counts). Each round runs every aggregation once, in
 * the same order; the medians over rounds are compared within this one process, since the
 * machine's speed drifts between sessions. Not part of `npm test`.
 *   npm run bench:aggs                 (5 rounds)
 *   npm run bench:aggs -- --rounds 7 --events 200000
 */
import { fileURLToPath } from 'node:url';
import { topology, type Group } from '../src/dsl/index.js';
import type { TaskSinks } from '../src/engine/outputs.js';
import type { InputRecord } from '../src/engine/input.js';
import { buildProgram, type Program } from '../src/engine/program.js';
import { Task } from '../src/engine/task.js';
import { compilePlan } from '../src/plan/compile.js';
import { MemoryBackend } from '../src/state/state-backend.js';

const HERE = fileURLToPath(import.meta.url);
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const rounds = arg('rounds', 5);
const eventCount = arg('events', 50_000);

type Txn = { card_id: string; merchant_id: string; amount: number; event_time: number };
type Builder = ReturnType<Group<Txn>['lookback']>;

/** The aggregations measured, each as it is declared in a topology. */
const AGGS: Record<string, (a: Builder) => unknown> = {
  mean: (a) => a.mean((x) => x.amount),
  count: (a) => a.count(),
  max: (a) => a.max((x) => x.amount),
  stddev: (a) => a.stddev((x) => x.amount),
  last: (a) => a.last((x) => x.amount),
  countDistinct: (a) => a.countDistinct((x) => x.merchant_id),
  first: (a) => a.first((x) => x.amount),
  skewness: (a) => a.skewness((x) => x.amount),
  kurtosis: (a) => a.kurtosis((x) => x.amount),
  'quantile (exact)': (a) => a.quantile((x) => x.amount, 0.95),
  'quantile (sketch)': (a) => a.quantile((x) => x.amount, 0.95, { exactUpTo: 10 }),
  'countDistinct (exactUpTo, HLL)': (a) => a.countDistinct((x) => x.merchant_id, { exactUpTo: 10 }),
  'firstK(3)': (a) => a.firstK((x) => x.amount, 3),
  'lastK(3) of strings': (a) => a.lastK((x) => x.merchant_id, 3, { type: 'string' }),
  'topK(3)': (a) => a.topK((x) => x.amount, 3),
  'bottomK(3)': (a) => a.bottomK((x) => x.amount, 3),
  'mostFrequent(3)': (a) => a.mostFrequent((x) => x.merchant_id, 3),
  'quantiles([.5, .9, .99])': (a) => a.quantiles((x) => x.amount, [0.5, 0.9, 0.99]),
  'histogram (8 bins)': (a) => a.histogram((x) => x.amount, { bins: [0, 1, 2, 5, 10, 20, 50, 100, 1000] }),
  'histogram (maxCategories 5)': (a) => a.histogram((x) => x.merchant_id, { maxCategories: 5 }),
  'sumBy (5 categories)': (a) => a.sumBy((x) => x.amount, { by: (x) => x.merchant_id, categories: ['m1', 'm2', 'm3', 'm4', 'm5'] }),
  'meanBy (5 categories)': (a) => a.meanBy((x) => x.amount, { by: (x) => x.merchant_id, categories: ['m1', 'm2', 'm3', 'm4', 'm5'] }),
  'countBy (5 categories)': (a) => a.countBy({ by: (x) => x.merchant_id, categories: ['m1', 'm2', 'm3', 'm4', 'm5'] }),
  'sumBy (maxCategories 5)': (a) => a.sumBy((x) => x.amount, { by: (x) => x.merchant_id, maxCategories: 5 }),
};

function program(name: string, shape: 'lookback' | 'tumbling'): Program {
  const topo = topology(`bench-${shape}`, (b) => {
    const txns = b.source<Txn>('txns', { schema: '../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time, maxFutureSkew: null });
    const card = txns.groupBy('card', (x) => x.card_id);
    if (shape === 'lookback') txns.features('f', { v: AGGS[name](card.lookback('1h')) as never });
    else card.tumbling('1h').aggregate('w', (w) => ({ v: AGGS[name](w as unknown as Builder) as never }));
    return {};
  });
  return buildProgram(compilePlan(topo, HERE));
}

/** 200 cards, one event every 18 s per card on average: a 1 h window holds ~200 events. */
function events(): InputRecord[] {
  let s = 12345;
  const rnd = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const out: InputRecord[] = [];
  let t = Date.UTC(2025, 0, 1);
  for (let i = 0; i < eventCount; i++) {
    t += Math.floor(rnd() * 180);
    out.push({ offset: i, value: { card_id: `c${Math.floor(rnd() * 200)}`, merchant_id: `m${Math.floor(rnd() * 400)}`, amount: Math.round(Math.exp(rnd() * 8)) / 100, event_time: t } });
  }
  return out;
}

const sinks: TaskSinks = { feature: () => {}, window: () => {}, deadLetter: () => {}, late: () => {} };

async function timeRun(p: Program, recs: readonly InputRecord[]): Promise<number> {
  const task = await Task.open(p, 0, new MemoryBackend(), sinks);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < recs.length; i += 5000) {
    await task.process({ source: 'txns', partition: 0, records: recs.slice(i, i + 5000) });
    await task.checkpoint();
  }
  return Number(process.hrtime.bigint() - t0) / recs.length; // ns per event
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const recs = events();
for (const shape of ['lookback', 'tumbling'] as const) {
  const programs = Object.keys(AGGS).map((name) => [name, program(name, shape)] as const);
  const times = new Map<string, number[]>(programs.map(([n]) => [n, []]));
  await timeRun(programs[0][1], recs); // warm-up
  for (let r = 0; r < rounds; r++) for (const [name, p] of programs) times.get(name)!.push(await timeRun(p, recs));
  const base = median(times.get('mean')!);
  process.stdout.write(`\n${shape === 'lookback' ? "lookback('1h')" : "tumbling('1h')"}, ${eventCount.toLocaleString('en-US')} events, medians of ${rounds} rounds:\n`);
  process.stdout.write(`${'aggregation'.padEnd(32)} ${'ns/event'.padStart(9)} ${'vs mean'.padStart(8)}   runs (ns/event)\n`);
  for (const [name] of programs) {
    const m = median(times.get(name)!);
    process.stdout.write(`${name.padEnd(32)} ${m.toFixed(0).padStart(9)} ${(m / base).toFixed(2).padStart(7)}×   ${times.get(name)!.map((x) => x.toFixed(0)).join(' / ')}\n`);
  }
}
