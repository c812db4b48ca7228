/**
 * What a task's checkpoint writes: store operations that are also its changelog records. They
 * must be incremental (an appended event, an evicted one, a changed head — never a key's whole
 * window again), replaying them must rebuild state that continues bit-identically, leftovers of
 * a missed deletion must not change an output, and the gap rule and the idle-skip count hold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import type { InputRecord } from '../../src/engine/input.js';
import { buildProgram } from '../../src/engine/program.js';
import { InputGapError, StateFormatError, Task } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { MemoryBackend, type BatchOp } from '../../src/state/state-backend.js';
import { eventSuffix, parseEventSuffix, timelineEventKey, timelineEventsPrefix } from '../../src/state/task-state-keys.js';
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

function program() {
  const topo = topology('changelog-state', (b) => {
    const txns = b.source<Txn>('txns', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card, eventTime: (x) => x.at, grace: '10m', maxFutureSkew: null });
    const card = txns.groupBy('card', (x) => x.card);
    txns.features('f', {
      n: card.lookback('1h').count(),
      sum: card.lookback('1h').sum((x) => x.v),
      max: card.lookback('24h').max((x) => x.v),
      since: card.timeSinceLast('minutes'),
    });
    return {};
  });
  return buildProgram(compilePlan(topo, HERE));
}

/** Apply store operations in order to a map (what LevelDB does with a batch, and a restore with changelog records). */
function applyOps(into: Map<string, Uint8Array>, ops: readonly BatchOp[]): void {
  for (const op of ops) {
    if (op.type === 'put') into.set(op.key, op.value.slice());
    else into.delete(op.key);
  }
}

/** A backend that records the operations of every write (the changelog a live task would produce). */
class RecordingBackend extends MemoryBackend {
  constructor(readonly writes: BatchOp[][] = []) {
    super();
  }

  override async write(ops: readonly BatchOp[]): Promise<void> {
    this.writes.push([...ops]);
    await super.write(ops);
  }
}

test('event keys sort by (time, sequence) and parse back exactly, for negative, fractional-free and huge times', () => {
  const times = [-8.64e15, -1, 0, 1, 59_999, T0, T0 + 1, 8.64e15, 1e300];
  const pairs: Array<[number, number]> = [];
  for (const t of times) for (const s of [0, 1, 255, 2 ** 40]) pairs.push([t, s]);
  const keys = pairs.map(([t, s]) => eventSuffix(t, s));
  for (let i = 0; i < pairs.length; i++) assert.deepEqual(parseEventSuffix(keys[i]), pairs[i]);
  const sorted = [...keys].sort();
  assert.deepEqual(sorted, keys, 'string order of the suffixes is (time, sequence) order');
});

/** Events in a segment value: its leading count (LEB128), read without the code under test. */
function segmentEvents(op: BatchOp | undefined): number {
  assert.ok(op?.type === 'put', 'a segment put');
  let n = 0;
  let mul = 1;
  for (const b of op.value) {
    n += (b & 0x7f) * mul;
    if (b < 0x80) break;
    mul *= 0x80;
  }
  return n;
}

test('a checkpoint writes one segment with the key\'s new events plus its head, not the key\'s whole window; a segment goes once all its events left', async () => {
  const prog = program();
  const backend = new RecordingBackend();
  const task = await Task.open(prog, 0, backend, collectingSinks().sinks);
  // 500 events of one card within 24 h: its 24 h window holds all of them.
  const records: InputRecord[] = [];
  for (let i = 0; i < 500; i++) records.push({ offset: i, value: { card: 'c1', at: T0 + i * MIN, v: i % 7 } });
  await task.process({ source: 'txns', partition: 0, records });
  await task.checkpoint();
  const eventPrefix = timelineEventsPrefix(0, 'card', 'c1');
  const segmentsOf = (ops: BatchOp[], type: 'put' | 'del'): BatchOp[] => ops.filter((o) => o.type === type && o.key.startsWith(eventPrefix));
  const first = segmentsOf(backend.writes[0], 'put');
  assert.equal(first.length, 1, 'one segment');
  assert.equal(segmentsOf(backend.writes[0], 'del').length, 0);
  assert.equal(segmentEvents(first[0]), 500, 'holding the 500 events');
  // One more event: one segment of one event, one head, the checkpoint record — whatever the window holds.
  await task.process({ source: 'txns', partition: 0, records: [{ offset: 500, value: { card: 'c1', at: T0 + 500 * MIN, v: 3 } }] });
  await task.checkpoint();
  const second = backend.writes[1];
  const secondPuts = segmentsOf(second, 'put');
  assert.equal(secondPuts.length, 1);
  assert.equal(segmentEvents(secondPuts[0]), 1, 'only the new event');
  assert.ok(second.length <= 3, `ops in the second checkpoint: ${second.map((o) => o.key).join(', ')}`);
  // Stream time T0 + 1940 min: events at or before 1940 − 10 (grace) − 1440 = 490 min leave; the
  // first segment still holds 491..499, so it stays.
  await task.process({ source: 'txns', partition: 0, records: [{ offset: 501, value: { card: 'c1', at: T0 + (490 + 24 * 60 + 10) * MIN, v: 1 } }] });
  await task.checkpoint();
  assert.equal(segmentsOf(backend.writes[2], 'del').length, 0, 'no segment is wholly out of the window');
  assert.equal(segmentsOf(backend.writes[2], 'put').length, 1);
  // Stream time T0 + 1950 min: events up to 500 min leave: the segments of 0..499 and of 500 go.
  await task.process({ source: 'txns', partition: 0, records: [{ offset: 502, value: { card: 'c1', at: T0 + (500 + 24 * 60 + 10) * MIN, v: 1 } }] });
  await task.checkpoint();
  assert.deepEqual(
    segmentsOf(backend.writes[3], 'del').map((o) => o.key),
    [timelineEventKey(0, 'card', 'c1', T0, 0), timelineEventKey(0, 'card', 'c1', T0 + 500 * MIN, 500)],
  );
  const stored = [...backend.data.keys()].filter((k) => k.startsWith(eventPrefix));
  assert.equal(stored.length, 2, 'the segments of offsets 501 and 502 remain');
});

