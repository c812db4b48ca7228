/**
 * The live driver without a broker: src/modes/live/memory-cluster.ts gives it partitions,
 * transactions with read_committed visibility, fencing epochs and a consumer group, and the
 * test decides when batches are fetched, when a commit fails and when members come and go.
 * Each test checks what a read_committed reader of the output topic sees: every input's vector
 * exactly once, equal to what the engine computes for the same partition sequences.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InputRecord } from '../../src/engine/input.js';
import { buildProgram } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import { featureRecordSchema } from '../../src/io/avro/feature-record-schema.js';
import { WireDecoder } from '../../src/io/avro/wire-decoder.js';
import { WireEncoder } from '../../src/io/avro/wire-encoder.js';
import { startLiveWorkerOn, type LiveOptions, type LiveWorker } from '../../src/modes/live-worker.js';
import { changelogTopic } from '../../src/modes/live/changelog.js';
import { MemoryCluster, MemorySchemaRegistry } from '../../src/modes/live/memory-cluster.js';
import type { CompiledPlan } from '../../src/plan/compile.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { MemoryBackend } from '../../src/state/state-backend.js';
import { readParityFile } from '../../src/parity/parity-log.js';
import { collectingSinks, featureSignature } from '../helpers/engine.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// The driver's mechanics on card features alone: the expected side runs one Task per partition.
const cardOnly = await loadTopology(join(ROOT, 'test/fixtures/card-only.ts'));
const twoStreams = await loadTopology(join(ROOT, 'test/fixtures/two-streams.ts'));
const threeStreams = await loadTopology(join(ROOT, 'test/fixtures/three-streams.ts'));
const T0 = Date.UTC(2025, 2, 1);
const MIN = 60_000;
const PARTITIONS = 3;
const GROUP = 'g';

interface Setup {
  readonly cluster: MemoryCluster;
  readonly registry: MemorySchemaRegistry;
  readonly dir: string;
  readonly logs: string[];
  start(state: string, extra?: Partial<LiveOptions>): Promise<LiveWorker>;
}

async function setup(t: { after: (fn: () => void) => void }, plan: CompiledPlan): Promise<Setup> {
  const cluster = new MemoryCluster();
  const registry = new MemorySchemaRegistry();
  const dir = mkdtempSync(join(tmpdir(), 'skewless-driver-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const logs: string[] = [];
  for (const s of buildProgram(plan).sources) cluster.createTopic(s.node.topic, PARTITIONS);
  return {
    cluster,
    registry,
    dir,
    logs,
    start: (state, extra = {}) =>
      startLiveWorkerOn(cluster, registry, { plan, stateDir: join(dir, state), group: GROUP, log: (l) => { logs.push(`[${state}] ${l}`); if (process.env.DRIVER_DEBUG) process.stderr.write(`[${state}] ${l}\n`); }, retryDeadlineMs: 60_000, ...extra }),
  };
}

/** An amount in euros with its dollar value (any fixed rate: the tests compare live with replay). */
const eur = (amount: number): { amount: number; currency: string; amount_usd: number } => ({ amount, currency: 'EUR', amount_usd: Math.round(amount * 108) / 100 });

/** Card transactions: card i lives on partition i % PARTITIONS; a few arrive out of order. */
function transactions(n: number, seed = 1): Array<{ partition: number; value: Record<string, unknown> }> {
  const out: Array<{ partition: number; value: Record<string, unknown> }> = [];
  let x = seed;
  const next = (): number => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < n; i++) {
    const card = Math.floor(next() * 8);
    const at = T0 + i * 3 * MIN - (next() < 0.1 ? Math.floor(next() * 20) * MIN : 0);
    out.push({
      partition: card % PARTITIONS,
      value: { txn_id: `t${i}`, card_id: `card-${card}`, merchant_id: `m${Math.floor(next() * 5)}`, ...eur(Math.round(next() * 50_000) / 100), event_time: at, country: 'FR' },
    });
  }
  return out;
}

async function produceAll(s: Setup, plan: CompiledPlan, source: string, topic: string, items: ReadonlyArray<{ partition: number; value: Record<string, unknown> }>): Promise<void> {
  const schema = plan.schemas.get(source)!.json;
  const enc = new WireEncoder(schema, await s.registry.register(`${topic}-value`, schema));
  for (const it of items) s.cluster.produce(topic, it.partition, { key: String(it.value.card_id), value: enc.encode(it.value).bytes!, partition: it.partition });
}

/** What the engine computes per partition for the same input sequences (the replay side). */
async function expectedVectors(plan: CompiledPlan, items: ReadonlyArray<{ partition: number; value: Record<string, unknown> }>): Promise<Map<string, string>> {
  const program = buildProgram(plan);
  const out = new Map<string, string>();
  for (let p = 0; p < PARTITIONS; p++) {
    const records: InputRecord[] = items.filter((i) => i.partition === p).map((i, offset) => ({ offset, value: i.value }));
    const c = collectingSinks();
    const task = await Task.open(program, p, new MemoryBackend(), c.sinks);
    await task.process({ source: 'transactions', partition: p, records });
    for (const s of program.sources) await task.endOfInput(s.node.name);
    for (const f of c.out.features.filter((r) => r.output === 'card_features')) out.set(`${p}/${f.offset}`, featureSignature({ ...f, event: {}, values: servedValues(plan, f.values) }));
  }
  return out;
}

/** The served columns (labels are training-only). */
function servedValues(plan: CompiledPlan, values: readonly unknown[]): Array<number | string | null> {
  const columns = buildProgram(plan).outputs.find((o) => o.name === 'card_features')!.columns;
  return columns.flatMap((c, i) => (c.role === 'label' ? [] : [(values[i] as number | string | null) ?? null]));
}

