/**
 * Shared runs for the aggregation tests: card events with out-of-order arrivals within grace,
 * and the determinism checks every aggregation must pass (random batches with checkpoints and
 * stores rebuilt from the changelog, crashes with LevelDB, a one-key state cache), each
 * compared bit for bit with one uninterrupted run; and what one event adds to the changelog.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topology, type FeatureSpec, type Group } from '../../src/dsl/index.js';
import type { InputRecord } from '../../src/engine/input.js';
import { buildProgram, type Program } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { LevelBackend, MemoryBackend, type BatchOp } from '../../src/state/state-backend.js';
import { timelineEventsPrefix, timelineHeadKey } from '../../src/state/task-state-keys.js';
import { assertSameOutputs, collectingSinks, type Collected } from './engine.js';
import { Rng } from './prng.js';

export const T0 = Date.UTC(2025, 2, 1);
export const MIN = 60_000;
export const HOUR = 60 * MIN;

export type Txn = {
  card_id: string;
  merchant_id: string | null;
  amount: number | null;
  event_time: number;
};

/**
 * Card transactions of 4 cards over ~3 days: mostly in order, some up to 20 min behind (within
 * a 30 min grace, so none is late), some null amounts and merchants, heavy-tailed amounts with
 * repeats, one card with amounts around 1e6 (cancellation-prone moments), windows filled past
 * the sketch bounds, and quiet spells that empty them.
 */
export function cardEvents(seed: number, n: number): Txn[] {
  const rng = new Rng(seed);
  const out: Txn[] = [];
  let t = T0;
  for (let i = 0; i < n; i++) {
    t += rng.chance(0.02) ? 3 * HOUR : rng.int(0, 4 * MIN);
    const card = rng.pick(['c1', 'c2', 'c3', 'big']);
    const at = rng.chance(0.15) ? t - rng.int(1, 20 * MIN) : t;
    const base = card === 'big' ? 1e6 : 0;
    const amount = rng.chance(0.05) ? null : base + Math.round(Math.exp(rng.next() * 6) * 100) / 100;
    const merchant = rng.chance(0.05) ? null : `m${rng.int(1, card === 'c3' ? 60 : 12)}`;
    out.push({ card_id: card, merchant_id: merchant, amount, event_time: at });
  }
  return out;
}

export const records = (txns: readonly Txn[]): InputRecord[] => txns.map((value, offset) => ({ offset, value }));

/** The reference run: one task, one batch, no checkpoint. */
export async function runAll(program: Program, txns: readonly Txn[]): Promise<Collected> {
  const { sinks, out } = collectingSinks();
  const task = await Task.open(program, 0, new MemoryBackend(), sinks);
  await task.process({ source: 'txns', partition: 0, records: records(txns) });
  return out;
}

/** Apply store operations in order (what LevelDB does with a batch, and a restore with changelog records). */
export function applyOps(into: Map<string, Uint8Array>, ops: readonly BatchOp[]): void {
  for (const op of ops) {
    if (op.type === 'put') into.set(op.key, op.value.slice());
    else into.delete(op.key);
  }
}

/** A backend that records the operations of every write (the changelog a live task would produce). */
export class RecordingBackend extends MemoryBackend {
  constructor(readonly writes: BatchOp[][] = []) {
    super();
  }
  override async write(ops: readonly BatchOp[]): Promise<void> {
    this.writes.push([...ops]);
    await super.write(ops);
  }
}

/** Random batch sizes, a checkpoint after each, and now and then a new store rebuilt from the changelog alone. */
export async function assertBatchesAndChangelogRebuilds(program: Program, txns: readonly Txn[], seeds: readonly number[]): Promise<void> {
  const reference = await runAll(program, txns);
  for (const seed of seeds) {
    const rng = new Rng(seed);
    const changelog: BatchOp[][] = [];
    let backend = new RecordingBackend(changelog);
    const { sinks, out } = collectingSinks();
    let task = await Task.open(program, 0, backend, sinks);
    const recs = records(txns);
    let rebuilds = 0;
    for (let i = 0; i < recs.length; ) {
      const n = rng.int(1, 150);
      await task.process({ source: 'txns', partition: 0, records: recs.slice(i, i + n) });
      i += n;
      await task.checkpoint();
      if (rng.chance(0.3)) {
        backend = new RecordingBackend(changelog);
        for (const ops of changelog) applyOps(backend.data, ops);
        task = await Task.open(program, 0, backend, sinks);
        rebuilds++;
      }
    }
    assert.ok(rebuilds > 2);
    assertSameOutputs(out, reference, `seed ${seed}`);
  }
}

