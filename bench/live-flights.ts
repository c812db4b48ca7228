/**
 * Live end-to-end benchmark of flight-delays over Kafka. Per run, the first N flights of
 * flights-3m.parquet (default 1,000,000) are pre-loaded (not timed) into a fresh 8-partition
 * topic with produceFile; then, over that same input topic, each on its own group, state and
 * output topics:
 *
 *  1. throughput, exactly-once against at-least-once: one `startLiveWorker` per delivery mode,
 *     timed from start until every input record is applied and committed (the worker's
 *     `skewless_records_total`, summed over partitions). That covers consuming, decoding, the
 *     engine and the commit of each batch (exactly-once: one transaction with the feature
 *     vectors, the changelog records and the offsets; at-least-once: idempotent sends acked by
 *     all in-sync replicas, then the group commit). The order of the two modes alternates
 *     between runs; the cost of exactly-once is the ratio within a run (the machines are noisy).
 *  2. changelog volume: changelog bytes (keys + values) per input record against the mean Avro
 *     value size of the input records (Confluent framing included).
 *  3. restore: after the throughput runs, the exactly-once group's state directory is deleted
 *     and a new worker starts on the same group and changelog (tasks open, and restore, on
 *     assignment); timed until every task reported its restore (`skewless_restore_seconds_total`
 *     set for all partitions), records = sum of `skewless_restored_records_total`.
 *  4. failover after kill -9 (unless --skip-failover): two `skewless run` processes with
 *     separate state roots share a group; once both are assigned and caught up, and a trickle
 *     of new flights (one per partition every 100 ms, copies of real flights with later dates)
 *     flows through both, one is killed with SIGKILL at T0. Failover time: from T0 until the
 *     output topic (read_committed) holds a vector of a record produced after T0 in every
 *     partition the killed worker owned. Measured with each --session-timeouts value, and each
 *     --standbys value (default 0,1: without and with a warm standby copy of each task).
 *
 * Not part of `npm test`; needs the local stack:
 *   export $(node scripts/stack/up.mjs) && npm run bench:live
 *   npm run bench:live -- --runs 3 --records 300000 --skip-failover
 *   npm run bench:live -- --session-timeouts 10000,6000 --max-bytes 4194304 --max-batch 0 --keep-slice
 *   npm run bench:live -- --parity 0.01    (each run also an exactly-once worker with 1% parity sampling: its cost)
 *   npm run bench:live -- --warmup 0 --concurrency 1   (no untimed warm-up worker; one partition at a time)
 *   BENCH_PROFILE_WINDOW=1 node --cpu-prof --import tsx bench/live-flights.ts ...   (prints each timed worker's span in the profile's clock)
 *
 * Latency: the topic is a pre-loaded backlog, so "event-to-output" is measured per fetched
 * batch, from when the batch was handed to the worker (fetched) to when it was committed;
 * p50/p99 over batches.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../src/engine/program.js';
import { SchemaRegistryClient } from '../src/io/avro/registry-client.js';
import type { GroupConsumer } from '../src/io/kafka/group-consumer.js';
import { KafkaConnection } from '../src/io/kafka/kafka-connection.js';
import { commitGroupOffsets, deleteGroup, deleteTopics, fetchOffsets } from '../src/io/kafka/topic-admin.js';
import { changelogTopic } from '../src/modes/live/changelog.js';
import { DEFAULT_CONCURRENCY, DEFAULT_FETCH_BYTES, deadLetterTopic, lateTopic, startLiveWorker, type Delivery, type LiveBatchTiming } from '../src/modes/live-worker.js';
import { produceFile } from '../src/modes/produce-file.js';
import { loadTopology } from '../src/plan/load-topology.js';
import { flag, fmt, median, numberArg, quantile, say, secs, sleep, stackEnv } from './lib/bench-util.js';
import { LaterFlights, prepareSlice } from './lib/flight-slice.js';
import { Trickle, watchVectors } from './lib/live-watch.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const arg = numberArg;
const runs = arg('runs', 3);
const partitions = arg('partitions', 8);
const wanted = arg('records', 1_000_000);
const maxBytes = arg('max-bytes', 0) || undefined;
/** Partitions processed at once (LiveOptions.partitionsConcurrently, `run --concurrency`); 0 (default): the worker's default. */
const concurrency = arg('concurrency', 0) || undefined;
/** Records per engine step and commit (LiveOptions.maxBatch, `run --max-batch`); 0 (default): the whole fetched batch. */
const maxBatch = arg('max-batch', 0) || undefined;
/** With --parity R, every run also times an exactly-once worker with parity sampling at rate R, to measure its cost. */
const parityRate = arg('parity', 0);
const skipFailover = flag('skip-failover');
/**
 * Records an untimed exactly-once worker applies first, on its own group, so the timed workers
 * run compiled code as a long-running worker does, whichever mode goes first (bench/startup.ts
 * measures a cold start). 0: none, the first timed worker of the process then pays the JIT.
 */