/** What a read_committed reader of the feature topic sees, as signatures by input position, and duplicates. */
async function servedVectors(s: Setup, plan: CompiledPlan): Promise<{ vectors: Map<string, string>; duplicates: number }> {
  const output = buildProgram(plan).outputs.find((o) => o.name === 'card_features')!;
  const decoder = new WireDecoder(s.registry, featureRecordSchema(output.name, output.columns));
  const served = output.columns.filter((c) => c.role !== 'label');
  const vectors = new Map<string, string>();
  let duplicates = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    const records = s.cluster.committedRecords(output.topic, p);
    const decoded = await decoder.decodeAll(records.map((r) => r.value));
    for (const d of decoded) {
      const v = d.value as Record<string, unknown>;
      const id = `${v.partition}/${v.offset}`;
      if (vectors.has(id)) duplicates++;
      const row = { output: output.name, source: 'transactions', partition: Number(v.partition), offset: Number(v.offset), key: String(v.key), eventTime: Number(v.event_time), event: {}, values: served.map((c) => (v[c.name] as number | null) ?? null) };
      vectors.set(id, featureSignature(row));
    }
  }
  return { vectors, duplicates };
}

async function assertServedExactlyOnce(s: Setup, plan: CompiledPlan, items: ReadonlyArray<{ partition: number; value: Record<string, unknown> }>): Promise<void> {
  const expected = await expectedVectors(plan, items);
  const { vectors, duplicates } = await servedVectors(s, plan);
  assert.equal(duplicates, 0, 'no vector twice under read_committed');
  assert.equal(vectors.size, expected.size, `served ${vectors.size} of ${expected.size}`);
  for (const [id, sig] of expected) assert.equal(vectors.get(id), sig, `vector ${id}`);
}

/** What a read_committed reader sees is right and nothing twice (some vectors may be missing). */
async function assertServedRight(s: Setup, plan: CompiledPlan, items: ReadonlyArray<{ partition: number; value: Record<string, unknown> }>): Promise<void> {
  const expected = await expectedVectors(plan, items);
  const { vectors, duplicates } = await servedVectors(s, plan);
  assert.equal(duplicates, 0, 'no vector twice under read_committed');
  for (const [id, sig] of vectors) assert.equal(sig, expected.get(id), `vector ${id}`);
}

/**
 * Task 0's next commit ends with `outcome` (an abort: its commit fails after the records were
 * written), but no marker reaches any partition it wrote. Returns whether that commit is still to come.
 */
function loseTask0Markers(s: Setup, outcome: 'committed' | 'aborted'): () => boolean {
  let armed = true;
  let losing = false;
  s.cluster.faults.beforeCommit = (id) => {
    losing = armed && id !== undefined && id.endsWith('-task-0');
    if (!losing) return undefined;
    armed = false;
    return outcome === 'aborted' ? new Error('the broker went away') : undefined;
  };
  s.cluster.faults.loseMarkers = (_id, _topic, _partition, ended) => losing && ended === outcome;
  return () => armed;
}

test('a commit that fails leaves nothing visible; the batch is recomputed from the last commit and served once', async (t) => {
  const s = await setup(t, cardOnly);
  const items = transactions(600);
  await produceAll(s, cardOnly, 'transactions', 'transactions', items);
  // Every 4th transaction fails after its records were written (aborted), every 7th send before anything was written.
  let commits = 0;
  let sends = 0;
  let aborted = 0;
  let refused = 0;
  s.cluster.faults.beforeCommit = () => (++commits % 4 === 0 && aborted++ < 6 ? new Error('broker went away mid-transaction') : undefined);
  s.cluster.faults.beforeSend = () => (++sends % 7 === 0 && refused++ < 6 ? new Error('NOT_LEADER_OR_FOLLOWER') : undefined);
  const w = await s.start('a', { maxBatch: 17 });
  await s.cluster.runUntilIdle(50);
  await w.stop();
  assert.deepEqual([aborted >= 6, refused >= 6], [true, true], `faults injected: ${aborted} aborted, ${refused} refused`);
  assert.ok(s.logs.some((l) => /batch not committed \(broker went away mid-transaction\); state dropped/.test(l)), s.logs.join('\n'));
  await assertServedExactlyOnce(s, cardOnly, items);
  // The group offsets moved with the transactions: each partition committed up to its end.
  for (let p = 0; p < PARTITIONS; p++) assert.equal(s.cluster.groupOffset(GROUP, 'transactions', p), items.filter((i) => i.partition === p).length);
});

test('partitions handled side by side: a task whose commits fail drops only its own records and parity lines', async (t) => {
  const s = await setup(t, cardOnly);
  const items = transactions(900, 5);
  await produceAll(s, cardOnly, 'transactions', 'transactions', items);
  // Task 1's transactions fail now and then, before and after its records were written; the
  // other tasks' batches are in flight at the same time.
  let sends = 0;
  let commits = 0;
  let failures = 0;
  const fail = (message: string): Error | undefined => (failures < 12 ? (failures++, new Error(message)) : undefined);
  s.cluster.faults.beforeSend = (id) => (id?.endsWith('task-1') && ++sends % 3 === 0 ? fail('NOT_LEADER_OR_FOLLOWER') : undefined);
  s.cluster.faults.beforeCommit = (id) => (id?.endsWith('task-1') && ++commits % 4 === 0 ? fail('broker went away mid-transaction') : undefined);
  const file = join(s.dir, 'parity.ndjson');
  const w = await s.start('a', { maxBatch: 13, partitionsConcurrently: PARTITIONS, parity: { rate: 1, topic: 'parity', file } });
  await s.cluster.runUntilIdle(40);
  await w.stop();
  assert.equal(failures, 12, 'faults injected');
  await assertServedExactlyOnce(s, cardOnly, items);
  // Every served vector (rate 1: all of them) is in the local parity file, once.
  const { vectors } = await servedVectors(s, cardOnly);
  const inFile = readParityFile(file).entries.filter((e) => e.output === 'card_features').map((e) => `${e.partition}/${e.offset}`);
  assert.deepEqual([...new Set(inFile)].sort(), [...vectors.keys()].sort());
});