/** Checkpoint, process more (lost with the crash), reopen from LevelDB and redo: committed + redone = the reference. */
export async function assertCrashRestarts(program: Program, txns: readonly Txn[], crashPoints: readonly number[]): Promise<void> {
  const reference = await runAll(program, txns);
  for (const crashAt of crashPoints) {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-aggs-'));
    try {
      const { sinks, out } = collectingSinks();
      let backend = await LevelBackend.open(dir);
      let task = await Task.open(program, 0, backend, sinks);
      const recs = records(txns);
      await task.process({ source: 'txns', partition: 0, records: recs.slice(0, crashAt) });
      await task.checkpoint();
      const committed = { features: [...out.features], windows: [...out.windows] };
      await task.process({ source: 'txns', partition: 0, records: recs.slice(crashAt, crashAt + 150) });
      await backend.close();
      const after = collectingSinks();
      backend = await LevelBackend.open(dir);
      task = await Task.open(program, 0, backend, after.sinks);
      await task.process({ source: 'txns', partition: 0, records: recs });
      await backend.close();
      const joined: Collected = { features: [...committed.features, ...after.out.features], windows: [...committed.windows, ...after.out.windows], dead: [], late: [] };
      assertSameOutputs(joined, reference, `crash at ${crashAt}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** A state cache of one key: timelines leave memory at every checkpoint and are rebuilt from their stored events. */
export async function assertTinyCache(program: Program, txns: readonly Txn[]): Promise<void> {
  const reference = await runAll(program, txns);
  const { sinks, out } = collectingSinks();
  const task = await Task.open(program, 0, new MemoryBackend(), sinks, { maxCachedKeys: 1 });
  const recs = records(txns);
  // Batches of 2 leave at least 2 of the 4 keys untouched, so each checkpoint evicts some.
  for (let i = 0; i < recs.length; i += 2) {
    await task.process({ source: 'txns', partition: 0, records: recs.slice(i, i + 2) });
    await task.checkpoint();
  }
  assert.ok(task.cacheStats.evictions > 500, `evictions: ${task.cacheStats.evictions}`);
  assertSameOutputs(out, reference, 'tiny cache');
}

/** In event-time order, and a shuffle that moves each event by up to 10 minutes (within grace). */
export function orderedAndShuffled(txns: readonly Txn[], seed: number): [Txn[], Txn[]] {
  const ordered = [...txns].sort((a, b) => a.event_time - b.event_time);
  const rng = new Rng(seed);
  const shuffled = ordered
    .map((e) => [e.event_time + rng.int(0, 10 * MIN), e] as const)
    .sort((a, b) => a[0] - b[0])
    .map(([, e]) => e);
  return [ordered, shuffled];
}

type DayWindow = ReturnType<Group<Txn>['lookback']>;

/**
 * The store operations of a checkpoint after one more event, once one card's 24 h window holds
 * 600 events (300 merchants): what the changelog gets per event, however large the aggregates.
 */
export async function oneEventCheckpoint(file: string, features: (day: DayWindow) => Record<string, FeatureSpec<unknown>>): Promise<{ ops: BatchOp[]; eventEntries: number; headBytes: number }> {
  const topo = topology('incremental', (b) => {
    const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card_id, eventTime: (x) => x.event_time, maxFutureSkew: null });
    txns.features('f', features(txns.groupBy('card', (x) => x.card_id).lookback('24h')));
    return {};
  });
  const backend = new RecordingBackend();
  const task = await Task.open(buildProgram(compilePlan(topo, file)), 0, backend, collectingSinks().sinks);
  const recs: InputRecord[] = [];
  for (let i = 0; i < 600; i++) recs.push({ offset: i, value: { card_id: 'c1', merchant_id: `m${i % 300}`, amount: (i * 37) % 101, event_time: T0 + i * MIN } });
  await task.process({ source: 'txns', partition: 0, records: recs });
  await task.checkpoint();
  await task.process({ source: 'txns', partition: 0, records: [{ offset: 600, value: { card_id: 'c1', merchant_id: 'm7', amount: 5, event_time: T0 + 600 * MIN } }] });
  await task.checkpoint();
  const ops = backend.writes[1];
  const head = ops.find((o) => o.key === timelineHeadKey(0, 'card', 'c1'));
  return {
    ops,
    eventEntries: ops.filter((o) => o.key.startsWith(timelineEventsPrefix(0, 'card', 'c1'))).length,
    headBytes: head?.type === 'put' ? head.value.length : -1,
  };
}