const warmup = arg('warmup', 200_000);
/** Standby copies per task in the failover measurement, each value measured (--standbys 0,1: without and with warm standbys). */
const standbyCounts = (() => {
  const i = process.argv.indexOf('--standbys');
  return (i >= 0 ? process.argv[i + 1] : '0,1').split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--standbys: expected non-negative integers, got ${s}`);
    return n;
  });
})();
const sessionTimeouts = (() => {
  const i = process.argv.indexOf('--session-timeouts');
  return (i >= 0 ? process.argv[i + 1] : '10000,6000').split(',').map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--session-timeouts ${s}: expected whole milliseconds`);
    return n;
  });
})();
/** The workers' own default (src/io/kafka/group-consumer.ts): measured without passing the flag. */
const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
const verbose = flag('verbose');

const { brokers, registryUrl } = stackEnv('bench:live');
const topologyFile = 'topologies/flight-delays.ts';
const plan = await loadTopology(join(root, topologyFile));
const flightSchema = plan.schemas.get('flights')!.json;
const featureOutput = buildProgram(plan).outputs.find((o) => o.name === 'flight_features')!;
const parquet = join(root, 'node_modules/vega-datasets/data/flights-3m.parquet');



interface ModeResult {
  readonly delivery: Delivery;
  readonly rate: number;
  readonly steadyRate: number;
  readonly secs: number;
  readonly p50: number;
  readonly p99: number;
  readonly breakdown: Record<string, number>;
  readonly changelogRecords: number;
  readonly changelogBytes: number;
  /** Peak resident set of this process while the worker ran (the worker, and the bench's slice of flights), MiB. */
  readonly peakRssMiB: number;
}

interface RestoreResult {
  readonly written: number;
  readonly restored: number;
  /** Sum over partitions of skewless_restore_seconds_total (tasks restore concurrently: more than the wall time). */
  readonly restoreSecs: number;
  /** Worker start until every task reported its restore. */
  readonly wallSecs: number;
  /** The worker's assignment until every task reported its restore. */
  readonly secs: number;
}

interface FailoverResult {
  readonly sessionTimeoutMs: number;
  readonly standby: number;
  readonly victimPartitions: readonly number[];
  /** T0 until a post-T0 vector is in every partition the killed worker owned. */
  readonly secs: number;
  /** T0 until the survivor logged an assignment with the killed worker's partitions. */
  readonly reassignedSecs: number;
  /** T0 until the survivor's last task of those partitions was ready (restored from the changelog). */
  readonly readySecs: number;
  readonly changelogRestored: number;
}

const deliveries: readonly Delivery[] = ['exactly-once', 'at-least-once'];
const short = (d: Delivery): string => (d === 'exactly-once' ? 'eos' : 'alo');

const work = mkdtempSync(join(tmpdir(), 'skewless-bench-live-'));
const slice = join(work, 'flights-slice.ndjson');
const conn = await KafkaConnection.open({ brokers });
const registry = await SchemaRegistryClient.open(registryUrl);
const results: Record<Delivery, ModeResult[]> = { 'exactly-once': [], 'at-least-once': [] };
const sampledResults: ModeResult[] = [];
const restores: RestoreResult[] = [];
const failovers: FailoverResult[] = [];
let inputBytesPerRecord = NaN;
/** Child processes this benchmark started and that may still run (killed on the way out). */
const children = new Set<ChildProcess>();