test('partitions handled side by side, exactly-once: the worker\'s transactions take turns, one open at a time', async (t) => {
  const s = await setup(t, cardOnly);
  const items = transactions(600, 11);
  await produceAll(s, cardOnly, 'transactions', 'transactions', items);
  // Every round hands each task a batch at once; a commit is a broker round trip long, so the
  // other tasks reach their commits while one is in flight and, without turns, open theirs too.
  const w = await s.start('a', { maxBatch: 17, partitionsConcurrently: PARTITIONS });
  await s.cluster.runUntilIdle(40);
  await w.stop();
  assert.equal(s.cluster.peakTaskTransactions, 1, 'at most one task transaction open at any time');
  await assertServedExactlyOnce(s, cardOnly, items);
});

test('partitions move between workers with their own state dirs: restored or caught up from the changelog, never computed from other state', async (t) => {
  const s = await setup(t, cardOnly);
  const items = transactions(900, 7);
  const thirds = [items.slice(0, 300), items.slice(300, 600), items.slice(600)];
  await produceAll(s, cardOnly, 'transactions', 'transactions', thirds[0]);
  const a = await s.start('a', { maxBatch: 29 });
  await s.cluster.runUntilIdle(40);
  const b = await s.start('b', { maxBatch: 31 }); // joins: takes some partitions it has no state for
  await produceAll(s, cardOnly, 'transactions', 'transactions', thirds[1]);
  await s.cluster.runUntilIdle(40);
  await b.stop(); // leaves: a takes them back with an older local copy
  await produceAll(s, cardOnly, 'transactions', 'transactions', thirds[2]);
  await s.cluster.runUntilIdle(40);
  await a.stop();
  const text = s.logs.join('\n');
  assert.match(text, /\[b\] skewless: task \d: rebuilding local state from changelog g-\w+-changelog \(\d+ offsets\) because there is no local copy/);
  assert.match(text, /\[a\] skewless: task \d: catching up done: [1-9][\d,]* changelog records/);
  await assertServedExactlyOnce(s, cardOnly, items);
});

/**
 * Workers a and b with one standby copy per task, synced only when the test says (syncStandbys),
 * stopped after the test unless it stops them itself (call `stopping` first).
 */
async function startStandbyPair(t: { after: (fn: () => Promise<void>) => void }, s: Setup, states: readonly [string, string], maxBatch: number): Promise<{ a: LiveWorker; b: LiveWorker; stopping: () => void }> {
  const standby = { standbyCopies: 1, standbyIntervalMs: Infinity, maxBatch };
  const a = await s.start(states[0], standby);
  const b = await s.start(states[1], standby);
  let stopped = false;
  t.after(async () => {
    if (!stopped) await Promise.allSettled([a.stop(), b.stop()]);
  });
  return { a, b, stopping: () => (stopped = true) };
}

test('standby copies: a task moved by a failure catches up from the changelog\'s tail onto the copy kept on its new owner, and serves the same vectors', async (t) => {
  const s = await setup(t, cardOnly);
  const items = transactions(900, 13);
  const thirds = [items.slice(0, 300), items.slice(300, 600), items.slice(600)];
  const changelog = changelogTopic(GROUP, cardOnly.version);
  // Members in join order: a owns tasks 0 and 2, b task 1. Were a to fail, b would own all
  // three (P mod 1), so b keeps copies of 0 and 2; were b to fail, task 1 would go to a.
  const { a, b, stopping } = await startStandbyPair(t, s, ['a', 'b'], 23);
  await produceAll(s, cardOnly, 'transactions', 'transactions', thirds[0]);
  await s.cluster.runUntilIdle(40);
  await a.syncStandbys();
  await b.syncStandbys();
  assert.deepEqual([a.standbys(), b.standbys()], [[1], [0, 2]]);
  await produceAll(s, cardOnly, 'transactions', 'transactions', thirds[1]);
  await s.cluster.runUntilIdle(40);
  await b.syncStandbys();
  // Where b's copies stand; the last third's commits come after that.
  const synced = await s.cluster.endOffsets(changelog);
  await produceAll(s, cardOnly, 'transactions', 'transactions', thirds[2]);
  await s.cluster.runUntilIdle(40);
  const before = await s.cluster.endOffsets(changelog);
  s.cluster.expel(s.cluster.members(GROUP)[0]); // a is gone (kill -9): b takes tasks 0 and 2
  await s.cluster.runUntilIdle(40);
  stopping();
  await b.stop();
  await a.stop();
  const text = s.logs.join('\n');
  assert.doesNotMatch(text, /\[b\] skewless: task [02]: rebuilding/, text);
  for (const p of [0, 2]) {
    // Exactly the changelog records committed after b's last sync, counted from the topic.
    const tail = s.cluster.committedRecords(changelog, p).filter((r) => r.offset >= synced.get(p)! && r.offset < before.get(p)!).length;
    const all = s.cluster.committedRecords(changelog, p).filter((r) => r.offset < before.get(p)!).length;
    assert.ok(tail > 0 && tail < all / 2, `task ${p}: ${tail} of ${all} records after the sync`);
    assert.match(text, new RegExp(`\\[b\\] skewless: task ${p} ready at .* after applying ${tail} changelog records`));
  }
  assert.deepEqual(b.standbys(), [], 'no copies while b owns every task');
  await assertServedExactlyOnce(s, cardOnly, items);
});

