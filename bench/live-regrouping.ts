/**
 * Live end-to-end benchmark of a regrouping: flight-network (flight-delays' input, 8 partitions
 * keyed by origin, plus a regrouping by destination read as of 5 minutes before departure)
 * against flight-delays (no regrouping). Per run, the first N flights of flights-3m.parquet
 * (default 300,000) are pre-loaded (not timed) into a fresh 8-partition topic with produceFile;
 * then, over that same input topic, each worker on its own group, state and output topics, all
 * exactly-once with idleMs 1000:
 *
 *  1. throughput: one in-process `startLiveWorker` per topology, timed from start until every
 *     input record is applied and every row emitted: the sums over partitions of
 *     `skewless_records_total` and of `skewless_features_total` (+ late + dead letters) reach the
 *     input count and `skewless_regroup_waiting_rows` is 0. The last rows of flight-network are
 *     released by the idle rule (every origin caught up and quiet for idleMs), so its time
 *     includes that wait; "applied" is when the last input record was applied. The order of the
 *     two alternates between runs; the cost of the regrouping is the ratio within a run.
 *     Latency: fetch-to-commit per input batch (onBatchTiming), p50/p99.
 *  2. Kafka bytes per input record: after each throughput run, the topology's changelog and,
 *     for flight-network, its internal topics (`<group>-<version>-regroup` and
 *     `-regroup-answers`) are read in full (read_committed), keys + values summed. Regroup and
 *     answer batches do not report timings, so the changelog volume compared is the topic's;
 *     the sum over input-batch timings (what bench/live-flights.ts reports) is shown beside it.
 *  3. emission latency against the declared lag: with the backlog processed, a worker per lag
 *     (flight-network as is, i.e. 5 m, restarted on its group; variants of it with asOf 30 m,
 *     1 h and 2 h, written to a temporary file, on groups of their own, which first process
 *     the backlog side by side, untimed; and flight-delays, restarted, as the floor without
 *     regrouping) is restarted alone and gets a trickle of new flights: copies of real
 *     flights, one per partition every 100 ms, whose event time advances --pace event-seconds
 *     per wall-second. Latency: from producing a flight to its vector in the output topic
 *     (read_committed), over the flights produced in --window seconds after a --warmup. A
 *     row at t waits until every origin's watermark (stream time − grace) passes t − lag,
 *     about (grace − lag) / pace of wall time on top of the pipeline.
 *
 * No peak RSS: every worker runs in this process, so the process's memory says little.
 *
 * Not part of `npm test`; needs the local stack:
 *   export $(node scripts/stack/up.mjs) && npm run bench:regroup
 *   npm run bench:regroup -- --runs 1 --records 20000            (smoke test)
 *   npm run bench:regroup -- --pace 600 --lags 5m,30m,1h,2h --window 12
 *   npm run bench:regroup -- --skip-latency --trace            (throughput only, progress every second)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { formatDuration, parseDuration } from '../src/dsl/duration.js';
import { buildProgram } from '../src/engine/program.js';
import { SchemaRegistryClient } from '../src/io/avro/registry-client.js';
import type { GroupConsumer } from '../src/io/kafka/group-consumer.js';
import { KafkaConnection } from '../src/io/kafka/kafka-connection.js';
import { committedOffsets, deleteGroup, deleteTopics, fetchOffsets } from '../src/io/kafka/topic-admin.js';
import { readTopicRanges } from '../src/io/kafka/topic-reader.js';
import { changelogTopic } from '../src/modes/live/changelog.js';
import { regroupTopics } from '../src/modes/live/live-regroup-task.js';
import { deadLetterTopic, lateTopic, startLiveWorker, type LiveBatchTiming, type LiveWorker } from '../src/modes/live-worker.js';
import { produceFile } from '../src/modes/produce-file.js';
import type { CompiledPlan } from '../src/plan/compile.js';
import { loadTopology } from '../src/plan/load-topology.js';
import { flag, fmt, median, numberArg, quantile, say, secs, sleep, stackEnv } from './lib/bench-util.js';
import { LaterFlights, prepareSlice, type SliceFacts } from './lib/flight-slice.js';
import { Trickle, watchVectors } from './lib/live-watch.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const runs = numberArg('runs', 3);
const partitions = numberArg('partitions', 8);
const wanted = numberArg('records', 300_000);
/** Event-seconds per wall-second of the trickle. */
const pace = numberArg('pace', 600);
/** Seconds of trickle whose flights are measured, after the warm-up. */
const windowSecs = numberArg('window', 12);
const warmupSecs = numberArg('warmup', 2);
const idleMs = numberArg('idle-ms', 1000);
const skipLatency = flag('skip-latency');
const verbose = flag('verbose');
/** Print the throughput workers' progress every second (records applied, rows, rows waiting, messages held). */
const trace = flag('trace');
const lags = (() => {
  const i = process.argv.indexOf('--lags');
  return (i >= 0 ? process.argv[i + 1] : '5m,30m,1h,2h').split(',').map((s) => s.trim());
})();
const ROUND_MS = 100;

