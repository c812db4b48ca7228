/**
 * Live regrouping without a broker (src/modes/live/memory-cluster.ts: transactions with
 * read_committed visibility, fencing, a consumer group): topologies/flight-network.ts served
 * through the repartition and answers topics, checked against plain loops over all flights
 * (the definition in the issue, not the engine), every flight's vector exactly once, however
 * fetches interleave, commits fail and partitions move between workers with their own state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../../src/engine/program.js';
import { writeRegroupAnswer } from '../../src/engine/regroup-codec.js';
import { featureRecordSchema } from '../../src/io/avro/feature-record-schema.js';
import { WireDecoder } from '../../src/io/avro/wire-decoder.js';
import { WireEncoder } from '../../src/io/avro/wire-encoder.js';
import { startLiveWorkerOn, type LiveOptions, type LiveWorker } from '../../src/modes/live-worker.js';
import { MemoryCluster, MemorySchemaRegistry } from '../../src/modes/live/memory-cluster.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { ByteWriter } from '../../src/state/codec.js';
import { mulberry32 } from '../helpers/prng.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const plan = await loadTopology(join(ROOT, 'topologies/flight-network.ts'));
const PARTITIONS = 3;
const GROUP = 'g';
const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2001, 0, 1);
const AIRPORTS = ['ATL', 'BOS', 'DEN', 'LAX', 'ORD', 'SEA', 'SFO'];

interface Flight {
  readonly partition: number;
  readonly offset: number;
  readonly date: number;
  readonly delay: number;
  readonly origin: string;
  readonly destination: string;
}

/**
 * Flights over ~2 days; each origin's flights in one partition (the partition key), departure
 * times unique, some out of order by up to 40 min (inside the 1 h grace, so none is late).
 */
function flights(n: number, seed: number): Flight[] {
  const rnd = mulberry32(seed);
  const offsets = new Array<number>(PARTITIONS).fill(0);
  const out: Flight[] = [];
  for (let i = 0; i < n; i++) {
    const origin = AIRPORTS[Math.floor(rnd() * AIRPORTS.length)];
    let destination = AIRPORTS[Math.floor(rnd() * AIRPORTS.length)];
    if (destination === origin) destination = AIRPORTS[(AIRPORTS.indexOf(origin) + 1) % AIRPORTS.length];
    const partition = AIRPORTS.indexOf(origin) % PARTITIONS;
    // Unique times: i seconds past a 5-minute grid, minus up to 40 min for some.
    const date = T0 + i * 5 * MIN + (i % 60) * 1000 - (rnd() < 0.15 ? Math.floor(rnd() * 40) * MIN : 0);
    out.push({ partition, offset: offsets[partition]++, date, delay: Math.floor(rnd() * 120) - 20, origin, destination });
  }
  return out;
}

/** The definitions, by brute force over every flight. */
function expectedDest(all: readonly Flight[], f: Flight): { count: number; mean: number | null } {
  const at = f.date - 5 * MIN;
  let count = 0;
  let sum = 0;
  let n = 0;
  for (const g of all) {
    if (g.destination !== f.destination || g.date > at) continue;
    if (g.date > at - HOUR) count++;
    if (g.date > at - 24 * HOUR) {
      sum += g.delay;
      n++;
    }
  }
  return { count, mean: n === 0 ? null : sum / n };
}

interface Setup {
  readonly cluster: MemoryCluster;
  readonly registry: MemorySchemaRegistry;
  readonly logs: string[];
  start(state: string, extra?: Partial<LiveOptions>): Promise<LiveWorker>;
}