test('replaying the checkpoints\' operations (a changelog) into an empty store continues bit-identically, with random batch and checkpoint sizes', async () => {
  const prog = program();
  const rng = mulberry32(99);
  const cards = ['a', 'b', 'c', 'd/e', '1:x'];
  const records: InputRecord[] = [];
  let t = T0;
  for (let i = 0; i < 3000; i++) {
    // Mostly in order, sometimes behind within grace, sometimes a long gap (evictions).
    t += rng() < 0.02 ? 30 * 60 * MIN : Math.floor(rng() * 3 * MIN);
    const at = rng() < 0.1 ? t - Math.floor(rng() * 9 * MIN) : t;
    records.push({ offset: i, value: { card: cards[Math.floor(rng() * cards.length)], at, v: Math.floor(rng() * 1000) / 10 } });
  }
  const ref = collectingSinks();
  const refTask = await Task.open(prog, 0, new MemoryBackend(), ref.sinks);
  await refTask.process({ source: 'txns', partition: 0, records });

  const changelog: BatchOp[][] = [];
  let backend = new RecordingBackend(changelog);
  const out = collectingSinks();
  let task = await Task.open(prog, 0, backend, out.sinks);
  let i = 0;
  let rebuilds = 0;
  while (i < records.length) {
    const n = 1 + Math.floor(rng() * 200);
    await task.process({ source: 'txns', partition: 0, records: records.slice(i, i + n) });
    i += n;
    await task.checkpoint();
    if (rng() < 0.3) {
      // A new host: a store rebuilt from the changelog alone, and the task continues there.
      const restored = new RecordingBackend(changelog);
      for (const ops of changelog) applyOps(restored.data, ops);
      assert.deepEqual([...restored.data.keys()].sort(), [...backend.data.keys()].sort(), 'the changelog rebuilds exactly the store');
      backend = restored;
      task = await Task.open(prog, 0, backend, out.sinks);
      rebuilds++;
    }
  }
  assert.ok(rebuilds > 3);
  assertSameOutputs(out.out, ref.out, 'continued from changelog rebuilds');
});

test('event entries a missed deletion left behind never change an output, and are deleted', async () => {
  const prog = program();
  const backend = new MemoryBackend();
  const records: InputRecord[] = [];
  for (let i = 0; i < 40; i++) records.push({ offset: i, value: { card: 'c1', at: T0 + i * 60 * MIN, v: i } });
  const ref = collectingSinks();
  const refTask = await Task.open(prog, 0, new MemoryBackend(), ref.sinks);
  await refTask.process({ source: 'txns', partition: 0, records });

  const out = collectingSinks();
  const task = await Task.open(prog, 0, backend, out.sinks);
  await task.process({ source: 'txns', partition: 0, records: records.slice(0, 30) });
  await task.checkpoint();
  // Resurrect an evicted event (offset 2, long out of the 24 h window) as a segment of its own, as
  // a compacted-away tombstone would: count 1, time (f64 LE), sequence 2, value (scalar tag 1, f64 2).
  const ghost = timelineEventKey(0, 'card', 'c1', T0 + 2 * 60 * MIN, 2);
  assert.equal(backend.data.has(ghost), false, 'offset 2 was evicted');
  backend.data.set(ghost, new Uint8Array([1, ...new Uint8Array(new Float64Array([T0 + 2 * 60 * MIN]).buffer), 2, 1, ...new Uint8Array(new Float64Array([2]).buffer)]));
  const second = collectingSinks();
  const restarted = await Task.open(prog, 0, backend, second.sinks);
  await restarted.process({ source: 'txns', partition: 0, records: records.slice(30) });
  await restarted.checkpoint();
  assertSameOutputs({ ...second.out, features: [...out.out.features, ...second.out.features] }, ref.out, 'with a stale entry');
  assert.equal(backend.data.has(ghost), false, 'the stale entry is deleted at the next checkpoint');
});

