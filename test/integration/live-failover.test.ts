/**
 * State follows its partition between hosts. Two workers, each with its own --state root (as on
 * two machines), take turns on the partitions of one group: one joins mid-stream (its tasks have
 * no local state: restore from the changelog), one leaves cleanly, comes back with a copy that
 * is behind (catch-up) and one of its task stores full of garbage (rebuild), the other is killed
 * with SIGKILL. Every vector read with read_committed must equal the offline replay: none lost,
 * none duplicated, none different. Before changelog-backed state, the joining worker computed
 * from empty state (thousands of wrong vectors) and garbage made the worker crash-loop.
 * card-fraud's merchant features and risk tier go through a regrouping, so its repartition and
 * answers topics move with the partitions too; its table of tier versions is produced first and
 * the workers run with an --idle-ms longer than the test's pauses (PAUSING_IDLE_MS says why), and
 * they stop only once every row the replay computes has been served (the last rows wait for the
 * idle rule).
 *
 * A second test: a record the output topic's broker refuses for good (a timestamp beyond the
 * topic's message.timestamp.after.max.ms) goes to the dead-letter topic with the reason, and
 * the other vectors of its batch are committed; before, the whole batch's outputs were lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram, type OutputProgram } from '../../src/engine/program.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { deleteTopics, ensureTopic, fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { readTopicRanges } from '../../src/io/kafka/topic-reader.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { compareVectors, exited, inputCommitted, readLiveVectors, readReplayVectors, ROOT, sleep, spawnSkewless, stopLeftoverWorkers, until, type Worker } from '../helpers/live-run.js';
import { cardRunTopics, cardTopicArgs, liveInternalTopics, merchantCoverage, ndjsonLines, produceCardInputs, produceLines } from '../helpers/card-inputs.js';
import { servedAll } from '../helpers/live-served.js';
import { stackForTests } from '../helpers/stack.js';
import { readTaskCheckpoints } from '../helpers/task-checkpoints.js';

const stack = await stackForTests();
const PARTITIONS = 4;
const dir = mkdtempSync(join(tmpdir(), 'skewless-failover-'));
const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
const output = buildProgram(plan).outputs[0];
/** Two event streams in one task: transactions and chargebacks (the idle-skip test). */
const twoStreams = await loadTopology(join(ROOT, 'test/fixtures/two-streams.ts'));
const created: string[] = [];
/** Every worker this file started: one still running when a test fails is killed on the way out. */
const workers: Worker[] = [];

test.after(async () => {
  await stopLeftoverWorkers(workers);
  rmSync(dir, { recursive: true, force: true });
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  try {
    await deleteTopics(conn, created);
  } finally {
    await conn.close();
  }
});

interface Topics {
  readonly transactions: string;
  readonly chargebacks: string;
  readonly merchant_tiers: string;
  readonly features: string;
  readonly daily: string;
  readonly side: string;
  readonly group: string;
}

function topicsFor(name: string): Topics {
  const run = randomUUID().slice(0, 8);
  // card-fraud reads the merchant tiers too.
  const t = { ...cardRunTopics(name, run), merchant_tiers: `${name}-tiers-${run}` };
  created.push(t.transactions, t.chargebacks, t.merchant_tiers, t.features, t.daily, `${t.side}-late`, `${t.side}-dead-letters`, ...liveInternalTopics(t.group, plan), ...liveInternalTopics(t.group, twoStreams));
  return t;
}

/**
 * --idle-ms of card-fraud workers in the tests that pause their input while workers run (a
 * worker starting or leaving between two slices): longer than any such pause. card-fraud's tasks
 * merge the tier table with the transactions, and a task whose transactions are caught up and
 * quiet this long releases the table versions it holds (a merge skip), moving its stream time to
 * the latest of them; the next slice's transactions older than that are then late live but not
 * in replay. These tests produce the whole table first, so tasks hold versions ahead of their
 * transactions, never transactions waiting for the table, and nothing is skipped until the input
 * ends (where a skip releases what replay's end of input releases). Tier versions in step with
 * the slices do not help here: a slice's last transactions then wait for the table until it has
 * been quiet this long, so the next slice's versions, arriving before its transactions, were
 * released by a skip at once (the shared-root test with 15 s: stream time from 2026-02-07 to
 * 2026-03-14 in one skip, and the second slice's rows late).
 */