async function setup(t: { after: (fn: () => void) => void }): Promise<Setup> {
  const cluster = new MemoryCluster();
  const registry = new MemorySchemaRegistry();
  const dir = mkdtempSync(join(tmpdir(), 'skewless-regroup-driver-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const logs: string[] = [];
  cluster.createTopic('flights', PARTITIONS);
  return {
    cluster,
    registry,
    logs,
    start: (state, extra = {}) => startLiveWorkerOn(cluster, registry, { plan, stateDir: join(dir, state), group: GROUP, log: (l) => void logs.push(`[${state}] ${l}`), retryDeadlineMs: 60_000, ...extra }),
  };
}

async function produce(s: Setup, items: readonly Flight[]): Promise<void> {
  const schema = plan.schemas.get('flights')!.json;
  const enc = new WireEncoder(schema, await s.registry.register('flights-value', schema));
  for (const f of items) {
    const value = { date: f.date, delay: f.delay, distance: 500, origin: f.origin, destination: f.destination };
    s.cluster.produce('flights', f.partition, { key: f.origin, value: enc.encode(value).bytes!, partition: f.partition });
  }
}

/** What a read_committed reader of the feature topic sees, by input position. */
async function served(s: Setup): Promise<{ rows: Map<string, Record<string, unknown>>; duplicates: number; outOfOrder: number }> {
  const output = buildProgram(plan).outputs.find((o) => o.name === 'flight_features')!;
  const decoder = new WireDecoder(s.registry, featureRecordSchema(output.name, output.columns));
  const rows = new Map<string, Record<string, unknown>>();
  let duplicates = 0;
  let outOfOrder = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    let last = -1;
    for (const d of await decoder.decodeAll(s.cluster.committedRecords(output.topic, p).map((r) => r.value))) {
      const v = d.value as Record<string, unknown>;
      const id = `${String(v.partition)}/${String(v.offset)}`;
      if (rows.has(id)) duplicates++;
      if (Number(v.offset) < last) outOfOrder++;
      last = Number(v.offset);
      rows.set(id, v);
    }
  }
  return { rows, duplicates, outOfOrder };
}

async function assertServed(s: Setup, all: readonly Flight[]): Promise<void> {
  const { rows, duplicates, outOfOrder } = await served(s);
  assert.equal(duplicates, 0, 'no vector twice under read_committed');
  assert.equal(outOfOrder, 0, 'each partition in offset order');
  assert.equal(rows.size, all.length, `served ${rows.size} of ${all.length}`);
  for (const f of all) {
    const v = rows.get(`${f.partition}/${f.offset}`)!;
    const want = expectedDest(all, f);
    assert.equal(Number(v.dest_flights_1h), want.count, `dest_flights_1h of ${f.partition}/${f.offset}`);
    if (want.mean === null) assert.equal(v.dest_delay_mean_24h, null);
    else assert.ok(Math.abs(Number(v.dest_delay_mean_24h) - want.mean) <= 1e-9 * Math.max(1, Math.abs(want.mean)), `dest_delay_mean_24h of ${f.partition}/${f.offset}: ${String(v.dest_delay_mean_24h)} vs ${want.mean}`);
    // The derived feature runs on the assembled row: it sees the regrouped value.
    const origin = v.origin_delay_mean_24h as number | null;
    const dest = v.dest_delay_mean_24h as number | null;
    assert.equal(v.dest_minus_origin_delay_24h, dest === null || origin === null ? null : dest - origin);
  }
}

test('regrouped features served live equal the brute force, once per flight in offset order, through failed commits', async (t) => {
  const s = await setup(t);
  const all = flights(700, 3);
  await produce(s, all);
  let commits = 0;
  let failed = 0;
  s.cluster.faults.beforeCommit = () => (++commits % 5 === 0 && failed++ < 8 ? new Error('broker went away mid-transaction') : undefined);
  let now = 1_000_000;
  const w = await s.start('a', { maxBatch: 23, idleMs: 5000, clock: () => now });
  await s.cluster.runUntilIdle(37);
  // The last hour of each partition waits for the others' watermarks: released once all are caught up and idle.
  const before = (await served(s)).rows.size;
  assert.ok(before > all.length / 2 && before < all.length, `${before} of ${all.length} served before the idle rule: watermarks release most rows, the last wait`);
  now += 5000;
  await w.checkIdleInputs();
  await s.cluster.runUntilIdle(37);
  await w.stop();
  assert.ok(failed >= 8, `faults injected: ${failed}`);
  assert.ok(s.logs.some((l) => /inputs caught up and idle 5000 ms .*regrouped tasks no longer wait for it/.test(l)), s.logs.join('\n'));
  await assertServed(s, all);
  assert.equal(Number(w.metrics.get('skewless_regroup_waiting_rows', { partition: '0' })), 0);
  // Every task it owned was open (the failed batches' reopened ones too): nothing counted nowhere.
  assert.equal(w.metrics.get('skewless_tasks_not_ready'), 0);
});

test('regrouping with partitions moving between workers on separate state dirs, internal topics purged below the committed positions: restored from the changelog, served once, equal to the brute force', async (t) => {
  const s = await setup(t);
  const all = flights(900, 8);
  const thirds = [all.slice(0, 300), all.slice(300, 600), all.slice(600)];
  let now = 1_000_000;
  const clock = (): number => now;
  await produce(s, thirds[0]);
  const a = await s.start('a', { maxBatch: 29, clock });
  await s.cluster.runUntilIdle(41);
  // What a committed: its tasks never read it again, and b restores past it.
  const internal = [`${GROUP}-${plan.version}-regroup`, `${GROUP}-${plan.version}-regroup-answers`];
  const purged = await a.purgeRegroupTopics();
  assert.ok(purged > 0, 'positions were committed on the internal topics');
  for (const topic of internal) {
    const starts = Array.from({ length: PARTITIONS }, (_, p) => s.cluster.logStartOf(topic, p));
    assert.ok(starts.some((x) => x > 0), `${topic} purged: log starts ${starts.join(', ')}`);
    for (let p = 0; p < PARTITIONS; p++) assert.ok(starts[p] <= (s.cluster.groupOffset(GROUP, topic, p) ?? 0), `${topic} ${p}: nothing at or after the committed position purged`);
  }
  const b = await s.start('b', { maxBatch: 31, clock }); // joins: takes tasks it has no state for
  await produce(s, thirds[1]);
  await s.cluster.runUntilIdle(17);
  // b vanishes without committing what it holds (a kill): its tasks go back to a.
  s.cluster.expel(s.cluster.members(GROUP)[1]);
  await produce(s, thirds[2]);
  await s.cluster.runUntilIdle(43);
  now += 10_000;
  await a.checkIdleInputs();
  await s.cluster.runUntilIdle(43);
  await a.stop();
  await b.stop();
  const text = s.logs.join('\n');
  assert.match(text, /\[b\] skewless: task \d: rebuilding local state from changelog g-\w+-changelog \(\d+ offsets\) because there is no local copy/);
  assert.match(text, /regroup topics g-\w+-regroup and g-\w+-regroup-answers/);
  await assertServed(s, all);
});

test('a pause in the input: idle origins stop holding the regrouped tasks back, and count again once they send; values stay those of the brute force', async (t) => {
  const s = await setup(t);
  const first = flights(400, 5);
  // After the pause: the same kind of traffic 3 days later, each partition continuing its offsets.
  const offsets = new Array<number>(PARTITIONS).fill(0);
  for (const f of first) offsets[f.partition] = Math.max(offsets[f.partition], f.offset + 1);
  const second = flights(400, 6).map((f) => ({ ...f, date: f.date + 3 * 24 * HOUR, offset: offsets[f.partition]++ }));
  const all = [...first, ...second];
  let now = 1_000_000;
  const w = await s.start('a', { maxBatch: 19, idleMs: 5000, clock: () => now });
  await produce(s, first);
  await s.cluster.runUntilIdle(23);
  now += 6000;
  await w.checkIdleInputs();
  await s.cluster.runUntilIdle(23);
  assert.equal((await served(s)).rows.size, first.length, 'everything before the pause is served once every origin is idle');
  await produce(s, second);
  // Some fetches only: origins come back one by one, and the regrouped tasks must wait for them again.
  for (let i = 0; i < 3; i++) await s.cluster.poll(7);
  await s.cluster.runUntilIdle(11);
  const beforeIdle = (await served(s)).rows.size;
  assert.ok(beforeIdle < all.length, `${beforeIdle}: the newest rows wait for every origin's watermark again`);
  now += 6000;
  await w.checkIdleInputs();
  await s.cluster.runUntilIdle(23);
  await w.stop();
  assert.equal(s.logs.filter((l) => /inputs caught up and idle/.test(l)).length, 2 * PARTITIONS, s.logs.join('\n'));
  await assertServed(s, all);
});

test('an idle origin whose input grows only by an aborted transaction declares itself idle again at the new end; the others are not held back', async (t) => {
  const s = await setup(t);
  const first = flights(300, 11);
  let now = 1_000_000;
  const w = await s.start('a', { maxBatch: 17, idleMs: 5000, clock: () => now });
  await produce(s, first);
  await s.cluster.runUntilIdle(23);
  now += 6000;
  await w.checkIdleInputs();
  await s.cluster.runUntilIdle(23);
  assert.equal((await served(s)).rows.size, first.length, 'everything is served once every origin is idle');

  // A producer's transaction on partition 0 of the input aborts: its records and the abort
  // marker move the end of the partition, but a read_committed reader gets nothing to process.
  const schema = plan.schemas.get('flights')!.json;
  const enc = new WireEncoder(schema, await s.registry.register('flights-value', schema));
  const rogue = await s.cluster.openTaskProducer('rogue-producer');
  s.cluster.faults.beforeCommit = (id) => (id === 'rogue-producer' ? new Error('producer died mid-transaction') : undefined);
  const value = enc.encode({ date: first[first.length - 1].date, delay: 5, distance: 500, origin: 'ATL', destination: 'BOS' }).bytes!;
  await assert.rejects(rogue.commit([0, 1].map(() => ({ topic: 'flights', message: { key: 'ATL', value, partition: 0 } })), undefined));
  s.cluster.faults.beforeCommit = undefined;

  // Later flights on the other partitions only: their rows wait for every origin's watermark,
  // and origin 0 (idle at an end that has moved) sends nothing again.
  const offsets = new Array<number>(PARTITIONS).fill(0);
  for (const f of first) offsets[f.partition] = Math.max(offsets[f.partition], f.offset + 1);
  const later = flights(200, 12)
    .filter((f) => f.partition !== 0)
    .map((f) => ({ ...f, date: f.date + 2 * 24 * HOUR, offset: offsets[f.partition]++ }));
  await produce(s, later);
  await s.cluster.runUntilIdle(23);
  for (let i = 0; i < 2; i++) {
    now += 6000;
    await w.checkIdleInputs();
    await s.cluster.runUntilIdle(23);
  }
  await w.stop();
  assert.ok(s.logs.filter((l) => /\[a\] skewless: task 0: inputs caught up and idle/.test(l)).length >= 2, `origin 0 declared itself idle again:\n${s.logs.join('\n')}`);
  await assertServed(s, [...first, ...later]);
});

test('an answer for a row the task does not hold: the local copy is rebuilt from the changelog once, then the worker stops saying how to go forward (not retried until the deadline)', async (t) => {
  const s = await setup(t);
  const all = flights(200, 5);
  await produce(s, all);
  const w = await s.start('a', { maxBatch: 50 });
  await s.cluster.runUntilIdle(37);
  // An answer no query of task 0 asked for: its state and the answers topic disagree.
  const answer = new ByteWriter();
  writeRegroupAnswer(answer, { partition: 0, source: 'flights', offset: 99_999, output: 0, query: 0, idleReleases: 0, values: [1] });
  s.cluster.produce(`${GROUP}-${plan.version}-regroup-answers`, 0, { key: null, value: answer.bytes(), partition: 0 });
  for (let i = 0; i < 8; i++) await s.cluster.poll(37);
  const failure = await Promise.race([w.failed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))]);
  await w.stop();
  const logs = s.logs.join('\n');
  assert.ok(failure instanceof Error, `the worker stopped:\n${logs}`);
  assert.match(logs, /task 0: rebuilding local state from changelog .* because the local copy proved unusable/, logs);
  assert.match(failure.message, /changelog \S+ partition 0 of group g holds state that does not match the regroup answers topic \S+-regroup-answers \(task 0: a regrouped answer for flight_features at flights offset 99999 came for a row this task does not hold/);
  assert.match(failure.message, /skewless bootstrap/);
});

