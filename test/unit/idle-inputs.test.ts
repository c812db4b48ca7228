/**
 * The idle rule's check (DESIGN.md rule 3) against a real engine task, store and the broker-free
 * memory cluster, with the wall clock in the test's hands: what the check decided before its turn
 * in the task's queue is decided again there, since a batch queued ahead of it may have made an
 * input busy.
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
import { IdleInputs } from '../../src/modes/live/idle-inputs.js';
import { LiveTask } from '../../src/modes/live/live-task.js';
import { MemoryCluster } from '../../src/modes/live/memory-cluster.js';
import { compilePlan } from '../../src/plan/compile.js';
import { LevelBackend } from '../../src/state/state-backend.js';
import { collectingSinks } from '../helpers/engine.js';

const HERE = fileURLToPath(import.meta.url);
const T0 = Date.UTC(2025, 0, 1);
const MIN = 60_000;
const IDLE_MS = 1000;
const TOPICS = new Map([
  ['a', 'in-a'],
  ['b', 'in-b'],
]);

interface Txn {
  card: string;
  at: number;
  v: number;
}

const program = buildProgram(
  compilePlan(
    topology('idle-inputs', (b) => {
      for (const name of TOPICS.keys()) {
        const src = b.source<Txn>(name, { schema: '../../schemas/card_transaction.avsc', key: (x) => x.card, eventTime: (x) => x.at, maxFutureSkew: null });
        src.features(`f_${name}`, { n: src.groupBy(`card_${name}`, (x) => x.card).lookback('1h').count() });
      }
      return {};
    }),
    HERE,
  ),
);

/** A task holding three records of input a (at T0 + 10, 11, 12 min) while input b, empty, holds the merge back. */
async function holdingTask(t: { after(fn: () => Promise<void>): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-idle-inputs-'));
  const cluster = new MemoryCluster();
  for (const topic of TOPICS.values()) cluster.createTopic(topic, 1);
  const backend = await LevelBackend.open(dir);
  const { sinks, out } = collectingSinks();
  const task = await Task.open(program, 0, backend, sinks);
  const lt = new LiveTask(0, task, backend, await cluster.openTaskProducer(undefined), false, 0, [...TOPICS.keys()]);
  t.after(async () => {
    await lt.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const a = [10, 11, 12].map((m, i) => ({ offset: i, value: { card: 'c', at: T0 + m * MIN, v: i } }));
  for (const r of a) cluster.produce('in-a', 0, { key: 'c', value: Buffer.from(JSON.stringify(r.value)) });
  await task.process({ source: 'a', partition: 0, records: a });
  const clock = { now: 0 };
  lt.lastInputAt.set('a', clock.now);
  const commits: number[] = [];
  const failures: unknown[] = [];
  const lines: string[] = [];
  const idle = new IdleInputs({
    cluster,
    sourceTopics: TOPICS,
    idleMs: IDLE_MS,
    clock: () => clock.now,
    log: (line) => lines.push(line),
    tasks: () => [lt],
    member: () => undefined,
    commit: async (x) => void commits.push(x.partition),
    onFailure: async (_x, e) => void failures.push(e),
  });
  return { cluster, task, lt, idle, clock, commits, failures, lines, out };
}

test('an input caught up and quiet idleMs is skipped: the records waiting for it are released and committed', async (t) => {
  const s = await holdingTask(t);
  assert.equal(s.task.pendingOf('a'), 3);
  s.clock.now = IDLE_MS - 1;
  await s.idle.check();
  assert.equal(s.task.counters.mergeSkips, 0, 'b has been quiet less than idleMs');
  s.clock.now = IDLE_MS;
  await s.idle.check();
  assert.deepEqual(s.failures, []);
  assert.equal(s.task.counters.mergeSkips, 1);
  assert.equal(s.task.pendingOf('a'), 0);
  assert.deepEqual(s.commits, [0], 'what the skip released is committed');
  assert.deepEqual(
    s.out.features.map((r) => [r.source, r.offset, r.values[0]]),
    [
      ['a', 0, 0],
      ['a', 1, 1],
      ['a', 2, 2],
    ],
    "a's three vectors, each counting the card's earlier events of the hour",
  );
  assert.match(s.lines.join('\n'), /input b/);
});

test('an input a batch queued ahead of the check made busy is not skipped on the decision taken before', async (t) => {
  const s = await holdingTask(t);
  s.clock.now = 2 * IDLE_MS;
  // The task is busy; a batch of b (one record, earlier than a's, so the merge releases it at
  // once and b holds nothing again) is queued behind that work, and the check comes after it.
  let release!: () => void;
  const busy = s.lt.serial(() => new Promise<void>((r) => (release = r)));
  const batch = s.lt.serial(async () => {
    const value = { card: 'c', at: T0 + 5 * MIN, v: 9 };
    s.cluster.produce('in-b', 0, { key: 'c', value: Buffer.from(JSON.stringify(value)) });
    await s.task.process({ source: 'b', partition: 0, records: [{ offset: 0, value }] });
    s.lt.lastInputAt.set('b', s.clock.now);
  });
  const checked = s.idle.check();
  // The check has judged b idle (empty, caught up, quiet 2 × idleMs) and waits for its turn.
  await new Promise((r) => setImmediate(r));
  release();
  await Promise.all([busy, batch, checked]);
  assert.deepEqual(s.failures, []);
  assert.equal(s.task.pendingOf('b'), 0, 'the merge released b\'s record: b holds nothing again');
  assert.equal(s.task.counters.mergeSkips, 0, 'b sent a record just now: not idle, whatever the check saw before its turn');
  assert.equal(s.task.pendingOf('a'), 3, "a's records still wait for b");
  assert.deepEqual(s.commits, []);
  assert.deepEqual(s.lines, []);
  // Once b has been quiet idleMs again, the next check skips it.
  s.clock.now += IDLE_MS;
  await s.idle.check();
  assert.equal(s.task.counters.mergeSkips, 1);
  assert.equal(s.task.pendingOf('a'), 0);
});

test('an input quiet for long but behind the broker\'s end is not skipped: its record may come before the held ones', async (t) => {
  const s = await holdingTask(t);
  s.cluster.produce('in-b', 0, { key: 'c', value: Buffer.from(JSON.stringify({ card: 'c', at: T0 + 5 * MIN, v: 9 })) });
  s.clock.now = 10 * IDLE_MS;
  await s.idle.check();
  assert.equal(s.task.counters.mergeSkips, 0);
  assert.equal(s.task.pendingOf('a'), 3);
  assert.deepEqual(s.out.features, []);
});