/** Times one in-process worker over the whole pre-loaded input. */
async function timeWorker(o: {
  label: string;
  input: string;
  id: string;
  delivery: Delivery;
  expected: number;
  stateDir: string;
  sampling: number;
  topics: string[];
}): Promise<ModeResult> {
  const group = `${o.id}-group`;
  const output = `${o.id}-features`;
  const parityTopic = `${o.id}-parity`;
  o.topics.push(output, lateTopic(o.id), deadLetterTopic(o.id), changelogTopic(group, plan.version), ...(o.sampling > 0 ? [parityTopic] : []));
  const timings: LiveBatchTiming[] = [];
  const t0 = performance.now();
  const h0 = process.hrtime.bigint() / 1000n;
  const worker = await startLiveWorker({
    plan,
    brokers,
    registryUrl,
    stateDir: o.stateDir,
    group,
    delivery: o.delivery,
    sourceTopics: { flights: o.input },
    outputTopics: { flight_features: output },
    sideTopicPrefix: o.id,
    maxBytesPerPartition: maxBytes,
    maxBatch,
    partitionsConcurrently: concurrency,
    parity: o.sampling > 0 ? { rate: o.sampling, topic: parityTopic } : undefined,
    log: verbose ? undefined : () => undefined,
    onBatchTiming: (t) => void timings.push(t),
  });
  let failure: Error | undefined;
  void worker.failed.then((e) => (failure = e));
  const sum = (name: string): number => {
    let s = 0;
    for (let p = 0; p < partitions; p++) s += worker.metrics.get(name, { partition: String(p) }) ?? 0;
    return s;
  };
  const deadline = t0 + 900_000;
  let peakRss = process.memoryUsage.rss();
  try {
    while (sum('skewless_records_total') < o.expected) {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      if (failure) throw failure;
      if (performance.now() > deadline) throw new Error(`timed out: ${sum('skewless_records_total')} of ${o.expected} applied after 900 s`);
      await sleep(5);
    }
  } catch (e) {
    await worker.stop().catch(() => undefined);
    throw e;
  }
  const t1 = performance.now();
  // For `node --cpu-prof`: the timed span in the profile's clock (µs of the monotonic clock), to cut the profile to it.
  if (process.env.BENCH_PROFILE_WINDOW) process.stderr.write(`profile window ${o.delivery}: ${h0} ${process.hrtime.bigint() / 1000n}\n`);
  const features = sum('skewless_features_total');
  const late = sum('skewless_late_total');
  const dead = sum('skewless_dead_letters_total');
  const samples = sum('skewless_parity_samples_total');
  await worker.stop();

  const wall = t1 - t0;
  const firstFetch = Math.min(...timings.map((t) => t.fetchedAt));
  const lastDone = Math.max(...timings.map((t) => t.doneAt));
  const rate = o.expected / (wall / 1000);
  const steadyRate = o.expected / ((lastDone - firstFetch) / 1000);
  const lat = timings.map((t) => t.doneAt - t.fetchedAt).sort((a, b) => a - b);
  const total = (k: 'decodeMs' | 'queueMs' | 'engineMs' | 'produceMs' | 'changelogRecords' | 'changelogBytes'): number => timings.reduce((s, t) => s + t[k], 0);
  // Time some batch was in the worker's hands: the union of the batches' intervals (with several
  // partitions processed at once they overlap, and the phases below are summed over them).
  let busy = 0;
  let coveredTo = -Infinity;
  for (const t of [...timings].sort((a, b) => a.fetchedAt - b.fetchedAt)) {
    const from = Math.max(t.fetchedAt, coveredTo);
    if (t.doneAt > from) busy += t.doneAt - from;
    coveredTo = Math.max(coveredTo, t.doneAt);
  }
  const commitLabel = o.delivery === 'exactly-once' ? 'commit: transaction (vectors+changelog+offsets), store' : 'commit: sends acked, store write, group commit';
  const breakdown: Record<string, number> = {
    'startup (connect, registry, topics, group join)': firstFetch - t0,
    'task open + decode (Avro, registry-resolved)': total('decodeMs'),
    'engine (incl. output encoding)': total('engineMs'),
    [commitLabel]: total('produceMs'),
    'task queue wait': total('queueMs'),
    'fetch wait + kafkajs fetch decoding (no batch in hand)': lastDone - firstFetch - busy,
    'until the poller noticed': t1 - lastDone,
  };
  const changelogRecords = total('changelogRecords');
  const changelogBytes = total('changelogBytes');
  say(
    `${o.label}: ${fmt(o.expected)} flights in ${(wall / 1000).toFixed(2)} s = ${fmt(rate)} events/s from start ` +
      `(${fmt(steadyRate)} from first fetch); ${fmt(features)} vectors, ${late} late, ${dead} dead letters; ` +
      (o.sampling > 0 ? `${fmt(samples)} vectors sampled to the parity log (${((100 * samples) / features).toFixed(2)}%); ` : '') +
      `${timings.length} batches (mean ${fmt(o.expected / timings.length)} records), fetch-to-commit p50 ${quantile(lat, 0.5).toFixed(0)} ms, p99 ${quantile(lat, 0.99).toFixed(0)} ms; ` +
      `changelog ${fmt(changelogRecords)} records, ${fmt(changelogBytes)} bytes; peak RSS ${fmt(peakRss / 2 ** 20)} MiB`,
  );
  const inFlight = concurrency ?? DEFAULT_CONCURRENCY;
  if (inFlight > 1) say(`    (${inFlight} partitions processed at once: the batch phases are summed over the batches in flight and overlap each other and the wall time)`);
  for (const [k, v] of Object.entries(breakdown)) say(`    ${k.padEnd(56)} ${(v / 1000).toFixed(2).padStart(7)} s  ${((100 * v) / wall).toFixed(1).padStart(5)}%`);
  // Grouped by output label so both modes line up in the medians.
  const keyed: Record<string, number> = {};
  for (const [k, v] of Object.entries(breakdown)) keyed[k === commitLabel ? 'commit (see per-run label)' : k] = v;
  return { delivery: o.delivery, rate, steadyRate, secs: wall / 1000, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), breakdown: keyed, changelogRecords, changelogBytes, peakRssMiB: peakRss / 2 ** 20 };
}