/**
 * Partition 0's flights three minutes apart, the others' thirty: every fetch of the same number
 * of records takes partitions 1 and 2 ten times further in time, so what they send waits in the
 * regrouped tasks for partition 0's watermark (`maxRecords` offsets per fetch).
 */
function skewedFlights(perPartition: number): Flight[] {
  const rnd = mulberry32(21);
  const out: Flight[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const origins = AIRPORTS.filter((_, i) => i % PARTITIONS === p);
    for (let k = 0; k < perPartition; k++) {
      const origin = origins[k % origins.length];
      const destination = AIRPORTS.filter((a) => a !== origin)[Math.floor(rnd() * (AIRPORTS.length - 1))];
      out.push({ partition: p, offset: k, date: T0 + k * (p === 0 ? 3 : 30) * MIN + p * 1000, delay: Math.floor(rnd() * 120) - 20, origin, destination });
    }
  }
  return out;
}

/** Runs a worker over `all` in fetches of `maxRecords`, sampling what its regrouped tasks hold after each round. */
async function heldWhileServing(s: Setup, all: readonly Flight[], extra: Partial<LiveOptions>): Promise<{ maxHeld: number; pauses: number }> {
  await produce(s, all);
  let now = 1_000_000;
  const w = await s.start('a', { idleMs: 5000, clock: () => now, ...extra });
  const held = (): number => Array.from({ length: PARTITIONS }, (_, p) => Number(w.metrics.get('skewless_regroup_held', { partition: String(p) }) ?? 0)).reduce((a, b) => a + b, 0);
  let maxHeld = 0;
  const fetchAll = async (): Promise<void> => {
    while ((await s.cluster.poll(37)) > 0) maxHeld = Math.max(maxHeld, held());
  };
  await fetchAll();
  // Partition 0 ends last, in time too: held back behind it, the others resume once it is idle;
  // the rows of their last hour wait for them to be idle in turn.
  for (let round = 0; round < 2; round++) {
    now += 6000;
    await w.checkIdleInputs();
    await fetchAll();
  }
  const pauses = Number(w.metrics.get('skewless_regroup_pauses_total') ?? 0);
  await w.stop();
  await assertServed(s, all);
  return { maxHeld, pauses };
}

test('partitions running ahead in event time are held back while the regrouped tasks hold more than --max-held; values stay those of the brute force', async (t) => {
  const all = skewedFlights(500);
  const free = await heldWhileServing(await setup(t), all, {});
  const limited = await heldWhileServing(await setup(t), all, { maxHeld: 100 });
  assert.equal(free.pauses, 0, 'no limit, no pause');
  assert.ok(free.maxHeld > 1000, `without a limit the fast partitions' messages pile up: ${free.maxHeld}`);
  assert.ok(limited.pauses > 0, 'partitions were held back');
  // Paused after a batch: past the limit by at most one fetch (37 flights, an update and a query each) of each partition.
  assert.ok(limited.maxHeld <= 100 + PARTITIONS * 2 * 37, `held at most ${limited.maxHeld}`);
});