test('a timeline whose entries disagree with its head is reported as unreadable state, not used', async () => {
  const prog = program();
  const backend = new MemoryBackend();
  const task = await Task.open(prog, 0, backend, collectingSinks().sinks);
  await task.process({ source: 'txns', partition: 0, records: [0, 1, 2].map((i) => ({ offset: i, value: { card: 'c1', at: T0 + i * MIN, v: i } })) });
  await task.checkpoint();
  backend.data.delete(timelineEventKey(0, 'card', 'c1', T0, 0));
  const restarted = await Task.open(prog, 0, backend, collectingSinks().sinks);
  await assert.rejects(restarted.process({ source: 'txns', partition: 0, records: [{ offset: 3, value: { card: 'c1', at: T0 + 3 * MIN, v: 3 } }] }), StateFormatError);
});

test('two idle inputs beside the one holding records: skipping either alone releases nothing, skipping both together releases all, counted once', async () => {
  const topo = topology('three-inputs', (b) => {
    const sources = ['a', 'b', 'c'].map((name) => b.source<Txn>(name, { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card, eventTime: (x) => x.at, maxFutureSkew: null }));
    sources.forEach((src, i) => src.features(`f${i}`, { n: src.groupBy(`card_${i}`, (x) => x.card).lookback('1h').count() }));
    return {};
  });
  const prog = buildProgram(compilePlan(topo, HERE));
  const out = collectingSinks();
  const task = await Task.open(prog, 0, new MemoryBackend(), out.sinks);
  await task.process({ source: 'a', partition: 0, records: [0, 1, 2].map((i) => ({ offset: i, value: { card: 'c', at: T0 + i, v: 0 } })) });
  assert.equal(await task.skipIdleInput('b'), 0, 'c still holds the merge back');
  assert.equal(await task.skipIdleInput('c'), 0, 'b still holds the merge back');
  assert.equal(await task.skipIdleInputs(['a', 'b']), 0, 'a holds records and is left out: c still holds the merge back');
  assert.equal(task.counters.mergeSkips, 0);
  assert.equal(await task.skipIdleInputs(['a', 'b', 'c']), 3);
  assert.equal(task.counters.mergeSkips, 1, 'one skip');
  assert.deepEqual(out.out.features.map((f) => f.offset), [0, 1, 2]);
  // The skipped inputs are waited for again: a record of a, later than nothing b or c sent, waits.
  await task.process({ source: 'a', partition: 0, records: [{ offset: 3, value: { card: 'c', at: T0 + 3, v: 0 } }] });
  assert.equal(task.pendingInputs, 1, 'b and c are open again');
});

test('gap rule: input fetched from beyond the state position is refused, naming both positions', async () => {
  const prog = program();
  const task = await Task.open(prog, 3, new MemoryBackend(), collectingSinks().sinks);
  await task.process({ source: 'txns', partition: 3, records: [{ offset: 0, value: { card: 'c', at: T0, v: 1 } }], fetchedFrom: 0 });
  await assert.rejects(
    task.process({ source: 'txns', partition: 3, records: [{ offset: 7, value: { card: 'c', at: T0 + MIN, v: 1 } }], fetchedFrom: 7 }),
    (e: unknown) => e instanceof InputGapError && e.statePosition === 1 && e.inputPosition === 7 && /partition 3 of txns/.test(e.message),
  );
  // Offsets below the first record that hold no data (transaction markers) are no gap.
  await task.process({ source: 'txns', partition: 3, records: [{ offset: 2, value: { card: 'c', at: T0 + MIN, v: 1 } }], fetchedFrom: 1 });
  assert.equal(task.nextOffset('txns'), 3);
});

test('an idle skip is counted once per skip that releases records, never for the input that holds them', async () => {
  const topo = topology('two-inputs', (b) => {
    const a = b.source<Txn>('a', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card, eventTime: (x) => x.at, maxFutureSkew: null });
    const bb = b.source<Txn>('b', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card, eventTime: (x) => x.at, maxFutureSkew: null });
    a.features('f', { n: a.groupBy('card', (x) => x.card).lookback('1h').count() });
    bb.features('g', { n: bb.groupBy('card_b', (x) => x.card).lookback('1h').count() });
    return {};
  });
  const prog = buildProgram(compilePlan(topo, HERE));
  const out = collectingSinks();
  const task = await Task.open(prog, 0, new MemoryBackend(), out.sinks);
  await task.process({ source: 'a', partition: 0, records: [0, 1, 2].map((i) => ({ offset: i, value: { card: 'c', at: T0 + i, v: 0 } })) });
  assert.equal(task.pendingInputs, 3, 'held until input b has a record or is skipped');
  assert.equal(await task.skipIdleInput('a'), 0, 'a holds records: skipping it releases nothing');
  assert.equal(task.counters.mergeSkips, 0);
  assert.equal(await task.skipIdleInput('b'), 3);
  assert.equal(task.counters.mergeSkips, 1);
  assert.equal(out.out.features.length, 3);
  assert.equal(await task.skipIdleInput('b'), 0, 'nothing pending: no skip');
  assert.equal(task.counters.mergeSkips, 1);
});