/** A new worker on the exactly-once group after its state directory was deleted: every task restores from the changelog. */
async function timeRestore(o: { label: string; input: string; id: string; stateDir: string; written: number; later: LaterFlights }): Promise<RestoreResult> {
  rmSync(o.stateDir, { recursive: true, force: true });
  const t0 = performance.now();
  let assignedAt: number | undefined;
  const worker = await startLiveWorker({
    plan,
    brokers,
    registryUrl,
    stateDir: o.stateDir,
    group: `${o.id}-group`,
    delivery: 'exactly-once',
    sourceTopics: { flights: o.input },
    outputTopics: { flight_features: `${o.id}-features` },
    sideTopicPrefix: o.id,
    maxBytesPerPartition: maxBytes,
    maxBatch,
    partitionsConcurrently: concurrency,
    log: (line) => {
      if (assignedAt === undefined && /assigned partitions \d/.test(line)) assignedAt = performance.now();
      if (verbose) process.stderr.write(`${line}\n`);
    },
  });
  let failure: Error | undefined;
  void worker.failed.then((e) => (failure = e));
  const each = (name: string): Array<number | undefined> => Array.from({ length: partitions }, (_, p) => worker.metrics.get(name, { partition: String(p) }));
  try {
    const deadline = t0 + 600_000;
    let nudged = false;
    while (each('skewless_restore_seconds_total').some((v) => v === undefined)) {
      if (failure) throw failure;
      // Tasks open on assignment; a driver that opened them on their first record would need one.
      if (!nudged && performance.now() - t0 > 20_000) {
        nudged = true;
        await o.later.round();
      }
      if (performance.now() > deadline) throw new Error(`restore: ${each('skewless_restore_seconds_total').filter((v) => v !== undefined).length} of ${partitions} tasks after 600 s`);
      await sleep(5);
    }
  } catch (e) {
    await worker.stop().catch(() => undefined);
    throw e;
  }
  const t1 = performance.now();
  const restored = each('skewless_restored_records_total').reduce((s: number, v) => s + (v ?? 0), 0);
  const restoreSecs = each('skewless_restore_seconds_total').reduce((s: number, v) => s + (v ?? 0), 0);
  await worker.stop();
  const r: RestoreResult = { written: o.written, restored, restoreSecs, wallSecs: (t1 - t0) / 1000, secs: (t1 - (assignedAt ?? t0)) / 1000 };
  say(
    `${o.label}: state dir deleted; a new worker restored ${fmt(restored)} changelog records (${fmt(o.written)} written: ${restored === o.written ? 'all' : 'MISMATCH'}); ` +
      `assignment to every task restored ${r.secs.toFixed(2)} s = ${fmt(restored / r.secs)} records/s ` +
      `(${r.wallSecs.toFixed(2)} s from worker start, ${fmt(restored / r.wallSecs)} records/s; tasks restore side by side, ${restoreSecs.toFixed(2)} s summed over tasks)`,
  );
  return r;
}

/** A `skewless run` child whose stderr lines are kept with the time they arrived. */
interface Child {
  readonly proc: ChildProcess;
  readonly name: string;
  readonly lines: Array<{ readonly t: number; readonly line: string }>;
}

