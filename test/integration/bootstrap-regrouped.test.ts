/**
 * Bootstrap of regrouped topologies end to end on the local stack: `skewless bootstrap --no-run`
 * replays the first part of an input into fresh state, with each regroup partition's state as
 * of the end of that history; `skewless run` on that state and group then serves the second
 * part. Its vectors must equal, per (partition, offset) and byte for byte, the rows a replay of
 * the whole topic computes for the second part: none lost, none duplicated, none different, none
 * for what the state had applied.
 *
 * - topologies/flight-network.ts (the destination's features through `regroupBy('dest')`, as of
 *   5 minutes before, grace 1 h): the second part starts where the first ends, so its first
 *   hours read destination windows holding the history's last events, some still held (not
 *   applied) when the state was handed over. A hand-over without held updates, with the held
 *   queries, or after replay's end-of-input watermarks fails here.
 * - topologies/card-fraud.ts (merchant features and a merchant risk-tier table keyed by
 *   merchant, both regrouped; the table co-partitioned with the transactions in each task's
 *   merge): every tier version is produced before the history, so the table runs days ahead of
 *   the transactions. Live would hold those versions in the merge; a bootstrap that applied them
 *   at the end of the history would move stream time past the second part and make it late.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { buildProgram, type OutputProgram } from '../../src/engine/program.js';
import { readRegroupMessage } from '../../src/engine/regroup-codec.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { readTopicRanges } from '../../src/io/kafka/topic-reader.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import type { CompiledPlan } from '../../src/plan/compile.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { ByteReader } from '../../src/state/codec.js';
import { LevelBackend } from '../../src/state/state-backend.js';
import { taskStateDir } from '../../src/state/task-state-dir.js';
import { assemblerMetaKey, regroupHeldPrefix, regroupMetaKey } from '../../src/state/task-state-keys.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import {
  BIN,
  compareVectors,
  exited,
  inputCommitted,
  produceInSlices,
  readLiveVectors,
  readReplayVectors,
  ROOT,
  spawnSkewless,
  stopLeftoverWorkers,
  until,
  type Worker,
} from '../helpers/live-run.js';
import { stackForTests } from '../helpers/stack.js';
import { arrayBuffer } from '../helpers/training-files.js';
import { sliceFlights } from '../helpers/python-expected.js';

const stack = await stackForTests();
const M = 60_000;
const H = 60 * M;

const dir = mkdtempSync(join(tmpdir(), 'skewless-bootstrap-regrouped-'));
const run = randomUUID().slice(0, 8);
const workers: Worker[] = [];
/** Topics and groups the tests created, removed at the end. */
const created = { topics: [] as string[], groups: [] as string[] };

test.after(async () => {
  await stopLeftoverWorkers(workers);
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, created.topics, created.groups);
});

/** One test's names: its group, its state root and the topics `run` creates for the group. */
function names(plan: CompiledPlan, name: string, topics: readonly string[]): { readonly group: string; readonly state: string; readonly side: string } {
  const group = `bootrg-${name}-${run}`;
  const side = `bootrg-${name}-${run}`;
  created.groups.push(group);
  created.topics.push(...topics, `${side}-late`, `${side}-dead-letters`, `${group}-${plan.version}-changelog`, `${group}-${plan.version}-regroup`, `${group}-${plan.version}-regroup-answers`);
  return { group, state: join(dir, name, 'state'), side };
}