test('standby copies on a shared state root: a copy is open only during a round, so the owner on the same root is never locked out', async (t) => {
  const s = await setup(t, cardOnly);
  const items = transactions(600, 17);
  // Both workers on one root: each task directory is also the other's standby copy.
  const { a, b, stopping } = await startStandbyPair(t, s, ['shared', 'shared'], 19);
  await produceAll(s, cardOnly, 'transactions', 'transactions', items.slice(0, 300));
  await s.cluster.runUntilIdle(40);
  await Promise.all([a.syncStandbys(), b.syncStandbys()]);
  // Task 0 (a's) fails a commit: a drops it and, while it backs off, b's round takes the
  // store a closed. a's reopen must find it free again once the round is over.
  let failTask0 = true;
  s.cluster.faults.beforeCommit = (id) => {
    if (!failTask0 || id?.endsWith('-task-0') !== true) return undefined;
    failTask0 = false;
    return new Error('broker went away mid-transaction');
  };
  await produceAll(s, cardOnly, 'transactions', 'transactions', items.slice(300));
  const work = s.cluster.runUntilIdle(40);
  while (!s.logs.some((l) => /task 0: batch not committed \(broker went away/.test(l))) await new Promise((r) => setTimeout(r, 1));
  await b.syncStandbys();
  await work;
  await s.cluster.runUntilIdle(40);
  stopping();
  await b.stop(); // a takes b's task from the shared root
  await s.cluster.runUntilIdle(40);
  await a.stop();
  assert.doesNotMatch(s.logs.join('\n'), /kept failing|rebuilding/, s.logs.join('\n'));
  await assertServedExactlyOnce(s, cardOnly, items);
});

test('a worker that lost its partition mid-transaction is fenced: its commit fails and nothing it wrote is visible', async (t) => {
  const s = await setup(t, cardOnly);
  const items = transactions(300, 3);
  await produceAll(s, cardOnly, 'transactions', 'transactions', items.slice(0, 150));
  const a = await s.start('a', { maxBatch: 50 });
  await s.cluster.runUntilIdle(40);
  await produceAll(s, cardOnly, 'transactions', 'transactions', items.slice(150));
  // While a's next transaction is open, its session times out (a long GC pause) and b takes over,
  // claiming every task's transactional id before a's commit goes out.
  let b: LiveWorker | undefined;
  s.cluster.faults.beforeCommit = (id) => {
    if (b !== undefined || id === undefined) return undefined;
    s.cluster.expel(s.cluster.members(GROUP)[0]);
    for (let p = 0; p < PARTITIONS; p++) s.cluster.fence(id.replace(/task-\d+$/, `task-${p}`));
    return undefined;
  };
  const bStarting = (async () => {
    while (s.cluster.members(GROUP).length > 0) await new Promise((r) => setTimeout(r, 1));
    b = await s.start('b', { maxBatch: 50 });
  })();
  await s.cluster.poll(40);
  await bStarting;
  await s.cluster.runUntilIdle(40);
  await b!.stop();
  await a.stop();
  assert.ok(s.logs.some((l) => /^\[a\] .*was fenced by a newer owner of the task .*giving it up/.test(l)), s.logs.join('\n'));
  await assertServedExactlyOnce(s, cardOnly, items);
});

test('gap rule: a group offset ahead of the state moves the fetch back; input gone from the log stops the worker, naming both positions', async (t) => {
  const s = await setup(t, cardOnly);
  const items = transactions(120, 5);
  await produceAll(s, cardOnly, 'transactions', 'transactions', items);
  // Offsets committed by something else (a reset tool, another version): the state has nothing.
  s.cluster.setGroupOffset(GROUP, 'transactions', 1, 20);
  const w = await s.start('a');
  await s.cluster.runUntilIdle(30);
  await w.stop();
  assert.ok(s.logs.some((l) => /task 1: transactions fetched from offset 20 but the state needs 0; seeking back/.test(l)), s.logs.join('\n'));
  await assertServedExactlyOnce(s, cardOnly, items);

  const s2 = await setup(t, cardOnly);
  await produceAll(s2, cardOnly, 'transactions', 'transactions', items);
  s2.cluster.truncate('transactions', 2, 10); // retention removed offsets the (empty) state needs
  let now = 0;
  const w2 = await s2.start('a', { clock: () => (now += 1000) });
  for (let i = 0; i < 10; i++) await s2.cluster.poll(30);
  const failure = await Promise.race([w2.failed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000))]);
  await w2.stop();
  assert.ok(failure instanceof Error, 'the worker stopped');
  assert.match(failure.message, /partition 2 of transactions: state reflects input up to offset 0 but input was delivered from offset 10/);
  assert.match(failure.message, /skewless bootstrap/);
});