function spawnWorker(name: string, args: readonly string[]): Child {
  const proc = spawn(process.execPath, ['--max-semi-space-size=64', join(root, 'bin/skewless.mjs'), ...args], { cwd: root, env: process.env, stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const c: Child = { proc, name, lines: [] };
  let rest = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (s: string) => {
    const t = performance.now();
    const parts = (rest + s).split('\n');
    rest = parts.pop()!;
    for (const line of parts) {
      c.lines.push({ t, line });
      if (verbose) process.stderr.write(`[${name}] ${line}\n`);
    }
  });
  return c;
}

const ASSIGNED = /assigned partitions (.*)$/;
const parseAssignment = (line: string): number[] | undefined => {
  const m = ASSIGNED.exec(line);
  if (!m) return undefined;
  return m[1] === '(none)' ? [] : m[1].split(',').map((s) => Number(s.trim()));
};
/** The child's current assignment: its last logged one (undefined before the first). */
function assignment(c: Child): number[] | undefined {
  for (let i = c.lines.length - 1; i >= 0; i--) {
    const a = parseAssignment(c.lines[i].line);
    if (a) return a;
  }
  return undefined;
}
const tail = (c: Child): string => c.lines.slice(-15).map((l) => `  [${c.name}] ${l.line}`).join('\n');

function exited(p: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(true);
  return new Promise((res) => {
    const timer = setTimeout(() => res(false), timeoutMs);
    p.once('exit', () => {
      clearTimeout(timer);
      res(true);
    });
  });
}

async function committed(group: string, topic: string): Promise<Map<number, number>> {
  const { previous } = await commitGroupOffsets(conn, group, topic, []);
  return new Map(previous.map((p) => [p.partition, p.offset]));
}

/** Two `skewless run` processes on one group; one is killed with SIGKILL while new flights keep arriving. */
async function timeFailover(o: { label: string; input: string; id: string; sessionTimeoutMs: number; standby: number; victim: 0 | 1; later: LaterFlights; topics: string[] }): Promise<FailoverResult> {
  const group = `${o.id}-group`;
  const output = `${o.id}-features`;
  const watchGroup = `${o.id}-watch`;
  o.topics.push(output, lateTopic(o.id), deadLetterTopic(o.id), changelogTopic(group, plan.version));
  const args = (state: string): string[] => [
    'run',
    topologyFile,
    '--state',
    state,
    '--group',
    group,
    '--topic',
    `flights=${o.input}`,
    '--output-topic',
    `flight_features=${output}`,
    '--side-prefix',
    o.id,
    ...(o.sessionTimeoutMs === DEFAULT_SESSION_TIMEOUT_MS ? [] : ['--session-timeout-ms', String(o.sessionTimeoutMs)]),
    ...(o.standby === 0 ? [] : ['--standby', String(o.standby)]),
    ...(maxBatch === undefined ? [] : ['--max-batch', String(maxBatch)]),
    ...(concurrency === undefined ? [] : ['--concurrency', String(concurrency)]),
  ];
  const workers = [spawnWorker('a', args(join(work, `${o.id}-host-a`))), spawnWorker('b', args(join(work, `${o.id}-host-b`)))];
  let watcher: GroupConsumer | undefined;
  let trickle: Trickle | undefined;
  const alive = (): void => {
    for (const w of workers) if (w.proc.exitCode !== null || (w.proc.signalCode !== null && w !== workers[o.victim])) throw new Error(`worker ${w.name} exited (${w.proc.exitCode ?? w.proc.signalCode}):\n${tail(w)}`);
    trickle?.check();
  };
  try {
    // Both assigned (disjoint, covering every partition) and caught up with the pre-loaded input.
    const ends = new Map((await fetchOffsets(conn, o.input)).map((p) => [p.partition, p.high]));
    const s0 = performance.now();
    for (;;) {
      alive();
      if (performance.now() - s0 > 900_000) throw new Error(`not assigned and caught up after 900 s:\n${workers.map(tail).join('\n')}`);
      await sleep(500);
      const [a, b] = workers.map(assignment);
      if (!a || !b || a.length === 0 || b.length === 0 || new Set([...a, ...b]).size !== partitions || a.length + b.length !== partitions) continue;
      const done = await committed(group, o.input);
      if ([...ends].every(([p, end]) => (done.get(p) ?? 0) >= end)) break;
    }
    const catchUp = performance.now() - s0;

    // Watch the output from its current end, read_committed: the time each partition last showed a vector, by input offset.
    const seen = new Map<number, { t: number; offset: number }>();
    watcher = await watchVectors(conn, registry, { groupId: watchGroup, topic: output, output: featureOutput }, (v, t) => {
      const p = Number(v.partition);
      const offset = Number(v.offset);
      const prev = seen.get(p);
      if (!prev || offset > prev.offset) seen.set(p, { t, offset });
    });

    // The trickle: one new flight per partition every 100 ms.
    trickle = new Trickle(() => o.later.round(), 100);
    // Steady state: both workers serve the trickle in every partition and the watcher sees it.
    const trickleStart = performance.now();
    const w0 = await fetchOffsets(conn, o.input);
    for (;;) {
      alive();
      if (performance.now() - trickleStart > 60_000) throw new Error(`the trickle did not come through in every partition within 60 s (seen ${[...seen.keys()].join(',')})`);
      if (w0.every((p) => (seen.get(p.partition)?.offset ?? -1) >= p.high)) break;
      await sleep(50);
    }
    await sleep(1000);

    const victim = workers[o.victim];
    const survivor = workers[1 - o.victim];
    const victimPartitions = assignment(victim)!;
    const survivorLinesBefore = survivor.lines.length;
    const t0 = performance.now();
    victim.proc.kill('SIGKILL');
    // Every record at or after these offsets was appended after the kill: only the new owner can serve it.
    const after = new Map((await fetchOffsets(conn, o.input)).map((p) => [p.partition, p.high]));
    const served = (p: number): boolean => (seen.get(p)?.offset ?? -1) >= after.get(p)!;
    for (;;) {
      alive();
      if (victimPartitions.every(served)) break;
      if (performance.now() - t0 > 180_000) throw new Error(`no failover within 180 s: partitions ${victimPartitions.filter((p) => !served(p)).join(',')} not served:\n${tail(survivor)}`);
      await sleep(5);
    }
    const done = Math.max(...victimPartitions.map((p) => seen.get(p)!.t));
    const newLines = survivor.lines.slice(survivorLinesBefore);
    const reassigned = newLines.find((l) => {
      const a = parseAssignment(l.line);
      return a !== undefined && victimPartitions.every((p) => a.includes(p));
    });
    let readyAt = NaN;
    let changelogRestored = 0;
    for (const p of victimPartitions) {
      const ready = newLines.find((l) => new RegExp(`task ${p} ready at `).test(l.line));
      if (ready) readyAt = Number.isNaN(readyAt) ? ready.t : Math.max(readyAt, ready.t);
      const n = ready && /after applying ([\d,]+) changelog records/.exec(ready.line);
      if (n) changelogRestored += Number(n[1].replace(/,/g, ''));
    }
    const r: FailoverResult = {
      sessionTimeoutMs: o.sessionTimeoutMs,
      standby: o.standby,
      victimPartitions,
      secs: (done - t0) / 1000,
      reassignedSecs: reassigned ? (reassigned.t - t0) / 1000 : NaN,
      readySecs: (readyAt - t0) / 1000,
      changelogRestored,
    };
    say(
      `${o.label}: session timeout ${o.sessionTimeoutMs} ms${o.sessionTimeoutMs === DEFAULT_SESSION_TIMEOUT_MS ? ' (default)' : ''}, ${o.standby} standby ${o.standby === 1 ? 'copy' : 'copies'}: both workers caught up in ${secs(catchUp)} s; ` +
        `killed worker ${victim.name} (partitions ${victimPartitions.join(',')}) with SIGKILL; failover ${r.secs.toFixed(2)} s ` +
        `(reassigned after ${r.reassignedSecs.toFixed(2)} s, tasks restored from ${fmt(changelogRestored)} changelog records and ready after ${r.readySecs.toFixed(2)} s, ` +
        `first post-kill vector in every partition after ${r.secs.toFixed(2)} s)`,
    );
    return r;
  } finally {
    await trickle?.stop();
    await watcher?.stop().catch(() => undefined);
    for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGTERM');
    for (const w of workers) if (!(await exited(w.proc, 30_000))) w.proc.kill('SIGKILL');
    // The children name their changelog after the topology version they loaded (the source may have changed since this process loaded it).
    for (const w of workers) for (const l of w.lines) {
      const m = /delivery, changelog (\S+)/.exec(l.line);
      if (m && !o.topics.includes(m[1])) o.topics.push(m[1]);
    }
    await deleteGroup(conn, watchGroup);
    await deleteGroup(conn, group);
    for (const w of workers) rmSync(join(work, `${o.id}-host-${w.name}`), { recursive: true, force: true });
  }
}

const killChildren = (): void => {
  for (const c of children) c.kill('SIGKILL');
};
process.once('exit', killChildren);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killChildren();
    process.exit(130);
  });
}