const PAUSING_IDLE_MS = 30_000;

function worker(t: Topics, state: string, extra: readonly string[] = [], topologyFile = 'topologies/card-fraud.ts', idleMs = 1000): Worker {
  const cardFraud = topologyFile === 'topologies/card-fraud.ts';
  const second = cardFraud ? 'card_daily_spend' : 'chargeback_features';
  const w = spawnSkewless(
    [
      'run',
      topologyFile,
      '--state',
      state,
      '--group',
      t.group,
      // two-streams has no tier table.
      ...cardTopicArgs(cardFraud ? t : { transactions: t.transactions, chargebacks: t.chargebacks }),
      '--output-topic',
      `card_features=${t.features}`,
      '--output-topic',
      `${second}=${t.daily}`,
      '--side-prefix',
      t.side,
      '--session-timeout-ms',
      '6000',
      '--idle-ms',
      String(idleMs),
      '--max-batch',
      '97',
      ...extra,
    ],
    stack.env,
  );
  workers.push(w);
  return w;
}

/** Wait until the group has committed every input offset of the transactions (the workers caught up). */
const caughtUp = (t: Topics, workers: readonly Worker[]): Promise<void> => inputCommitted(stack.brokers, t.group, t.transactions, workers);

async function produceSlice(t: Topics, lines: readonly string[], name: string, p = plan, source = 'transactions'): Promise<void> {
  const topic = source === 'transactions' ? t.transactions : t.merchant_tiers;
  await produceLines({ plan: p, source, lines, file: join(dir, `${name}.ndjson`), topic, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl, batchSize: 300 });
}

/** The i-th of n equal slices of `lines`, in file (arrival) order. */
const sliceOf = (lines: readonly string[], i: number, n: number): string[] => lines.slice(Math.floor((i * lines.length) / n), Math.floor(((i + 1) * lines.length) / n));

const cardOutput = (p: typeof plan): OutputProgram => buildProgram(p).outputs.find((o) => o.name === 'card_features')!;

/** The offline replay of the test's topics: its rows by `<partition>/<offset>`. */
async function replay(t: Topics, p = plan): Promise<Map<string, Record<string, unknown>>> {
  const out = join(dir, `replay-${t.group}`);
  const topics: Record<string, string> = { transactions: t.transactions, chargebacks: t.chargebacks };
  // two-streams has no tier table.
  if (p === plan) topics.merchant_tiers = t.merchant_tiers;
  await replayKafka({ plan: p, brokers: stack.brokers, registryUrl: stack.registryUrl, topics, out, workers: 1 });
  return readReplayVectors(out, cardOutput(p).name);
}

/** Wait while `ws` run until they have served every replayed row but those in `except`. */
async function serve(t: Topics, replayed: ReadonlyMap<string, unknown>, ws: readonly Worker[], except: ReadonlySet<string> = new Set()): Promise<void> {
  await servedAll({ brokers: stack.brokers, registryUrl: stack.registryUrl, output, topic: t.features, expected: [...replayed.keys()].filter((id) => !except.has(id)), workers: ws });
}

async function compareWithReplay(t: Topics, replayed: ReadonlyMap<string, Record<string, unknown>>, p = plan): Promise<ReturnType<typeof compareVectors>> {
  const out = cardOutput(p);
  return compareVectors(await readLiveVectors(stack.brokers, stack.registryUrl, out, t.features), replayed, out);
}