const { brokers, registryUrl } = stackEnv('bench:regroup');
const networkFile = join(root, 'topologies/flight-network.ts');
const delaysPlan = await loadTopology(join(root, 'topologies/flight-delays.ts'));
const networkPlan = await loadTopology(networkFile);
const flightSchema = networkPlan.schemas.get('flights')!.json;
const graceMs = buildProgram(networkPlan).regroupGrace;
const parquet = join(root, 'node_modules/vega-datasets/data/flights-3m.parquet');
const work = mkdtempSync(join(tmpdir(), 'skewless-bench-regroup-'));
const slice = join(work, 'flights-slice.ndjson');

/** The declared lag of flight-network's regrouped features (every `asOf` in the file). */
const networkSource = readFileSync(networkFile, 'utf8');
const declaredLags = [...new Set([...networkSource.matchAll(/asOf: '([^']+)'/g)].map((m) => m[1]))];
if (declaredLags.length !== 1) throw new Error(`${networkFile}: expected one asOf value, found ${declaredLags.join(', ') || 'none'}`);
const networkLag = declaredLags[0];

/** flight-network with another asOf, in a temporary file that imports the DSL, types and schema by absolute path. */
async function networkWithLag(lag: string): Promise<CompiledPlan> {
  if (parseDuration(lag) === parseDuration(networkLag)) return networkPlan;
  const text = networkSource
    .replaceAll(`asOf: '${networkLag}'`, `asOf: '${lag}'`)
    .replaceAll("'../src/dsl/index.js'", `'${join(root, 'src/dsl/index.js')}'`)
    .replaceAll("'./flight-delays.js'", `'${join(root, 'topologies/flight-delays.js')}'`)
    .replaceAll("'../schemas/flight.avsc'", `'${join(root, 'schemas/flight.avsc')}'`);
  // .mts: the temporary directory has no package.json saying "type": "module".
  const file = join(work, `flight-network-asof-${lag}.mts`);
  writeFileSync(file, text);
  return loadTopology(file);
}

/** The topics and groups one worker's configuration creates. */
interface WorkerSpec {
  readonly label: string;
  readonly plan: CompiledPlan;
  /** Prefix of its group, topics and state directory. */
  readonly id: string;
  readonly input: string;
}
const groupOf = (s: WorkerSpec): string => `${s.id}-group`;
const outputOf = (s: WorkerSpec): string => `${s.id}-features`;
const internalTopics = (s: WorkerSpec): { messages: string; answers: string } | undefined =>
  buildProgram(s.plan).regroups.length > 0 ? regroupTopics(groupOf(s), s.plan.version, partitions) : undefined;
function topicsOf(s: WorkerSpec): string[] {
  const rg = internalTopics(s);
  return [outputOf(s), lateTopic(s.id), deadLetterTopic(s.id), changelogTopic(groupOf(s), s.plan.version), ...(rg ? [rg.messages, rg.answers] : [])];
}

interface Running {
  readonly worker: LiveWorker;
  /** Sum of a metric over partitions (absent: 0). */
  sum(name: string): number;
  /** Tasks that logged "ready" since start. */
  readonly ready: Set<number>;
  check(): void;
}

async function startWorker(s: WorkerSpec, onBatchTiming?: (t: LiveBatchTiming) => void): Promise<Running> {
  const ready = new Set<number>();
  const worker = await startLiveWorker({
    plan: s.plan,
    brokers,
    registryUrl,
    stateDir: join(work, s.id),
    group: groupOf(s),
    delivery: 'exactly-once',
    sourceTopics: { flights: s.input },
    outputTopics: { flight_features: outputOf(s) },
    sideTopicPrefix: s.id,
    idleMs,
    // Kept whole, so that the Kafka bytes the regrouping adds can be read back after the run.
    purgeIntervalMs: Infinity,
    log: (line) => {
      const m = /task (\d+) ready at/.exec(line);
      if (m) ready.add(Number(m[1]));
      if (verbose || /fail|error|retrying|giving it up/i.test(line)) process.stderr.write(`[${s.label}] ${line}\n`);
    },
    onBatchTiming,
  });
  let failure: Error | undefined;
  void worker.failed.then((e) => (failure = e));
  return {
    worker,
    ready,
    sum(name) {
      let n = 0;
      for (let p = 0; p < partitions; p++) n += worker.metrics.get(name, { partition: String(p) }) ?? 0;
      return n;
    },
    check() {
      if (failure) throw new Error(`${s.label}: the worker failed: ${failure.message}`);
    },
  };
}

/** Every input record applied and every row out: records, and vectors + late + dead letters, reach `total`; nothing waits. */
function allEmitted(w: Running, total: number): boolean {
  return (
    w.sum('skewless_records_total') === total &&
    w.sum('skewless_features_total') + w.sum('skewless_late_total') + w.sum('skewless_dead_letters_total') === total &&
    w.sum('skewless_regroup_waiting_rows') === 0
  );
}

interface ThroughputResult {
  readonly rate: number;
  /** Records / time until the last input record was applied (before the idle release of the last rows). */
  readonly appliedRate: number;
  readonly secs: number;
  readonly p50: number;
  readonly p99: number;
  readonly changelogRecords: number;
  readonly changelogBytes: number;
}

/** Times one worker over the whole pre-loaded input, until every row is emitted; leaves its state for the latency phase. */
async function timeThroughput(s: WorkerSpec, expected: number): Promise<ThroughputResult> {
  const timings: LiveBatchTiming[] = [];
  const t0 = performance.now();
  const w = await startWorker(s, (t) => void timings.push(t));
  let applied: number | undefined;
  let traced = t0;
  try {
    for (;;) {
      w.check();
      if (trace && performance.now() - traced >= 1000) {
        traced = performance.now();
        const m = (name: string): string => fmt(w.sum(name));
        let internal = '';
        const rg = internalTopics(s);
        if (rg) {
          // How far the group has consumed (committed) each internal topic, of what is in it.
          const progress = async (topic: string): Promise<string> => {
            const ends = await fetchOffsets(conn, topic);
            const done = await committedOffsets(conn, groupOf(s), topic);
            return `${fmt(done.reduce((n, p) => n + p.offset, 0))}/${fmt(ends.reduce((n, p) => n + p.high, 0))}`;
          };
          internal = `; consumed: regroup topic ${await progress(rg.messages)}, answers ${await progress(rg.answers)}`;
        }
        say(`  ${secs(traced - t0).padStart(5)} s: ${m('skewless_records_total')} applied, ${m('skewless_features_total')} rows, ${m('skewless_regroup_waiting_rows')} waiting, ${m('skewless_regroup_held')} held${internal}`);
      }
      if (applied === undefined && w.sum('skewless_records_total') >= expected) applied = performance.now();
      if (allEmitted(w, expected)) break;
      if (performance.now() - t0 > 900_000) {
        throw new Error(
          `${s.label}: timed out after 900 s: ${fmt(w.sum('skewless_records_total'))} of ${fmt(expected)} applied, ${fmt(w.sum('skewless_features_total'))} rows, ` +
            `${fmt(w.sum('skewless_regroup_waiting_rows'))} waiting`,
        );
      }
      await sleep(5);
    }
  } catch (e) {
    await w.worker.stop().catch(() => undefined);
    throw e;
  }
  const t1 = performance.now();
  const late = w.sum('skewless_late_total');
  const dead = w.sum('skewless_dead_letters_total');
  const held = w.sum('skewless_regroup_held');
  const idleReleases = w.sum('skewless_regroup_idle_releases_total');
  await w.worker.stop();
  const wall = t1 - t0;
  const lat = timings.map((t) => t.doneAt - t.fetchedAt).sort((a, b) => a - b);
  const r: ThroughputResult = {
    rate: expected / (wall / 1000),
    appliedRate: expected / ((applied! - t0) / 1000),
    secs: wall / 1000,
    p50: quantile(lat, 0.5),
    p99: quantile(lat, 0.99),
    changelogRecords: timings.reduce((n, t) => n + t.changelogRecords, 0),
    changelogBytes: timings.reduce((n, t) => n + t.changelogBytes, 0),
  };
  const regrouped = internalTopics(s) !== undefined;
  say(
    `${s.label}: ${fmt(expected)} flights, every row out after ${(wall / 1000).toFixed(2)} s = ${fmt(r.rate)} events/s from start ` +
      `(all applied after ${secs(applied! - t0)} s = ${fmt(r.appliedRate)}/s); ${late} late, ${dead} dead letters; ` +
      (regrouped ? `${fmt(held)} regroup messages still held, ${fmt(idleReleases)} idle releases; ` : '') +
      `${timings.length} input batches (mean ${fmt(expected / timings.length)} records), fetch-to-commit p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms`,
  );
  return r;
}

interface TopicVolume {
  readonly records: number;
  readonly bytes: number;
}

/** Every record of a topic as it stands (read_committed): count and key + value bytes. */
async function topicVolume(topic: string): Promise<TopicVolume> {
  const ranges = (await fetchOffsets(conn, topic)).map((o) => ({ topic, partition: o.partition, start: o.low, end: o.high }));
  let records = 0;
  let bytes = 0;
  for await (const batch of readTopicRanges(conn, ranges)) {
    for (const r of batch.records) {
      records++;
      bytes += (r.key?.byteLength ?? 0) + (r.value?.byteLength ?? 0);
    }
  }
  return { records, bytes };
}

interface Volumes {
  readonly messages: TopicVolume;
  readonly answers: TopicVolume;
}

interface LatencyResult {
  readonly label: string;
  /** The declared lag (asOf); undefined: no regrouping. */
  readonly lagMs: number | undefined;
  readonly expectedMs: number;
  readonly p50: number;
  readonly p99: number;
  readonly samples: number;
  readonly missing: number;
}

/** Event times of the trickle, one clock per run: strictly later than the slice and every earlier trickle. */
class TrickleClock {
  private last: number;
  constructor(facts: SliceFacts) {
    this.last = facts.maxDate;
  }

  /** A date function for a trickle starting now: `pace` event-seconds per wall-second. */
  start(): () => number {
    const base = this.last + 60_000;
    const t0 = performance.now();
    return () => {
      const d = Math.max(this.last + 1, Math.round(base + pace * (performance.now() - t0)));
      this.last = d;
      return d;
    };
  }
}

/** Resolves once every task is open, the input is committed to its current end and every row is out. */
async function caughtUp(s: WorkerSpec, w: Running, alive: () => void = () => w.check()): Promise<void> {
  const c0 = performance.now();
  const ends = await fetchOffsets(conn, s.input);
  const total = ends.reduce((n, p) => n + p.high, 0);
  for (;;) {
    alive();
    if (performance.now() - c0 > 900_000) throw new Error(`${s.label}: not caught up after 900 s`);
    await sleep(100);
    if (w.ready.size < partitions) continue;
    const done = new Map((await committedOffsets(conn, groupOf(s), s.input)).map((p) => [p.partition, p.offset]));
    if (!ends.every((p) => (done.get(p.partition) ?? 0) >= p.high)) continue;
    // A restarted worker with nothing new to apply publishes no counters: its state was complete when it stopped.
    if (w.sum('skewless_records_total') === 0 || allEmitted(w, total)) return;
  }
}

/**
 * Workers of new groups process the backlog side by side (each mostly waits on Kafka, so
 * together they take far less than one after the other), then stop; their latency runs
 * restart them on their state.
 */
async function catchUpTogether(specs: readonly WorkerSpec[]): Promise<number> {
  const c0 = performance.now();
  const workers: Running[] = [];
  try {
    for (const s of specs) workers.push(await startWorker(s));
    await Promise.all(specs.map((s, i) => caughtUp(s, workers[i])));
  } finally {
    await Promise.all(workers.map((w) => w.worker.stop().catch(() => undefined)));
  }
  return performance.now() - c0;
}

/**
 * Restarts or starts a worker, lets it catch up with the input (every row out), then trickles
 * new flights and times each one from its production to its vector in the output topic.
 */
async function timeLatency(s: WorkerSpec, lagMs: number | undefined, later: LaterFlights, clock: TrickleClock, groups: string[]): Promise<LatencyResult> {
  const expectedMs = lagMs === undefined ? 0 : Math.max(0, graceMs - lagMs) / pace;
  const watchGroup = `${s.id}-watch-${Date.now().toString(36)}`;
  groups.push(watchGroup);
  const c0 = performance.now();
  const w = await startWorker(s);
  let watcher: GroupConsumer | undefined;
  let trickle: Trickle | undefined;
  const alive = (): void => {
    w.check();
    trickle?.check();
  };
  try {
    await caughtUp(s, w, alive);
    const catchUp = performance.now() - c0;

    // Watch the output from its current end, read_committed.
    /** Per `partition:event time` of a trickle flight: when it was produced, whether it is measured, its latency once seen. */
    const sent = new Map<string, { t: number; measured: boolean; latency?: number }>();
    let measuredOut = 0;
    let measuredSeen = 0;
    const output = buildProgram(s.plan).outputs.find((o) => o.name === 'flight_features')!;
    watcher = await watchVectors(conn, registry, { groupId: watchGroup, topic: outputOf(s), output }, (v, t) => {
      const f = sent.get(`${Number(v.partition)}:${Number(v.event_time)}`);
      if (f === undefined || f.latency !== undefined) return;
      f.latency = t - f.t;
      if (f.measured) measuredSeen++;
    });

    const dateNow = clock.start();
    const t0 = performance.now();
    const windowStart = t0 + warmupSecs * 1000;
    const windowEnd = windowStart + windowSecs * 1000;
    trickle = new Trickle(() => {
      const t = performance.now();
      const date = dateNow();
      const measured = t >= windowStart && t < windowEnd;
      for (let p = 0; p < partitions; p++) sent.set(`${p}:${date}`, { t, measured });
      if (measured) measuredOut += partitions;
      return later.round(date);
    }, ROUND_MS);
    // Keep trickling until every measured flight is out (the last ones would otherwise wait for the idle rule).
    const deadline = windowEnd + expectedMs + 30_000;
    for (;;) {
      alive();
      const now = performance.now();
      if (now >= windowEnd && measuredSeen === measuredOut) break;
      if (now > deadline) break;
      await sleep(50);
    }
    await trickle.stop();
    const trickled = performance.now() - t0;

    // Once the trickle stops, the idle rule must release what still waits.
    const q0 = performance.now();
    let waiting = w.sum('skewless_regroup_waiting_rows');
    while (waiting > 0 && performance.now() - q0 < 15_000) {
      alive();
      await sleep(100);
      waiting = w.sum('skewless_regroup_waiting_rows');
    }
    const lat = [...sent.values()].filter((f) => f.measured && f.latency !== undefined).map((f) => f.latency!).sort((a, b) => a - b);
    const r: LatencyResult = { label: s.label, lagMs, expectedMs, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), samples: lat.length, missing: measuredOut - lat.length };
    say(
      `${s.label}: caught up in ${secs(catchUp)} s; trickle ${secs(trickled)} s at ${pace} event-s per s (${fmt(sent.size)} flights); ` +
        `produce-to-vector latency over ${fmt(r.samples)} flights: p50 ${r.p50.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms (expected wait ${expectedMs.toFixed(0)} ms + pipeline)` +
        (r.missing > 0 ? `; ${fmt(r.missing)} measured flights NEVER SEEN in the output` : '') +
        (waiting > 0 ? `; ${fmt(waiting)} rows STILL WAITING 15 s after the trickle stopped` : `; rows after the trickle released ${secs(performance.now() - q0)} s after it stopped`),
    );
    return r;
  } finally {
    await trickle?.stop();
    await watcher?.stop().catch(() => undefined);
    await w.worker.stop().catch(() => undefined);
  }
}

const conn = await KafkaConnection.open({ brokers });
const registry = await SchemaRegistryClient.open(registryUrl);
type Kind = 'delays' | 'network';
const throughput: Record<Kind, ThroughputResult[]> = { delays: [], network: [] };
const volumes: Volumes[] = [];
/** Each topology's changelog topic as read after its throughput run. */
const changelogs: Record<Kind, TopicVolume[]> = { delays: [], network: [] };
const latencies: LatencyResult[][] = [];
let inputBytesPerRecord = NaN;

try {
  const facts = await prepareSlice(parquet, slice, wanted, flightSchema, partitions);
  const sliced = facts.records;
  inputBytesPerRecord = facts.valueBytes / facts.records;
  say(`slice: first ${fmt(sliced)} flights of flights-3m.parquet in ${secs(facts.ms)} s; input records: mean Avro value ${inputBytesPerRecord.toFixed(1)} bytes`);
  const lagPlans = skipLatency ? [] : await Promise.all(lags.map(async (lag) => ({ lag, lagMs: parseDuration(lag), plan: await networkWithLag(lag) })));
  say(
    `config: ${runs} runs, ${partitions} partitions, exactly-once, idleMs ${idleMs}; flight-network regroups with grace ${formatDuration(graceMs)}, asOf ${networkLag}; ` +
      (skipLatency ? 'latency skipped' : `latency at lags ${lags.join(', ')}: trickle at ${pace} event-s per wall-s, ${warmupSecs} s warm-up, ${windowSecs} s measured`),
  );

  for (let r = 0; r < runs; r++) {
    const run = `bench-regroup-${Date.now().toString(36)}-${r + 1}`;
    const input = `${run}-flights`;
    const label = `run ${r + 1}`;
    const specs: WorkerSpec[] = [];
    const groups: string[] = [];
    let later: LaterFlights | undefined;
    const spec = (s: WorkerSpec): WorkerSpec => {
      specs.push(s);
      return s;
    };
    try {
      const p0 = performance.now();
      const produced = await produceFile({ plan: networkPlan, source: 'flights', input: slice, topic: input, partitions, brokers, registryUrl, batchSize: 16384 });
      if (produced.produced !== sliced) throw new Error(`produced ${produced.produced} of ${sliced} flights (${produced.deadLetters} dead letters)`);
      say(`${label}: pre-loaded ${fmt(produced.produced)} flights into ${input} (${partitions} partitions) in ${secs(performance.now() - p0)} s (not timed)`);
      const bySpec: Record<Kind, WorkerSpec> = {
        delays: spec({ label: `${label} flight-delays`, plan: delaysPlan, id: `${run}-delays`, input }),
        network: spec({ label: `${label} flight-network`, plan: networkPlan, id: `${run}-network`, input }),
      };

      // 1. Throughput of both topologies over the same input, alternating which goes first.
      const order: Kind[] = r % 2 === 0 ? ['delays', 'network'] : ['network', 'delays'];
      const res = {} as Record<Kind, ThroughputResult>;
      for (const k of order) {
        res[k] = await timeThroughput(bySpec[k], produced.produced);
        throughput[k].push(res[k]);
        // 2. What each topology writes to Kafka besides its vectors, read before any trickle adds to it.
        const v0 = performance.now();
        const per = (x: TopicVolume): string => `${(x.bytes / produced.produced).toFixed(1)} bytes (${(x.records / produced.produced).toFixed(2)} records)`;
        const changelog = await topicVolume(changelogTopic(groupOf(bySpec[k]), bySpec[k].plan.version));
        changelogs[k].push(changelog);
        let line = `changelog ${per(changelog)}`;
        if (k === 'network') {
          const rg = internalTopics(bySpec.network)!;
          const v: Volumes = { messages: await topicVolume(rg.messages), answers: await topicVolume(rg.answers) };
          volumes.push(v);
          line = `regroup topic ${per(v.messages)}, answers ${per(v.answers)}, ${line}`;
        }
        say(`${bySpec[k].label} Kafka volume per input record (read in ${secs(performance.now() - v0)} s): ${line}; input batches' changelog (batch timings) ${per({ records: res[k].changelogRecords, bytes: res[k].changelogBytes })}`);
      }
      const ratio = res.network.rate / res.delays.rate;
      say(`${label}: flight-network ${fmt(res.network.rate)} vs flight-delays ${fmt(res.delays.rate)} events/s (${order.join(' first, ')} second): ratio ${ratio.toFixed(2)} (target ≥ 0.5)`);

      // 3. Emission latency against the declared lag, with a trickle of later flights.
      if (!skipLatency) {
        later = await LaterFlights.open(conn, input, flightSchema, produced.schemaId, facts);
        const clock = new TrickleClock(facts);
        const variants = lagPlans.map(({ lag, lagMs, plan }) => ({
          lagMs,
          spec: { ...(plan === networkPlan ? bySpec.network : spec({ label: `${label} flight-network asOf ${lag}`, plan, id: `${run}-lag${lag}`, input })), label: `${label} flight-network asOf ${lag}` },
        }));
        const fresh = variants.filter((v) => v.spec.plan !== networkPlan).map((v) => v.spec);
        if (fresh.length > 0) say(`${label}: ${fresh.length} variants processed the backlog side by side in ${secs(await catchUpTogether(fresh))} s (not timed)`);
        const runLatencies: LatencyResult[] = [await timeLatency(bySpec.delays, undefined, later, clock, groups)];
        for (const v of variants) runLatencies.push(await timeLatency(v.spec, v.lagMs, later, clock, groups));
        latencies.push(runLatencies);
      }
    } finally {
      await later?.close().catch(() => undefined);
      for (const g of [...specs.map(groupOf), ...groups]) await deleteGroup(conn, g);
      const topics = [input, ...specs.flatMap(topicsOf)];
      if (!(await deleteTopics(conn, topics, { timeoutMs: 30_000 }))) say(`${label}: could not delete all topics (${topics.length})`);
      for (const s of specs) rmSync(join(work, s.id), { recursive: true, force: true });
    }
  }
} finally {
  await conn.close();
  if (!flag('keep-slice')) rmSync(work, { recursive: true, force: true });
}

const runsOf = (xs: readonly number[], f: (n: number) => string = fmt): string => xs.map(f).join(' / ');
const n = throughput.network.length;
if (n > 0 && throughput.delays.length === n) {
  say('');
  say(`medians over ${n} runs (${fmt(wanted)} flights, ${partitions} partitions, exactly-once, idleMs ${idleMs}, worker and broker on this machine):`);
  for (const [k, name] of [
    ['delays', 'flight-delays (no regrouping)'],
    ['network', `flight-network (regroupBy dest, asOf ${networkLag})`],
  ] as const) {
    const rs = throughput[k];
    say(
      `  ${name}: ${fmt(median(rs.map((x) => x.rate)))} events/s until every row is out (runs: ${runsOf(rs.map((x) => x.rate))}); ` +
        `${fmt(median(rs.map((x) => x.appliedRate)))} until every record is applied`,
    );
    say(`    batch fetch-to-commit latency (pre-loaded backlog): p50 ${median(rs.map((x) => x.p50)).toFixed(0)} ms, p99 ${median(rs.map((x) => x.p99)).toFixed(0)} ms`);
  }
  const ratios = throughput.network.map((x, i) => x.rate / throughput.delays[i].rate);
  say(`  throughput ratio flight-network / flight-delays (per run, side by side): median ${median(ratios).toFixed(2)} (runs: ${runsOf(ratios, (x) => x.toFixed(2))}); target at least 0.50`);
  const per = (xs: readonly number[], digits = 1): string => median(xs.map((x) => x / wanted)).toFixed(digits);
  const v = (k: keyof Volumes, f: keyof TopicVolume): number[] => volumes.map((x) => x[k][f]);
  const cl = (k: Kind, f: keyof TopicVolume): number[] => changelogs[k].map((x) => x[f]);
  const added = volumes.map((x) => x.messages.bytes + x.answers.bytes);
  say(
    `  added Kafka bytes per input record (keys + values): regroup topic ${per(v('messages', 'bytes'))} bytes (${per(v('messages', 'records'), 2)} records), ` +
      `answers ${per(v('answers', 'bytes'))} bytes (${per(v('answers', 'records'), 2)} records); together ${per(added)} bytes (runs: ${runsOf(added, (x) => (x / wanted).toFixed(1))})`,
  );
  say(
    `  changelog per input record (topic read): flight-delays ${per(cl('delays', 'bytes'))} bytes (${per(cl('delays', 'records'), 2)} records; batch timings ${per(throughput.delays.map((x) => x.changelogBytes))} bytes), ` +
      `flight-network ${per(cl('network', 'bytes'))} bytes (${per(cl('network', 'records'), 2)} records; its input batches alone ${per(throughput.network.map((x) => x.changelogBytes))} bytes); ` +
      `input record (Avro value) ${inputBytesPerRecord.toFixed(1)} bytes`,
  );
}
if (latencies.length > 0) {
  say(`  produce-to-vector latency with a trickle at ${pace} event-s per wall-s (grace ${formatDuration(graceMs)}; expected wait (grace − lag) / pace, floored at 0):`);
  for (let i = 0; i < latencies[0].length; i++) {
    const rs = latencies.map((l) => l[i]);
    const r0 = rs[0];
    const name = r0.lagMs === undefined ? 'flight-delays (no regrouping)' : `asOf ${formatDuration(r0.lagMs)}`;
    const missing = rs.reduce((m, x) => m + x.missing, 0);
    say(
      `    ${name.padEnd(30)} p50 ${fmt(median(rs.map((x) => x.p50))).padStart(6)} ms, p99 ${fmt(median(rs.map((x) => x.p99))).padStart(6)} ms` +
        `   expected wait ${fmt(r0.expectedMs).padStart(6)} ms   (p50 runs: ${runsOf(rs.map((x) => x.p50))}; ${fmt(median(rs.map((x) => x.samples)))} flights a run)` +
        (missing > 0 ? `; ${fmt(missing)} never seen` : ''),
    );
  }
}