function skewless(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: stack.env, timeout: 180_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface Handoff {
  /** Per engine source topic, partition → the offset live starts from. */
  readonly offsets: ReadonlyMap<string, ReadonlyMap<number, number>>;
  readonly processed: number;
}

/** `skewless bootstrap --no-run --json` into fresh state: where live starts. */
async function bootstrapNoRun(file: string, state: string, group: string, topicArgs: readonly string[], extra: readonly string[] = []): Promise<Handoff> {
  const boot = await skewless(['bootstrap', file, '--state', state, '--group', group, ...topicArgs, '--no-run', '--json', ...extra]);
  assert.equal(boot.code, 0, boot.stderr);
  const summary = JSON.parse(boot.stdout) as { offsets: Array<{ topic: string; partition: number; offset: number }>; replay: { counters: { processed: number } } };
  const offsets = new Map<string, Map<number, number>>();
  for (const o of summary.offsets) offsets.set(o.topic, (offsets.get(o.topic) ?? new Map<number, number>()).set(o.partition, o.offset));
  return { offsets, processed: summary.replay.counters.processed };
}

/** What bootstrap left in task p's store for regroup partition p and the row assembler. */
async function regroupState(state: string, p: number): Promise<{ frontier: number; updates: Array<{ key: string; t: number }>; queries: number; assembler: boolean }> {
  const backend = await LevelBackend.open(taskStateDir(state, p));
  try {
    const [meta, assembler] = await backend.getMany([regroupMetaKey(p), assemblerMetaKey(p)]);
    assert.ok(meta, `task ${p} holds regroup partition ${p}'s checkpoint`);
    const frontier = Number((JSON.parse(new TextDecoder().decode(meta)) as { frontier: string }).frontier);
    const updates: Array<{ key: string; t: number }> = [];
    let queries = 0;
    for (const [, v] of await backend.scan(regroupHeldPrefix(p))) {
      for (const r = new ByteReader(v); !r.done; ) {
        const msg = readRegroupMessage(r);
        if (msg.kind === 'query') queries++;
        else if (msg.kind === 'update' && msg.t >= frontier) updates.push({ key: msg.key, t: msg.t });
      }
    }
    return { frontier, updates, queries, assembler: assembler !== undefined };
  } finally {
    await backend.close();
  }
}

/** Every key of a (changelog) topic. */
async function topicKeys(topic: string): Promise<Set<string>> {
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  try {
    const keys = new Set<string>();
    const ranges = (await fetchOffsets(conn, topic)).map((p) => ({ topic, partition: p.partition, start: p.low, end: p.high }));
    for await (const b of readTopicRanges(conn, ranges)) for (const r of b.records) if (r.key !== null) keys.add(r.key.toString('utf8'));
    return keys;
  } finally {
    await conn.close();
  }
}

interface LiveCheck {
  readonly plan: CompiledPlan;
  readonly file: string;
  readonly output: OutputProgram;
  readonly names: ReturnType<typeof names>;
  readonly partitions: number;
  /** `--topic` and `--output-topic` flags. */
  readonly topicArgs: readonly string[];
  readonly outputTopic: string;
  /** The stream whose records are the rows, and source → topic for the replay. */
  readonly stream: string;
  readonly topics: Readonly<Record<string, string>>;
  readonly handoff: Handoff;
  /** Produces the input after the history while the worker runs. */
  readonly produceRest: () => Promise<void>;
}

/**
 * Live on the bootstrapped state and group while the rest of the input arrives, then its
 * vectors against a replay of the whole topic, restricted to the records the state had not
 * applied. Returns the replay's rows (all of them) and how many vectors were compared.
 */
async function serveAndCompare(c: LiveCheck): Promise<{ replayed: Map<string, Record<string, unknown>>; isNew: (id: string) => boolean; compared: number }> {
  const w = spawnSkewless(['run', c.file, '--state', c.names.state, '--group', c.names.group, ...c.topicArgs, '--side-prefix', c.names.side, '--idle-ms', '2000'], stack.env);
  workers.push(w);
  await until('the live worker to start its tasks', [w], () => /task \d+ ready/.test(w.log));
  await c.produceRest();
  const out = join(dir, `${c.names.group}-replay`);
  const full = await replayKafka({ plan: c.plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: c.topics, out, workers: 1 });
  const replayed = await readReplayVectors(out, c.output.name);
  const from = c.handoff.offsets.get(c.topics[c.stream])!;
  const isNew = (id: string): boolean => {
    const [p, offset] = id.split('/').map(Number);
    return offset >= from.get(p)!;
  };
  const newRows = new Map([...replayed].filter(([id]) => isNew(id)));
  assert.ok(newRows.size > 0 && full.counters.processed > c.handoff.processed);
  await inputCommitted(stack.brokers, c.names.group, c.topics[c.stream], [w]);
  // Rows leave once their regrouped answers are back, the last after every task is quiet for --idle-ms.
  const served = async (): Promise<number> => new Set((await readLiveVectors(stack.brokers, stack.registryUrl, c.output, c.outputTopic)).map((v) => v.id)).size;
  await until(`a vector for each of the ${newRows.size} records after the history`, [w], async () => (await served()) >= newRows.size, 90_000, 1000);
  w.kill('SIGTERM');
  assert.equal(await exited(w), 0, w.log);
  assert.doesNotMatch(w.log, /does not hold|rebuilding local state/, 'the bootstrapped state was used as is');
  // The regrouped state went to the changelog with the rest of each store, as restores need it.
  assert.equal((w.log.match(/local state is not in changelog .* yet; publishing it with the first commit/g) ?? []).length, c.partitions, w.log);
  const keys = await topicKeys(`${c.names.group}-${c.plan.version}-changelog`);
  for (let p = 0; p < c.partitions; p++) assert.ok(keys.has(regroupMetaKey(p)), `the changelog holds ${regroupMetaKey(p)}`);

  const live = await readLiveVectors(stack.brokers, stack.registryUrl, c.output, c.outputTopic);
  const cmp = compareVectors(live, newRows, c.output);
  assert.deepEqual(
    { lost: cmp.lost, duplicates: cmp.duplicates, divergent: cmp.divergent, unexpected: cmp.unexpected, misplaced: cmp.misplaced },
    { lost: 0, duplicates: 0, divergent: 0, unexpected: 0, misplaced: 0 },
    cmp.examples.join('\n'),
  );
  assert.equal(live.length, newRows.size);
  return { replayed, isNew, compared: cmp.valuesCompared };
}

interface Flight {
  date: Date;
  delay: bigint;
  distance: bigint;
  origin: string;
  destination: string;
}

test('flight-network: held updates handed over, held queries not, before the end of input; live after the history equals a replay of everything', { timeout: 600_000 }, async (ctx) => {
  const HISTORY = 6_000;
  const NEW = 3_000;
  const PARTITIONS = 3;
  const slice = join(dir, 'flights.parquet');
  sliceFlights(slice, HISTORY + NEW);
  const plan = await loadTopology(join(ROOT, 'topologies/flight-network.ts'));
  const output = buildProgram(plan).outputs.find((o) => o.name === 'flight_features')!;
  const t = { flights: `bootrg-flights-${run}`, features: `bootrg-features-${run}` };
  const n = names(plan, 'flights', Object.values(t));
  const flights = (await parquetReadObjects({ file: arrayBuffer(readFileSync(slice)) })) as unknown as Flight[];
  assert.equal(flights.length, HISTORY + NEW);
  const parts = [flights.slice(0, HISTORY), flights.slice(HISTORY)].map((part, i) => {
    const file = join(dir, `flights-${i}.ndjson`);
    writeFileSync(file, `${part.map((f) => JSON.stringify({ date: f.date.getTime(), delay: Number(f.delay), distance: Number(f.distance), origin: f.origin, destination: f.destination })).join('\n')}\n`);
    return file;
  });
  const historyEnd = flights[HISTORY - 1].date.getTime();

  // 1. The history, bootstrapped without running live; the replay's training output kept.
  await produceFile({ plan, source: 'flights', input: parts[0], topic: t.flights, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });
  const bootOut = join(dir, 'flights-bootstrap-out');
  const handoff = await bootstrapNoRun('topologies/flight-network.ts', n.state, n.group, ['--topic', `flights=${t.flights}`], ['--out', bootOut]);
  assert.equal(handoff.processed, HISTORY);
  assert.equal([...handoff.offsets.get(t.flights)!.values()].reduce((a, b) => a + b, 0), HISTORY, 'one source: the whole history is applied');

  // What was handed over: per regroup partition, held updates at or above its frontier and no
  // held query (their rows are history); no row assembler state.
  const handed = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => regroupState(n.state, p)));
  for (const [p, s] of handed.entries()) {
    assert.equal(s.queries, 0, `regroup partition ${p}: no held query handed over`);
    assert.ok(s.updates.length > 0, `regroup partition ${p}: held updates handed over`);
    assert.ok(Number.isFinite(s.frontier) && s.frontier <= historyEnd - H, `regroup partition ${p}: frontier ${s.frontier} is the origins' real watermarks, not the end of input`);
    assert.equal(s.assembler, false, `task ${p}: the row assembler starts empty`);
  }
  // Part of the second part reads windows holding those held updates (by the definition: a
  // destination's flights in (t − 5 min − W, t − 5 min], W = 24 h for the mean).
  const held = handed.flatMap((s) => s.updates);
  const readsHeld = flights.slice(HISTORY).filter((f) => {
    const at = f.date.getTime() - 5 * M;
    return at < historyEnd + H && held.some((u) => u.key === f.destination && u.t > at - 24 * H && u.t <= at);
  }).length;
  assert.ok(readsHeld > 20, `second-part flights within grace of the history's end read held updates (${readsHeld})`);
  ctx.diagnostic(`handed over: ${held.length} held updates; ${readsHeld} new flights read them`);

  // 2. Live while the second part arrives, against a replay of both parts.
  mkdirSync(join(dir, 'flight-slices'));
  const { replayed, isNew, compared } = await serveAndCompare({
    plan,
    file: 'topologies/flight-network.ts',
    output,
    names: n,
    partitions: PARTITIONS,
    topicArgs: ['--topic', `flights=${t.flights}`, '--output-topic', `flight_features=${t.features}`],
    outputTopic: t.features,
    stream: 'flights',
    topics: { flights: t.flights },
    handoff,
    produceRest: async () => {
      const produced = await produceInSlices({ plan, source: 'flights', input: parts[1], topic: t.flights, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl, dir: join(dir, 'flight-slices'), slices: 4, pauseMs: 1000 });
      assert.equal(produced, NEW);
    },
  });
  ctx.diagnostic(`${compared} values of ${NEW} new flights compared`);

  // 3. The bootstrap's own training output is the replay's for the history: pass 2 still
  // answered every row after the hand-over.
  const bootRows = await readReplayVectors(bootOut, output.name);
  assert.equal(bootRows.size, HISTORY);
  const served = output.columns.filter((c) => c.role !== 'label').map((c) => c.name);
  const plain = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.getTime() : (v ?? null));
  for (const [id, row] of bootRows) {
    const want = replayed.get(id);
    assert.ok(want && !isNew(id), `bootstrap row ${id} is a history row of the replay`);
    for (const c of served) assert.ok(Object.is(plain(row[c]), plain(want[c])), `${id} ${c}: bootstrap ${String(row[c])} vs replay ${String(want[c])}`);
  }
});