try {
  const facts = await prepareSlice(parquet, slice, wanted, flightSchema, partitions);
  const sliced = facts.records;
  inputBytesPerRecord = facts.valueBytes / facts.records;
  say(
    `slice: first ${fmt(sliced)} flights of flights-3m.parquet in ${secs(facts.ms)} s; input records: mean Avro value ${inputBytesPerRecord.toFixed(1)} bytes ` +
      `(Confluent framing included; ${fmt(facts.valueBytes)} bytes in all)`,
  );

  say(
    `config: ${runs} runs${warmup > 0 ? ` after an untimed warm-up worker over ${fmt(warmup)} flights` : ', no warm-up'}, ${partitions} partitions, ${concurrency ?? DEFAULT_CONCURRENCY} processed at once, ${maxBatch === undefined ? 'whole fetched batches' : `at most ${fmt(maxBatch)} records`} per engine step and commit, ` +
      `fetch ${fmt(maxBytes ?? DEFAULT_FETCH_BYTES)} bytes per partition; failover ${skipFailover ? 'skipped' : `with session timeouts ${sessionTimeouts.join(', ')} ms and ${standbyCounts.join(', ')} standby copies`}`,
  );
  for (let r = 0; r < runs; r++) {
    const run = `bench-live-${Date.now().toString(36)}-${r + 1}`;
    const input = `${run}-flights`;
    const topics: string[] = [input];
    const stateDirs: string[] = [];
    const label = `run ${r + 1}`;
    let later: LaterFlights | undefined;
    try {
      const p0 = performance.now();
      const produced = await produceFile({ plan, source: 'flights', input: slice, topic: input, partitions, brokers, registryUrl, batchSize: 16384 });
      if (produced.produced !== sliced) throw new Error(`produced ${produced.produced} of ${sliced} flights (${produced.deadLetters} dead letters)`);
      say(`${label}: pre-loaded ${fmt(produced.produced)} flights into ${input} (${partitions} partitions) in ${secs(performance.now() - p0)} s (not timed)`);
      later = await LaterFlights.open(conn, input, flightSchema, produced.schemaId, facts);

      if (r === 0 && warmup > 0) {
        const id = `${run}-warm`;
        const stateDir = join(work, id);
        stateDirs.push(stateDir);
        await timeWorker({ label: `${label} warm-up (not counted)`, input, id, delivery: 'exactly-once', expected: Math.min(warmup, produced.produced), stateDir, sampling: 0, topics });
        rmSync(stateDir, { recursive: true, force: true });
      }

      // 1. Throughput of both delivery modes over the same input, alternating which goes first.
      const order = r % 2 === 0 ? deliveries : [...deliveries].reverse();
      const byMode = new Map<Delivery, ModeResult>();
      for (const delivery of order) {
        const id = `${run}-${short(delivery)}`;
        const stateDir = join(work, id);
        stateDirs.push(stateDir);
        const res = await timeWorker({ label: `${label} ${delivery}`, input, id, delivery, expected: produced.produced, stateDir, sampling: 0, topics });
        byMode.set(delivery, res);
        results[delivery].push(res);
        if (delivery === 'at-least-once') rmSync(stateDir, { recursive: true, force: true });
      }
      if (parityRate > 0) {
        const id = `${run}-parity`;
        const stateDir = join(work, id);
        stateDirs.push(stateDir);
        sampledResults.push(
          await timeWorker({ label: `${label} exactly-once with ${parityRate * 100}% parity sampling`, input, id, delivery: 'exactly-once', expected: produced.produced, stateDir, sampling: parityRate, topics }),
        );
        rmSync(stateDir, { recursive: true, force: true });
      }
      const eos = byMode.get('exactly-once')!;
      const alo = byMode.get('at-least-once')!;
      const cost = (100 * (alo.rate - eos.rate)) / alo.rate;
      const clPerRecord = eos.changelogBytes / produced.produced;
      say(
        `${label}: exactly-once ${fmt(eos.rate)} vs at-least-once ${fmt(alo.rate)} events/s (${order.map(short).join(' first, ')} second): exactly-once costs ${cost.toFixed(1)}%; ` +
          `changelog ${clPerRecord.toFixed(1)} bytes and ${(eos.changelogRecords / produced.produced).toFixed(2)} records per input record ` +
          `(input ${inputBytesPerRecord.toFixed(1)} bytes/record: ${(clPerRecord / inputBytesPerRecord).toFixed(2)}×)`,
      );

      // 3. Restore of the exactly-once group's state from its changelog.
      restores.push(await timeRestore({ label: `${label} restore`, input, id: `${run}-eos`, stateDir: join(work, `${run}-eos`), written: eos.changelogRecords, later }));

      // 4. Failover after kill -9, per session timeout, alternating which worker dies.
      if (!skipFailover) {
        for (const [i, st] of sessionTimeouts.entries()) {
          for (const sb of standbyCounts) {
            failovers.push(await timeFailover({ label: `${label} failover`, input, id: `${run}-fo${st}-sb${sb}`, sessionTimeoutMs: st, standby: sb, victim: ((r + i) % 2) as 0 | 1, later, topics }));
          }
        }
      }
    } finally {
      await later?.close().catch(() => undefined);
      for (const g of ['eos', 'alo', 'parity']) await deleteGroup(conn, `${run}-${g}-group`);
      const deleted = await deleteTopics(conn, topics, { timeoutMs: 30_000 });
      if (!deleted) say(`${label}: could not delete all topics (${topics.length})`);
      for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
    }
  }
} finally {
  killChildren();
  await conn.close();
  if (!flag('keep-slice') && existsSync(work)) rmSync(work, { recursive: true, force: true });
}