test('task state follows its partition between workers with separate state roots: join, clean leave, stale and garbage local copies, SIGKILL', { timeout: 300_000 }, async () => {
  const t = topicsFor('failover');
  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: 6000, seed: 11, format: 'ndjson' });
  // The labels and the whole tier table first (see PAUSING_IDLE_MS); the transactions in four slices.
  await produceCardInputs({ plan, data, topics: { chargebacks: t.chargebacks, merchant_tiers: t.merchant_tiers }, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });
  const lines = ndjsonLines(data.transactionsPath);
  const rootA = join(dir, 'host-a');
  const rootB = join(dir, 'host-b');

  await produceSlice(t, sliceOf(lines, 0, 4), 's0');
  let a = worker(t, rootA, [], undefined, PAUSING_IDLE_MS);
  await caughtUp(t, [a]);
  // B joins with no local state: the partitions it gets are restored from the changelog.
  const b = worker(t, rootB, [], undefined, PAUSING_IDLE_MS);
  while (!/assigned partitions \d/.test(b.log)) await sleep(200);
  await produceSlice(t, sliceOf(lines, 1, 4), 's1');
  await caughtUp(t, [a, b]);
  // A leaves cleanly; B takes everything (restores what it never had).
  a.kill('SIGTERM');
  assert.equal(await exited(a), 0, a.log);
  await produceSlice(t, sliceOf(lines, 2, 4), 's2');
  await caughtUp(t, [b]);
  // A's copy is now behind for every task; one of its task stores also turns to garbage.
  const garbageTask = readdirSync(rootA).filter((f) => f.startsWith('task-')).sort()[0];
  for (const f of readdirSync(join(rootA, garbageTask))) writeFileSync(join(rootA, garbageTask, f), 'garbage, not LevelDB\n');
  a = worker(t, rootA, [], undefined, PAUSING_IDLE_MS);
  while (!/assigned partitions \d/.test(a.log)) await sleep(200);
  // B dies without leaving: after the session timeout A owns every partition again.
  b.kill('SIGKILL');
  await exited(b);
  await produceSlice(t, sliceOf(lines, 3, 4), 's3');
  await caughtUp(t, [a]);
  const replayed = await replay(t);
  // Committed input offsets are not all: the merchant columns of the last rows wait for the idle rule.
  await serve(t, replayed, [a]);
  a.kill('SIGTERM');
  assert.equal(await exited(a), 0, a.log);

  const cmp = await compareWithReplay(t, replayed);
  assert.ok(cmp.expected > 5000, `replay computed ${cmp.expected} vectors`);
  // The merchant columns (regrouped) are compared with real values, not nulls on both sides.
  const merchants = merchantCoverage(replayed.values());
  assert.ok(merchants.withTier > merchants.rows * 0.9 && merchants.withMerchantHistory > merchants.rows * 0.5, `merchant values in the rows compared: ${JSON.stringify(merchants)}`);
  assert.deepEqual(
    { lost: cmp.lost, duplicates: cmp.duplicates, divergent: cmp.divergent, unexpected: cmp.unexpected, misplaced: cmp.misplaced },
    { lost: 0, duplicates: 0, divergent: 0, unexpected: 0, misplaced: 0 },
    cmp.examples.join('\n'),
  );
  const logs = `${a.log}\n${b.log}`;
  assert.match(logs, /rebuilding local state from changelog .* because there is no local copy/, 'B restored tasks it never had');
  assert.match(logs, /catching up done: [1-9]/, "A's stale copies caught up from the changelog");
  assert.match(logs, /rebuilding local state from changelog .* because the local store (cannot be opened|is unreadable)/, 'the garbage store was rebuilt');
  assert.doesNotMatch(logs, /fetched from offset \d+ but the state needs/, 'the group offsets never disagreed with the state');
});