test('card-fraud: a table running ahead of the stream stays in the merge at the hand-over, as live holds it; live after the history equals a replay of everything', { timeout: 600_000 }, async (ctx) => {
  const PARTITIONS = 3;
  const HISTORY = 4_500;
  const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
  const output = buildProgram(plan).outputs.find((o) => o.name === 'card_features')!;
  const t = { transactions: `bootrg-tx-${run}`, chargebacks: `bootrg-cb-${run}`, merchant_tiers: `bootrg-tiers-${run}`, features: `bootrg-cf-${run}`, daily: `bootrg-daily-${run}` };
  const n = names(plan, 'cards', Object.values(t));
  const data = await writeCardDataset({ outDir: join(dir, 'cards'), events: 6_000, seed: 11, format: 'ndjson' });
  const lines = readFileSync(data.transactionsPath, 'utf8').split('\n').filter((l) => l !== '');
  const parts = [lines.slice(0, HISTORY), lines.slice(HISTORY)].map((part, i) => {
    const file = join(dir, `cards-${i}.ndjson`);
    writeFileSync(file, `${part.join('\n')}\n`);
    return file;
  });
  const produce = (source: keyof typeof t, input: string): Promise<unknown> => produceFile({ plan, source, input, topic: t[source], partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });
  await produce('merchant_tiers', data.merchantTiersPath);
  await produce('chargebacks', data.chargebacksPath);
  await produce('transactions', parts[0]);
  const sourceArgs = ['--topic', `transactions=${t.transactions}`, '--topic', `chargebacks=${t.chargebacks}`, '--topic', `merchant_tiers=${t.merchant_tiers}`];

  const handoff = await bootstrapNoRun('topologies/card-fraud.ts', n.state, n.group, sourceArgs);
  const tiersLeft = [...handoff.offsets.get(t.merchant_tiers)!.values()].reduce((a, b) => a + b, 0);
  assert.ok(tiersLeft < data.merchantTiers, `tier versions ahead of the transactions are left for live (${data.merchantTiers - tiersLeft} of ${data.merchantTiers})`);
  assert.equal(handoff.processed, tiersLeft + [...handoff.offsets.get(t.transactions)!.values()].reduce((a, b) => a + b, 0), 'applied = the handoff offsets');
  ctx.diagnostic(`${data.merchantTiers - tiersLeft} of ${data.merchantTiers} tier versions left in the merge at the hand-over`);

  const { compared } = await serveAndCompare({
    plan,
    file: 'topologies/card-fraud.ts',
    output,
    names: n,
    partitions: PARTITIONS,
    topicArgs: [...sourceArgs, '--output-topic', `card_features=${t.features}`, '--output-topic', `card_daily_spend=${t.daily}`],
    outputTopic: t.features,
    stream: 'transactions',
    topics: { transactions: t.transactions, chargebacks: t.chargebacks, merchant_tiers: t.merchant_tiers },
    handoff,
    produceRest: async () => void (await produce('transactions', parts[1])),
  });
  ctx.diagnostic(`${compared} values of the transactions after the history compared`);
});