const runsOf = (xs: readonly number[], f: (n: number) => string = fmt): string => xs.map(f).join(' / ');
const eosRuns = results['exactly-once'];
const aloRuns = results['at-least-once'];
if (eosRuns.length > 0 && aloRuns.length > 0) {
  say('');
  say(
    `medians over ${eosRuns.length} runs (${fmt(wanted)} flights, ${partitions} partitions, ${maxBatch === undefined ? 'whole fetched batches' : `at most ${fmt(maxBatch)} records`} per commit, worker and broker on this machine):`,
  );
  for (const d of deliveries) {
    const rs = results[d];
    say(`  ${d}: ${fmt(median(rs.map((x) => x.rate)))} events/s from worker start (runs: ${runsOf(rs.map((x) => x.rate))}); ${fmt(median(rs.map((x) => x.steadyRate)))} from first fetch (runs: ${runsOf(rs.map((x) => x.steadyRate))})`);
    say(`    batch fetch-to-commit latency (pre-loaded backlog): p50 ${median(rs.map((x) => x.p50)).toFixed(0)} ms, p99 ${median(rs.map((x) => x.p99)).toFixed(0)} ms`);
    say(`    peak RSS of the bench process while the worker ran: ${fmt(median(rs.map((x) => x.peakRssMiB)))} MiB (runs: ${runsOf(rs.map((x) => x.peakRssMiB))})`);
    say('    where the time goes (median seconds):');
    for (const k of Object.keys(rs[0].breakdown)) say(`      ${k.padEnd(56)} ${(median(rs.map((x) => x.breakdown[k])) / 1000).toFixed(2).padStart(7)} s`);
  }
  const costs = eosRuns.map((e, i) => (100 * (aloRuns[i].rate - e.rate)) / aloRuns[i].rate);
  say(`  cost of exactly-once (per run, side by side): median ${median(costs).toFixed(1)}% (runs: ${runsOf(costs, (c) => `${c.toFixed(1)}%`)}); target at most 15%`);
  const clBytes = eosRuns.map((e) => e.changelogBytes / wanted);
  const clRecords = eosRuns.map((e) => e.changelogRecords / wanted);
  say(
    `  changelog per input record: ${median(clBytes).toFixed(1)} bytes (runs: ${runsOf(clBytes, (x) => x.toFixed(1))}), ${median(clRecords).toFixed(2)} records; ` +
      `input record (Avro value) ${inputBytesPerRecord.toFixed(1)} bytes: ratio ${(median(clBytes) / inputBytesPerRecord).toFixed(2)}`,
  );
  say(`  floor: 50,000 events/s`);
}
if (restores.length > 0) {
  const rate = restores.map((x) => x.restored / x.secs);
  const wallRate = restores.map((x) => x.restored / x.wallSecs);
  say(
    `  restore from the changelog (state dir deleted): ${fmt(median(restores.map((x) => x.restored)))} records in ${median(restores.map((x) => x.secs)).toFixed(2)} s from assignment, ` +
      `${fmt(median(rate))} records/s (runs: ${runsOf(rate)}); from worker start ${median(restores.map((x) => x.wallSecs)).toFixed(2)} s, ${fmt(median(wallRate))} records/s (runs: ${runsOf(wallRate)})`,
  );
}
for (const st of sessionTimeouts) {
  for (const sb of standbyCounts) {
    const fs = failovers.filter((f) => f.sessionTimeoutMs === st && f.standby === sb);
    if (fs.length === 0) continue;
    const m = (k: 'secs' | 'reassignedSecs' | 'readySecs'): string => median(fs.map((f) => f[k])).toFixed(1);
    say(
      `  failover after kill -9, session timeout ${st} ms${st === DEFAULT_SESSION_TIMEOUT_MS ? ' (default)' : ''}, ${sb} standby ${sb === 1 ? 'copy' : 'copies'}: ${m('secs')} s (runs: ${runsOf(fs.map((f) => f.secs), (s) => s.toFixed(1))}); ` +
        `partitions reassigned after ${m('reassignedSecs')} s, tasks ready after ${m('readySecs')} s, ${fmt(median(fs.map((f) => f.changelogRestored)))} changelog records applied (medians)`,
    );
  }
}
if (sampledResults.length > 0 && eosRuns.length > 0) {
  const costs = sampledResults.map((s, i) => (100 * (eosRuns[i].rate - s.rate)) / eosRuns[i].rate);
  say('');
  say(`parity sampling at ${parityRate * 100}% (exactly-once): ${fmt(median(sampledResults.map((x) => x.rate)))} events/s (runs: ${runsOf(sampledResults.map((x) => x.rate))})`);
  say(`  cost: median ${median(costs).toFixed(1)}% of live throughput (per run against the exactly-once worker of the same run: ${runsOf(costs, (c) => `${c.toFixed(1)}%`)}; budget 5%)`);
}