test('a vector the output topic refuses (timestamp past message.timestamp.after.max.ms) is dead-lettered with the reason; the rest of its batch is committed', { timeout: 120_000 }, async () => {
  const t = topicsFor('refused');
  const data = await writeCardDataset({ outDir: join(dir, 'data-refused'), events: 300, seed: 3, format: 'ndjson' });
  await produceCardInputs({ plan, data, topics: { chargebacks: t.chargebacks }, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });
  // The feature topic exists already with the broker's default timestamp bounds (after.max.ms = 1 h in Kafka 4).
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  await ensureTopic(conn, t.features, PARTITIONS);
  await conn.close();
  // The data moved to end a day ago, and its last record dated 3 days ahead of now: within the
  // source's maxFutureSkew (30 days), so the engine serves it, but past what the topic accepts.
  const parsed = ndjsonLines(data.transactionsPath).map((l) => JSON.parse(l) as Record<string, number>);
  const shift = Date.now() - 24 * 3600 * 1000 - Math.max(...parsed.map((r) => r.event_time));
  const lines = parsed.map((r) => JSON.stringify({ ...r, event_time: r.event_time + shift }));
  lines[lines.length - 1] = JSON.stringify({ ...parsed[parsed.length - 1], event_time: Date.now() + 3 * 24 * 3600 * 1000 });
  // The tier versions move with the transactions (one slice: all of them, first).
  const tiers = ndjsonLines(data.merchantTiersPath).map((l) => JSON.parse(l) as Record<string, number>).map((v) => JSON.stringify({ ...v, valid_from: v.valid_from + shift }));
  await produceSlice(t, tiers, 'refused-tiers', plan, 'merchant_tiers');
  await produceSlice(t, lines, 'refused');
  // Everything is produced before it starts, so its input pauses only at the end: 1 s is enough.
  const w = worker(t, join(dir, 'refused-state'));
  await caughtUp(t, [w]);
  // The refused vector is the last record's (3 days ahead); the others are served, it is dead-lettered.
  const replayed = await replay(t);
  const last = JSON.parse(lines[lines.length - 1]) as { event_time: number };
  const refusedIds = new Set([...replayed].filter(([, row]) => Number(row.event_time instanceof Date ? row.event_time.getTime() : row.event_time) === last.event_time).map(([id]) => id));
  assert.equal(refusedIds.size, 1, 'the last record has a replayed vector');
  await serve(t, replayed, [w], refusedIds);
  const dead: Array<{ reason: string; offset: string }> = [];
  const refusedDeadLetters = (): Array<{ reason: string; offset: string }> => dead.filter((d) => /message\.timestamp\.after\.max\.ms/.test(d.reason));
  await until('the refused vector in the dead-letter topic', [w], async () => {
    dead.length = 0;
    const c2 = await KafkaConnection.open({ brokers: stack.brokers });
    try {
      const ranges = (await fetchOffsets(c2, `${t.side}-dead-letters`).catch(() => [])).map((p) => ({ topic: `${t.side}-dead-letters`, partition: p.partition, start: p.low, end: p.high }));
      for await (const batch of readTopicRanges(c2, ranges)) for (const r of batch.records) dead.push({ reason: r.headers['skewless-reason'] ?? '', offset: r.headers['skewless-offset'] ?? '' });
    } finally {
      await c2.close();
    }
    return refusedDeadLetters().length > 0;
  }, 60_000, 1000);
  w.kill('SIGTERM');
  assert.equal(await exited(w), 0, w.log);

  const cmp = await compareWithReplay(t, replayed);
  const refused = refusedDeadLetters();
  assert.equal(refused.length, 1, `one refused vector dead-lettered: ${JSON.stringify(dead)}`);
  // Every replayed vector is served but the refused one, which is in the dead-letter topic instead.
  assert.equal(cmp.lost, 1, cmp.examples.join('\n'));
  assert.deepEqual({ duplicates: cmp.duplicates, divergent: cmp.divergent }, { duplicates: 0, divergent: 0 }, cmp.examples.join('\n'));
});