test('a task reopened while its changelog\'s committed end is below its local copy keeps the copy and waits; a wait that never clears stops the worker with what to do', async (t) => {
  const s = await setup(t, cardOnly);
  const items = transactions(600, 11);
  const thirds = [items.slice(0, 200), items.slice(200, 400), items.slice(400)];
  const changelog = changelogTopic(GROUP, cardOnly.version);
  await produceAll(s, cardOnly, 'transactions', 'transactions', thirds[0]);
  const a = await s.start('a', { maxBatch: 37 });
  await s.cluster.runUntilIdle(40);
  // Undecided under the worker's later commits: read_committed readers stop at it.
  const stray = s.cluster.openTransaction('stray', changelog, 0, { key: 'stray', value: new TextEncoder().encode('not state'), partition: 0 });
  await produceAll(s, cardOnly, 'transactions', 'transactions', thirds[1]);
  await s.cluster.runUntilIdle(40);
  await a.stop();
  // Restarted on the kept local copies; a task opens at its partition's first batch.
  const b = await s.start('a', { maxBatch: 37 });
  await produceAll(s, cardOnly, 'transactions', 'transactions', thirds[2]);
  for (let i = 0; i < 5; i++) await s.cluster.poll(40);
  const waited = s.logs.join('\n');
  assert.match(waited, /task 0: not opened: changelog g-\w+-changelog partition 0: its committed records end at offset \d+, its records at \d+: a transaction on the partition is undecided from offset \d+/, waited);
  assert.doesNotMatch(waited, /rebuilding local state/, waited);
  stray.end('aborted');
  await s.cluster.runUntilIdle(40);
  await b.stop();
  assert.doesNotMatch(s.logs.join('\n'), /rebuilding local state/);
  await assertServedExactlyOnce(s, cardOnly, items);

  // Never decided (a hanging transaction, or records the broker lost): stopped at the failure deadline, naming the task's directory.
  const s2 = await setup(t, cardOnly);
  await produceAll(s2, cardOnly, 'transactions', 'transactions', thirds[0]);
  const c = await s2.start('a');
  await s2.cluster.runUntilIdle(40);
  s2.cluster.openTransaction('stray', changelog, 0, { key: 'stray', value: new TextEncoder().encode('not state'), partition: 0 });
  await produceAll(s2, cardOnly, 'transactions', 'transactions', thirds[1]);
  await s2.cluster.runUntilIdle(40);
  await c.stop();
  let now = 0;
  const d = await s2.start('a', { clock: () => (now += 1000), retryDeadlineMs: 5000 });
  await produceAll(s2, cardOnly, 'transactions', 'transactions', thirds[2]);
  for (let i = 0; i < 10; i++) await s2.cluster.poll(40);
  const failure = await Promise.race([d.failed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
  await d.stop();
  assert.ok(failure instanceof Error, `the worker stopped:\n${s2.logs.join('\n')}`);
  assert.match(failure.message, /partition 0 kept failing for \d+ s: .*a transaction on the partition is undecided.*kafka-transactions\.sh find-hanging.*delete \S+task-0/);
});

test('a task whose last committed batch lost its commit markers (a restarted broker) keeps its local copy, never settles or rebuilds, and stops at the deadline naming that batch', async (t) => {
  const s = await setup(t, cardOnly);
  const items = transactions(600, 13);
  const changelog = changelogTopic(GROUP, cardOnly.version);
  const lost = items.slice(300, 380).filter((i) => i.partition === 0);
  const rest = [...items.slice(300, 380).filter((i) => i.partition !== 0), ...items.slice(380)];
  assert.ok(lost.length > 0 && lost.length < 40, `one batch of partition 0 (${lost.length})`);
  await produceAll(s, cardOnly, 'transactions', 'transactions', items.slice(0, 300));
  const a = await s.start('a');
  await s.cluster.runUntilIdle(40);
  // Task 0's next commit is acknowledged, but no marker reaches any partition it wrote.
  const pending = loseTask0Markers(s, 'committed');
  await produceAll(s, cardOnly, 'transactions', 'transactions', lost);
  await s.cluster.runUntilIdle(40);
  assert.equal(pending(), false, 'task 0 committed once more');
  await a.stop();
  const end = (await s.cluster.endOffsets(changelog)).get(0) ?? 0;
  const high = await s.cluster.highWatermark(changelog, 0);
  assert.ok(end < high, "task 0's last batch is undecided on its changelog partition");

  // Its next transaction would settle those records with its own outcome, an abort included:
  // the task must not write one, nor rebuild from the shorter changelog.
  let now = 0;
  const b = await s.start('a', { clock: () => (now += 1000), retryDeadlineMs: 5000 });
  await produceAll(s, cardOnly, 'transactions', 'transactions', rest);
  for (let i = 0; i < 10; i++) await s.cluster.poll(40);
  const failure = await Promise.race([b.failed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
  await b.stop();
  const logs = s.logs.join('\n');
  assert.ok(failure instanceof Error, `the worker stopped:\n${logs}`);
  assert.match(failure.message, new RegExp(`partition 0 kept failing for \\d+ s: .*this task's last committed batch \\(offsets ${end}\\.\\.${high - 1}\\) is undecided: its commit markers are late or lost.*find-hanging.*delete \\S+task-0`));
  assert.doesNotMatch(logs, /rebuilding local state/, logs);
  assert.equal((await s.cluster.endOffsets(changelog)).get(0), end, 'nothing settled the undecided batch');
  assert.equal(await s.cluster.highWatermark(changelog, 0), high, 'task 0 wrote nothing more');
  // Whatever was served is right and served once: the other tasks' vectors, and task 0's before the lost batch.
  await assertServedRight(s, cardOnly, items);
});

test('a batch whose commit failed and whose abort markers were lost is not decided by the task\'s next commit: the task waits and stops at the deadline', async (t) => {
  const s = await setup(t, cardOnly);
  const items = transactions(600, 17);
  const changelog = changelogTopic(GROUP, cardOnly.version);
  const failed = items.slice(300, 380).filter((i) => i.partition === 0);
  assert.ok(failed.length > 0 && failed.length < 40, `one batch of partition 0 (${failed.length})`);
  await produceAll(s, cardOnly, 'transactions', 'transactions', items.slice(0, 300));
  let now = 0;
  const a = await s.start('a', { clock: () => (now += 1000), retryDeadlineMs: 5000 });
  await s.cluster.runUntilIdle(40);
  // Task 0's next commit fails after its records were written: aborted, but no abort marker lands.
  const pending = loseTask0Markers(s, 'aborted');
  await produceAll(s, cardOnly, 'transactions', 'transactions', failed);
  for (let i = 0; i < 10; i++) await s.cluster.poll(40);
  const failure = await Promise.race([a.failed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000))]);
  await a.stop();
  const logs = s.logs.join('\n');
  assert.equal(pending(), false, 'task 0 tried to commit the batch');
  assert.ok(failure instanceof Error, `the worker stopped:\n${logs}`);
  assert.match(failure.message, /partition 0 kept failing for \d+ s: .*records after this task's last committed batch are undecided: a batch whose commit failed.*find-hanging.*delete \S+task-0/);
  const end = (await s.cluster.endOffsets(changelog)).get(0) ?? 0;
  assert.ok(end < (await s.cluster.highWatermark(changelog, 0)), 'the failed batch is still undecided: no later marker decided it');
  // The failed batch was never served, nor anything twice.
  await assertServedRight(s, cardOnly, items);
});

/**
 * Task 0's next commit ends with `outcome` and loses its markers; a worker started after that,
 * retrying far longer than `hangingAfterMs`, stops on the hanging transaction. Returns the error
 * it stopped with, the changelog's two ends, and the logs.
 */
async function hangTask0(t: { after: (fn: () => void) => void }, outcome: 'committed' | 'aborted', seed: number): Promise<{ failure: Error | undefined; end: number; high: number; logs: string; s: Setup; items: ReturnType<typeof transactions> }> {
  const s = await setup(t, cardOnly);
  const items = transactions(600, seed);
  const changelog = changelogTopic(GROUP, cardOnly.version);
  const batch = items.slice(300, 380).filter((i) => i.partition === 0);
  const rest = [...items.slice(300, 380).filter((i) => i.partition !== 0), ...items.slice(380)];
  await produceAll(s, cardOnly, 'transactions', 'transactions', items.slice(0, 300));
  let now = 0;
  const retrying = { clock: () => (now += 1000), retryDeadlineMs: 600_000, hangingAfterMs: 6000 };
  // A failed commit is retried by the same worker, which then finds its records undecided; an
  // acknowledged one is found undecided by the next worker to open the task.
  const a = await s.start('a', outcome === 'aborted' ? retrying : {});
  await s.cluster.runUntilIdle(40);
  const pending = loseTask0Markers(s, outcome);
  await produceAll(s, cardOnly, 'transactions', 'transactions', batch);
  let b = a;
  if (outcome === 'committed') {
    await s.cluster.runUntilIdle(40);
    await a.stop();
    b = await s.start('a', retrying);
  }
  await produceAll(s, cardOnly, 'transactions', 'transactions', rest);
  for (let i = 0; i < 10; i++) await s.cluster.poll(40);
  assert.equal(pending(), false, 'task 0 tried to commit once more');
  const end = (await s.cluster.endOffsets(changelog)).get(0) ?? 0;
  const high = await s.cluster.highWatermark(changelog, 0);
  assert.ok(end < high, "task 0's last batch is undecided on its changelog partition");
  const failure = await Promise.race([b.failed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000))]);
  await b.stop();
  return { failure, end, high, logs: s.logs.join('\n'), s, items };
}

test('a hanging transaction (a committed batch whose markers no coordinator will write): the worker stops long before its retry deadline, with the abort to run and the task directory to delete', async (t) => {
  const { failure, end, high, logs, s, items } = await hangTask0(t, 'committed', 19);
  assert.ok(failure instanceof Error, `the worker stopped:\n${logs}`);
  assert.equal(failure.name, 'HangingTransactionError', failure.message);
  const changelog = changelogTopic(GROUP, cardOnly.version);
  assert.match(failure.message, new RegExp(`^task 0: a hanging transaction on changelog ${changelog} partition 0: its records from offset ${end} to ${high} are still undecided \\d+ s after this task's producer \\(transactional id ${GROUP}-${cardOnly.version}-task-0\\)`));
  assert.ok(failure.message.includes(`abort --topic ${changelog} --partition 0 --start-offset ${end};`), failure.message);
  assert.match(failure.message, /this task's last committed batch .* is undecided/);
  assert.match(failure.message, /find-hanging --broker-id/);
  assert.match(failure.message, /card_features/, 'names the output topics where the same transaction may hang');
  assert.match(failure.message, /nothing of the transaction was decided: abort each of them the same way, then delete \S+task-0+ \(its local copy holds the aborted batch/);
  assert.match(failure.message, /If it lists it on the changelog alone, the transaction was decided on its other partitions .*: do not abort/);
  // Opens kept finding the records undecided before it stopped, and it neither rebuilt nor wrote on top.
  assert.ok((logs.match(/task 0: (not opened|changelog partition still undecided)/g) ?? []).length >= 2, logs);
  assert.doesNotMatch(logs, /rebuilding local state/, logs);
  assert.equal(await s.cluster.highWatermark(changelog, 0), high, 'task 0 wrote nothing more');
  await assertServedRight(s, cardOnly, items);
});

test('a hanging transaction of a batch whose commit failed: the worker stops with the abort to run, after which the task continues from its last commit', async (t) => {
  const { failure, end, logs } = await hangTask0(t, 'aborted', 23);
  assert.ok(failure instanceof Error, `the worker stopped:\n${logs}`);
  assert.equal(failure.name, 'HangingTransactionError', failure.message);
  assert.match(failure.message, new RegExp(`--partition 0 --start-offset ${end};`));
  assert.match(failure.message, /records after this task's last committed batch are undecided: a batch whose commit failed/);
  assert.match(failure.message, /__consumer_offsets partition too, nothing of the transaction was decided: abort each of them the same way, then start the worker again \(the task continues from its last commit\)\. If it lists it on the changelog alone, .*do not abort; rebuild the state under a new group/);
  assert.doesNotMatch(failure.message, /then delete/);
});

test('a changelog that lost committed records (no transaction undecided) is no hanging transaction: the task waits and stops at the deadline saying the broker lost them', async (t) => {
  const s = await setup(t, cardOnly);
  const items = transactions(600, 29);
  const changelog = changelogTopic(GROUP, cardOnly.version);
  await produceAll(s, cardOnly, 'transactions', 'transactions', items.slice(0, 300));
  const a = await s.start('a');
  await s.cluster.runUntilIdle(40);
  await a.stop();
  const end = (await s.cluster.endOffsets(changelog)).get(0) ?? 0;
  assert.ok(end > 10, `task 0 committed (${end})`);
  // The lone broker lost task 0's last records, markers included: nothing is undecided, and the local copy is ahead.
  s.cluster.loseRecordsFrom(changelog, 0, end - 5);
  assert.equal(await s.cluster.highWatermark(changelog, 0), (await s.cluster.endOffsets(changelog)).get(0));
  let now = 0;
  const b = await s.start('a', { clock: () => (now += 1000), retryDeadlineMs: 8000, hangingAfterMs: 2000 });
  await produceAll(s, cardOnly, 'transactions', 'transactions', items.slice(300));
  for (let i = 0; i < 10; i++) await s.cluster.poll(40);
  const failure = await Promise.race([b.failed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 60_000))]);
  await b.stop();
  const logs = s.logs.join('\n');
  assert.ok(failure instanceof Error, `the worker stopped:\n${logs}`);
  assert.notEqual(failure.name, 'HangingTransactionError', failure.message);
  assert.match(failure.message, /partition 0 kept failing for \d+ s: .*the partition holds records up to offset \d+ only, fewer than this task committed .*: the broker lost records of committed batches/);
  assert.doesNotMatch(logs, /rebuilding local state/, logs);
  assert.ok((logs.match(/task 0: (not opened|changelog partition still ends at offset \d+, behind the local copy)/g) ?? []).length >= 3, `opened at least three times over hangingAfterMs:\n${logs}`);
});

test('idle skip: only once the quiet input is caught up with the broker and idle for idleMs; each skip logged and counted once', async (t) => {
  const s = await setup(t, twoStreams);
  let now = 1_000_000;
  const items = transactions(90, 9);
  await produceAll(s, twoStreams, 'transactions', 'transactions', items);
  const w = await s.start('a', { idleMs: 5000, clock: () => now });
  await s.cluster.runUntilIdle(100);
  const served = (): number => [0, 1, 2].reduce((n, p) => n + s.cluster.committedRecords('card_features', p).length, 0);
  assert.equal(served(), 0, 'transactions wait for the chargebacks input');
  now += 4999;
  await w.checkIdleInputs();
  assert.equal(served(), 0, 'not idle long enough');
  // A chargeback arrives on partition 0 but is not fetched yet: that input is not caught up there.
  await produceAll(s, twoStreams, 'chargebacks', 'chargebacks', [{ partition: 0, value: { txn_id: 't1', card_id: 'card-0', reported_at: T0 + 400 * MIN, reason: 'fraud' } }]);
  now += 1;
  await w.checkIdleInputs();
  const skips = s.logs.filter((l) => /merge skip/.test(l));
  assert.deepEqual(skips.map((l) => /task (\d)/.exec(l)![1]).sort(), ['1', '2'], `skipped where caught up only:\n${skips.join('\n')}`);
  for (const l of skips) assert.match(l, /merge skip 1: input chargebacks \(chargebacks\) caught up at offset 0 and idle 5000 ms; released \d+ held records; stream time -?\w+ → 2025-03-01T/);
  const p0Before = s.cluster.committedRecords('card_features', 0).length;
  assert.equal(p0Before, 0);
  // Once fetched, the chargeback releases partition 0's transactions up to its time without any
  // skip; the chargeback itself then waits for the transactions input, which is empty, caught
  // up and already quiet idleMs: skipped in that batch, not at the next check.
  await s.cluster.runUntilIdle(100);
  assert.equal(s.cluster.committedRecords('card_features', 0).length, items.filter((i) => i.partition === 0).length);
  const later = s.logs.filter((l) => /merge skip/.test(l)).slice(2);
  assert.equal(later.length, 1, s.logs.join('\n'));
  assert.match(later[0], /task 0: merge skip 1: input transactions \(transactions\) caught up at offset \d+ and idle 5000 ms; released 1 held records/);
  assert.equal(s.cluster.committedRecords('chargeback_features', 0).length, 1, 'the chargeback served with the batch that brought it');
  await w.stop();
  assert.equal(Number(w.metrics.get('skewless_merge_skips_total', { partition: '1' })), 1);
  assert.equal(Number(w.metrics.get('skewless_merge_skips_total', { partition: '0' })), 1);
});

test('a batch held for an input already caught up and quiet idleMs is released with its own commit; repeated skips are logged together, each numbered', async (t) => {
  const s = await setup(t, twoStreams);
  let now = 1_000_000;
  const w = await s.start('a', { idleMs: 5000, clock: () => now });
  const items = transactions(150, 4);
  const served = (): number => [0, 1, 2].reduce((n, p) => n + s.cluster.committedRecords('card_features', p).length, 0);
  const slices = [items.slice(0, 30), items.slice(30, 60), items.slice(60, 90), items.slice(90, 120), items.slice(120)];
  await produceAll(s, twoStreams, 'transactions', 'transactions', slices[0]);
  await s.cluster.runUntilIdle(100);
  assert.equal(served(), 0, 'the tasks opened with this batch: the chargebacks input is not quiet yet');
  now += 6000;
  for (const slice of slices.slice(1)) {
    await produceAll(s, twoStreams, 'transactions', 'transactions', slice);
    await s.cluster.runUntilIdle(100);
    now += 100;
    // No idle check ran: each batch went out with its own commit.
    assert.equal(served(), items.slice(0, items.indexOf(slice[slice.length - 1]) + 1).length, s.logs.join('\n'));
  }
  const full = s.logs.filter((l) => /merge skip \d+: input chargebacks/.test(l));
  assert.deepEqual(full.map((l) => /task (\d)/.exec(l)![1]).sort(), ['0', '1', '2'], 'one full line per task for the first skip');
  now += 10_000;
  await w.checkIdleInputs(); // the check writes the skips gathered since
  await w.stop();
  for (const p of [0, 1, 2]) {
    const counted = Number(w.metrics.get('skewless_merge_skips_total', { partition: String(p) }));
    assert.ok(counted >= 2, `partition ${p} skipped at several batches (${counted})`);
    // Every skip number from 1 to the counter appears in exactly one line of its task.
    const numbers: number[] = [];
    for (const l of s.logs.filter((x) => x.includes(`task ${p}: merge skip`))) {
      const range = /merge skips (\d+)–(\d+) \((\d+) skips\): input chargebacks still caught up and idle/.exec(l);
      const one = /merge skip (\d+): input chargebacks/.exec(l);
      if (range) for (let n = Number(range[1]); n <= Number(range[2]); n++) numbers.push(n);
      else numbers.push(Number(one![1]));
    }
    assert.deepEqual(numbers, Array.from({ length: counted }, (_, i) => i + 1), s.logs.join('\n'));
  }
  await assertServedRight(s, twoStreams, items);
});

test('two quiet inputs beside the one holding records are skipped together (either alone releases nothing); one skip, logged with both', async (t) => {
  const s = await setup(t, threeStreams);
  let now = 1_000_000;
  const items = transactions(90, 9);
  await produceAll(s, threeStreams, 'transactions', 'transactions', items);
  const w = await s.start('a', { idleMs: 5000, clock: () => now });
  await s.cluster.runUntilIdle(100);
  const served = (): number => [0, 1, 2].reduce((n, p) => n + s.cluster.committedRecords('card_features', p).length, 0);
  assert.equal(served(), 0, 'transactions wait for both side inputs');
  // Partition 0's disputes get a record that is not fetched yet: not caught up there, so partition 0 waits.
  await produceAll(s, threeStreams, 'disputes', 'disputes', [{ partition: 0, value: { txn_id: 'd1', card_id: 'card-0', reported_at: T0 + 400 * MIN, reason: 'fraud' } }]);
  now += 5000;
  await w.checkIdleInputs();
  const skips = s.logs.filter((l) => /merge skip/.test(l));
  assert.deepEqual(skips.map((l) => /task (\d)/.exec(l)![1]).sort(), ['1', '2'], s.logs.join('\n'));
  for (const l of skips) {
    assert.match(l, /merge skip 1: inputs chargebacks \(chargebacks\) caught up at offset 0 and idle 5000 ms, disputes \(disputes\) caught up at offset 0 and idle 5000 ms; released \d+ held records; stream time -?\w+ → 2025-03-01T/);
  }
  assert.equal(s.cluster.committedRecords('card_features', 0).length, 0, 'partition 0 is not caught up with its disputes');
  const onOthers = items.filter((i) => i.partition !== 0).length;
  assert.equal(served(), onOthers, 'every transaction of partitions 1 and 2 released');
  await w.stop();
  assert.equal(Number(w.metrics.get('skewless_merge_skips_total', { partition: '1' })), 1, 'one skip, counted once');
  await assertServedRight(s, threeStreams, items.filter((i) => i.partition !== 0));
});

test('idle skip on the real clock: each waiting input is released when it has been quiet idleMs, not on the next tick after', async (t) => {
  // The timer ticks every second for idleMs 2000. Partition 0's chargebacks have been quiet since
  // its task opened, partition 1's since a chargeback 700 ms later: a fixed tick cannot meet both
  // due times within 250 ms (they are 700 ms apart on a 1,000 ms tick), the scheduled check can.
  const s = await setup(t, twoStreams);
  const items = transactions(90, 9).filter((i) => i.partition !== 2);
  await produceAll(s, twoStreams, 'transactions', 'transactions', items);
  const idleMs = 2000;
  const w = await s.start('a', { idleMs });
  t.after(() => w.stop());
  await s.cluster.runUntilIdle(100);
  const served = (p: number): number => s.cluster.committedRecords('card_features', p).length;
  assert.equal(served(0) + served(1), 0, 'transactions wait for the chargebacks input');
  await new Promise((r) => setTimeout(r, 700));
  const p1 = items.find((i) => i.partition === 1)!.value;
  await produceAll(s, twoStreams, 'chargebacks', 'chargebacks', [{ partition: 1, value: { txn_id: 'early', card_id: p1.card_id, reported_at: T0 - 60 * MIN, reason: 'fraud' } }]);
  await s.cluster.runUntilIdle(100);
  const skipped = (): RegExpExecArray[] => s.logs.map((l) => /task (\d): merge skip 1: input chargebacks \(chargebacks\) caught up at offset \d+ and idle (\d+) ms/.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  const deadline = Date.now() + 10_000;
  while (skipped().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const skips = skipped();
  assert.deepEqual(skips.map((m) => m[1]).sort(), ['0', '1'], s.logs.join('\n'));
  for (const m of skips) {
    const quiet = Number(m[2]);
    assert.ok(quiet >= idleMs && quiet < idleMs + 250, `partition ${m[1]} released after ${quiet} ms of quiet (idleMs ${idleMs}):\n${s.logs.join('\n')}`);
  }
  // A skip is logged before its commit: under load the released vectors land a moment later.
  while (!(served(0) > 0 && served(1) > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(served(0) > 0 && served(1) > 0, 'the skips released transactions');
});

test('a failed commit loses no record another input left in the merge: the reopened task reads that input again from its state', async (t) => {
  const s = await setup(t, twoStreams);
  let now = 1_000_000;
  // Chargebacks reported after every transaction below: partition 0's merge holds them while the transactions go through.
  const chargebacks = [0, 1, 2, 3, 4].map((i) => ({ partition: 0, value: { txn_id: `t${i}`, card_id: 'card-0', reported_at: T0 + (1000 + i) * MIN, reason: 'fraud' } }));
  const txns = (from: number, to: number): Array<{ partition: number; value: Record<string, unknown> }> =>
    Array.from({ length: to - from }, (_, k) => ({ partition: 0, value: { txn_id: `t${from + k}`, card_id: 'card-0', merchant_id: 'm1', ...eur(10), event_time: T0 + (from + k) * MIN, country: 'FR' } }));
  await produceAll(s, twoStreams, 'chargebacks', 'chargebacks', chargebacks);
  await produceAll(s, twoStreams, 'transactions', 'transactions', txns(0, 20));
  const w = await s.start('a', { maxBatch: 5, idleMs: 5000, clock: () => now });
  await s.cluster.runUntilIdle(10);
  // The next transactions' first commit fails: the task's memory, the held chargebacks with it, is dropped.
  let commits = 0;
  s.cluster.faults.beforeCommit = () => (commits++ === 0 ? new Error('broker went away mid-transaction') : undefined);
  await produceAll(s, twoStreams, 'transactions', 'transactions', txns(20, 40));
  await s.cluster.runUntilIdle(10);
  assert.ok(s.logs.some((l) => /task 0: batch not committed \(broker went away mid-transaction\); state dropped/.test(l)), s.logs.join('\n'));
  // Everything has been read; the inputs go quiet and the idle rule releases the chargebacks.
  now += 10_000;
  await w.checkIdleInputs();
  await s.cluster.runUntilIdle(10);
  await w.stop();
  // Before, the chargebacks were never fetched again, and the idle rule took their input as caught up at offset 5.
  assert.doesNotMatch(s.logs.join('\n'), /merge skip \d+: input chargebacks/);
  assert.equal(s.cluster.committedRecords('chargeback_features', 0).length, chargebacks.length, 'every chargeback served');
  assert.equal(s.cluster.groupOffset(GROUP, 'chargebacks', 0), chargebacks.length);
  assert.equal(s.cluster.committedRecords('card_features', 0).length, 40);
});
