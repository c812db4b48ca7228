/**
 * Bad event times are dead-lettered with a reason and never touch stream time: values outside
 * the Date range, and records further ahead of stream time than the source's maxFutureSkew —
 * including a task's very first record, judged against the median of the first 16. Timestamps
 * in another unit say so. Expectations are hand-computed; the rule takes the same decision
 * whatever the batch sizes, and across a restart in the middle of the warm-up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { topology, type Duration } from '../../src/dsl/index.js';
import type { InputRecord } from '../../src/engine/input.js';
import { buildProgram } from '../../src/engine/program.js';
import { GroupKeyError, Task } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { MemoryBackend } from '../../src/state/state-backend.js';
import { assertSameOutputs, collectingSinks } from '../helpers/engine.js';
import { mulberry32 } from '../helpers/prng.js';

const HERE = fileURLToPath(import.meta.url);
const T0 = Date.UTC(2025, 5, 1);
const MIN = 60_000;

interface Ev {
  k: string;
  at: number;
}

function program(maxFutureSkew?: Duration | null) {
  const topo = topology('time-bounds', (b) => {
    const ev = b.source<Ev>('ev', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.k, eventTime: (x) => x.at, grace: '5m', ...(maxFutureSkew === undefined ? {} : { maxFutureSkew }) });
    ev.features('f', { n: ev.groupBy('k', (x) => x.k).lookback('1h').count() });
    return {};
  });
  return buildProgram(compilePlan(topo, HERE));
}

async function run(prog: ReturnType<typeof program>, records: InputRecord[], batch = records.length) {
  const c = collectingSinks();
  const task = await Task.open(prog, 0, new MemoryBackend(), c.sinks);
  for (let i = 0; i < records.length; i += batch) await task.process({ source: 'ev', partition: 0, records: records.slice(i, i + batch) });
  await task.endOfInput('ev');
  return { out: c.out, task };
}

const recs = (times: number[]): InputRecord[] => times.map((at, offset) => ({ offset, value: { k: 'a', at } }));

test('event times outside the Date range are dead-lettered with the reason; the records after them are computed', async () => {
  const times = [T0, T0 + MIN, 1e300, 8.64e15 + 1, T0 + 2 * MIN, T0 + 3 * MIN];
  const { out } = await run(program(), recs(times));
  assert.deepEqual(out.dead.map((d) => d.offset), [2, 3]);
  for (const d of out.dead) assert.match(d.reason, /is outside the representable range \(±8\.64e15 ms/);
  // Offsets 0, 1, 4, 5: counts of earlier events within the hour: 0, 1, 2, 3.
  assert.deepEqual(out.features.map((f) => [f.offset, f.values[0]]), [[0, 0], [1, 1], [4, 2], [5, 3]]);
  assert.equal(out.late.length, 0);
});

test('one far-future record (year 2100, or microseconds) is dead-lettered and never poisons stream time', async () => {
  const times = Array.from({ length: 10 }, (_, i) => T0 + i * MIN);
  times[2] = Date.UTC(2100, 0, 1);
  times[6] = (T0 + 6 * MIN) * 1000; // microseconds
  const { out, task } = await run(program(), recs(times));
  assert.deepEqual(out.dead.map((d) => d.offset), [2, 6]);
  assert.match(out.dead[0].reason, /event time 2100-01-01T00:00:00\.000Z is 74\.\d years ahead of .* beyond the source's maxFutureSkew 30d/);
  assert.match(out.dead[1].reason, /looks like microseconds \(÷1000 = 2025-06-01T00:06:00\.000Z\)/);
  assert.equal(task.counters.late, 0, 'nothing after it is late');
  assert.deepEqual(out.features.map((f) => f.offset), [0, 1, 3, 4, 5, 7, 8, 9]);
  assert.equal(task.currentStreamTime, T0 + 9 * MIN);
  assert.equal(task.counters.deadLetters, 2);
});

test("a task's very first record is judged against the median of its first 16: a future first record cannot poison it", async () => {
  const times = [Date.UTC(2100, 0, 1), ...Array.from({ length: 20 }, (_, i) => T0 + i * MIN)];
  const { out } = await run(program(), recs(times));
  assert.deepEqual(out.dead.map((d) => d.offset), [0]);
  assert.match(out.dead[0].reason, /ahead of the median of the task's first records 2025-06-01T00:07:00\.000Z/);
  assert.equal(out.features.length, 20);
  assert.equal(out.late.length, 0);
  // Fewer than 16 records in all: the end of input judges them against the median of what came.
  const few = await run(program(), recs([Date.UTC(2100, 0, 1), T0, T0 + MIN]));
  assert.deepEqual(few.out.dead.map((d) => d.offset), [0]);
  assert.equal(few.out.features.length, 2);
});

test('maxFutureSkew: null turns the bound off; a smaller bound applies as declared', async () => {
  const times = [T0, T0 + MIN, T0 + 3 * 3_600_000, T0 + 2 * MIN];
  const off = await run(program(null), recs(times));
  assert.equal(off.out.dead.length, 0);
  assert.equal(off.task.counters.late, 1, 'without a bound the jump makes offset 3 late');
  const tight = await run(program('2h'), recs(times));
  assert.deepEqual(tight.out.dead.map((d) => d.offset), [2]);
  assert.equal(tight.task.counters.late, 0);
});

test('the decision does not depend on batch sizes, and a restart in the middle of the warm-up changes nothing', async () => {
  const rng = mulberry32(5);
  const times = Array.from({ length: 60 }, (_, i) => T0 + i * MIN);
  for (const i of [0, 5, 17, 40]) times[i] = rng() < 0.5 ? Date.UTC(2100, 0, 1) : times[i] * 1000;
  const prog = program();
  const ref = await run(prog, recs(times));
  assert.equal(ref.out.dead.length, 4);
  for (const batch of [1, 3, 7, 16, 59]) assertSameOutputs((await run(prog, recs(times), batch)).out, ref.out, `batch ${batch}`);
  // Checkpoint after 9 records (all still held), restart, feed everything again from the start.
  const backend = new MemoryBackend();
  const first = collectingSinks();
  const a = await Task.open(prog, 0, backend, first.sinks);
  await a.process({ source: 'ev', partition: 0, records: recs(times).slice(0, 9) });
  await a.checkpoint();
  assert.deepEqual(a.resumePositions(), { ev: 0 }, 'held records are not applied, so not checkpointed');
  const second = collectingSinks();
  const b = await Task.open(prog, 0, backend, second.sinks);
  await b.process({ source: 'ev', partition: 0, records: recs(times) });
  await b.endOfInput('ev');
  assertSameOutputs({ ...second.out, features: [...first.out.features, ...second.out.features], dead: [...first.out.dead, ...second.out.dead] }, ref.out, 'restart mid warm-up');
});

const refineProgram = (by: 'merchant' | 'card+merchant') =>
  buildProgram(
    compilePlan(
      topology('group-refine', (b) => {
        const tx = b.source<{ card: string; merchant: string; at: number }>('tx', { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card, eventTime: (x) => x.at, maxFutureSkew: null });
        const g = by === 'merchant' ? tx.groupBy('merchant', (x) => x.merchant) : tx.groupBy('card_merchant', (x) => `${x.card}/${x.merchant}`);
        tx.features('f', { n: g.lookback('1h').count() });
        return {};
      }),
      HERE,
    ),
  );

test('a groupBy that does not refine the partition key is refused, naming the group, the key and both source keys; a refinement is fine', async () => {
  const make = refineProgram;
  const records: InputRecord[] = [
    { offset: 0, value: { card: 'c1', merchant: 'm1', at: T0 } },
    { offset: 1, value: { card: 'c1', merchant: 'm2', at: T0 + MIN } },
    { offset: 2, value: { card: 'c2', merchant: 'm1', at: T0 + 2 * MIN } },
  ];
  const refine = collectingSinks();
  const ok = await Task.open(make('card+merchant'), 4, new MemoryBackend(), refine.sinks);
  await ok.process({ source: 'tx', partition: 4, records });
  assert.equal(refine.out.features.length, 3);
  const bad = await Task.open(make('merchant'), 4, new MemoryBackend(), collectingSinks().sinks);
  await assert.rejects(bad.process({ source: 'tx', partition: 4, records }), (e: unknown) => {
    assert.ok(e instanceof GroupKeyError);
    assert.match(e.message, /^groupBy merchant: key "m1" comes with source keys "c1" and "c2" \(source tx, partition 4, offset 2\)\. A groupBy must refine/);
    return true;
  });
  // A group key equal to the record's own source key, after it came with another source key.
  const same = await Task.open(make('merchant'), 4, new MemoryBackend(), collectingSinks().sinks);
  const clash: InputRecord[] = [
    { offset: 0, value: { card: 'c1', merchant: 'c2', at: T0 } },
    { offset: 1, value: { card: 'c2', merchant: 'c2', at: T0 + MIN } },
  ];
  await assert.rejects(same.process({ source: 'tx', partition: 4, records: clash }), /^GroupKeyError: groupBy merchant: key "c2" comes with source keys "c1" and "c2" \(source tx, partition 4, offset 1\)/);
});

test('the group keys remembered for the refinement check stay bounded in a long run over ever new keys, and a clash within the bound is still refused', async () => {
  // 5,000 cards, each with its own merchants (a refinement): 20,000 distinct card/merchant keys.
  const records: InputRecord[] = [];
  for (let i = 0; i < 20_000; i++) records.push({ offset: i, value: { card: `c${i % 5000}`, merchant: `m${i}`, at: T0 + i * 1000 } });
  const task = await Task.open(refineProgram('card+merchant'), 0, new MemoryBackend(), collectingSinks().sinks, { maxCachedKeys: 1000 });
  for (let i = 0; i < records.length; i += 500) await task.process({ source: 'tx', partition: 0, records: records.slice(i, i + 500) });
  // Two generations of at most 1,000 keys; before, every one of the 20,000 stayed for good.
  assert.ok(task.cacheStats.groupOwnerKeys <= 2000, `group keys remembered: ${task.cacheStats.groupOwnerKeys}`);
  assert.ok(task.cacheStats.groupOwnerKeys >= 1000, `group keys remembered: ${task.cacheStats.groupOwnerKeys}`);

  // merchant m1 with card c1, then 1,500 new merchants (past one rotation), then m1 with card c2:
  // a key seen again within the bound is checked, whatever the rotation did in between.
  const clash: InputRecord[] = [{ offset: 0, value: { card: 'c1', merchant: 'm1', at: T0 } }];
  for (let i = 0; i < 1500; i++) clash.push({ offset: i + 1, value: { card: 'c1', merchant: `x${i}`, at: T0 + i } });
  clash.push({ offset: 1501, value: { card: 'c2', merchant: 'm1', at: T0 + 2000 } });
  const bad = await Task.open(refineProgram('merchant'), 0, new MemoryBackend(), collectingSinks().sinks, { maxCachedKeys: 1000 });
  await assert.rejects(bad.process({ source: 'tx', partition: 0, records: clash }), /^GroupKeyError: groupBy merchant: key "m1" comes with source keys "c1" and "c2" \(source tx, partition 0, offset 1501\)/);
});