test('a source that stays empty is skipped by the rule: only when caught up and idle, each skip logged and counted once', { timeout: 120_000 }, async () => {
  const t = topicsFor('idle');
  const data = await writeCardDataset({ outDir: join(dir, 'data-idle'), events: 2000, seed: 5, format: 'ndjson' });
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  await ensureTopic(conn, t.chargebacks, PARTITIONS); // exists, never written
  await conn.close();
  const lines = readFileSync(data.transactionsPath, 'utf8').split('\n').filter((l) => l !== '');
  await produceSlice(t, lines.slice(0, 1000), 'idle-0', twoStreams);
  const state = join(dir, 'idle-state');
  const w = worker(t, state, [], 'test/fixtures/two-streams.ts');
  await caughtUp(t, [w]);
  await produceSlice(t, lines.slice(1000), 'idle-1', twoStreams);
  await caughtUp(t, [w]);
  w.kill('SIGTERM');
  assert.equal(await exited(w), 0, w.log);

  const skips = [...w.log.matchAll(/task (\d+): merge skip (\d+): input chargebacks \(\S+\) caught up at offset 0 and idle (\d+) ms; released (\d+) held records/g)];
  assert.ok(skips.length >= PARTITIONS, `every partition needed a skip to serve anything: ${w.log}`);
  for (const s of skips) assert.ok(Number(s[3]) >= 1000, `skipped only after --idle-ms: ${s[0]}`);
  assert.doesNotMatch(w.log, /merge skips? [\d–]+: input transactions/, 'the input holding records is never skipped');
  // Skips soon after a logged one are logged together (`merge skips 2–5 (4 skips): input
  // chargebacks still caught up and idle`). The counter (checkpointed with the state) equals
  // the skips logged, per task, each numbered once in order.
  const gathered = [...w.log.matchAll(/task (\d+): merge skips? (\d+)(?:–(\d+) \(\d+ skips\))?: input chargebacks still caught up and idle/g)];
  const metas = await readTaskCheckpoints(state);
  for (const m of metas) {
    const numbers: Array<readonly [number, number]> = [
      ...skips.filter((s) => Number(s[1]) === m.partition).map((s) => [w.log.indexOf(s[0]), Number(s[2])] as const),
      ...gathered.filter((g) => Number(g[1]) === m.partition).flatMap((g) => Array.from({ length: Number(g[3] ?? g[2]) - Number(g[2]) + 1 }, (_, k) => [w.log.indexOf(g[0]), Number(g[2]) + k] as const)),
    ].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    assert.equal(m.counters.mergeSkips, numbers.length, `partition ${m.partition}: counted skips = logged skips`);
    assert.deepEqual(numbers.map(([, n]) => n), numbers.map((_, i) => i + 1), 'skips numbered 1, 2, ... per task');
  }
  const cmp = await compareWithReplay(t, await replay(t, twoStreams), twoStreams);
  assert.ok(cmp.expected > 1900, `replay computed ${cmp.expected} vectors`);
  assert.deepEqual({ lost: cmp.lost, duplicates: cmp.duplicates, divergent: cmp.divergent }, { lost: 0, duplicates: 0, divergent: 0 }, cmp.examples.join('\n'));
});

test('workers sharing one --state root (processes on one host) each open only their own tasks', { timeout: 180_000 }, async () => {
  const t = topicsFor('shared');
  const data = await writeCardDataset({ outDir: join(dir, 'data-shared'), events: 3000, seed: 8, format: 'ndjson' });
  // The labels and the whole tier table first (see PAUSING_IDLE_MS); the transactions in two slices.
  await produceCardInputs({ plan, data, topics: { chargebacks: t.chargebacks, merchant_tiers: t.merchant_tiers }, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });
  const lines = ndjsonLines(data.transactionsPath);
  await produceSlice(t, sliceOf(lines, 0, 2), 'shared-0');
  const root = join(dir, 'shared-root');
  const a = worker(t, root, [], undefined, PAUSING_IDLE_MS);
  const b = worker(t, root, [], undefined, PAUSING_IDLE_MS);
  await caughtUp(t, [a, b]);
  await produceSlice(t, sliceOf(lines, 1, 2), 'shared-1');
  b.kill('SIGTERM');
  assert.equal(await exited(b), 0, b.log);
  await caughtUp(t, [a]);
  const replayed = await replay(t);
  await serve(t, replayed, [a]);
  a.kill('SIGTERM');
  assert.equal(await exited(a), 0, a.log);
  assert.doesNotMatch(`${a.log}${b.log}`, /LOCK|Resource temporarily unavailable/, 'no worker opened a store another one holds');
  const cmp = await compareWithReplay(t, replayed);
  assert.deepEqual({ lost: cmp.lost, duplicates: cmp.duplicates, divergent: cmp.divergent }, { lost: 0, duplicates: 0, divergent: 0 }, cmp.examples.join('\n'));
});
