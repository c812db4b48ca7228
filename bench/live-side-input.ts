/**
 * Live latency with a quiet second input: flight-delays-side-input (bench/topologies: flight-delays
 * plus a diversions input in the same task, whose topic stays empty) against flight-delays (one
 * input) measured in the same run. A flight of the first waits in the canonical merge until the
 * diversions input is judged idle (DESIGN.md rule 3: empty, caught up with the broker, quiet for
 * --idle-ms); the second has nothing to wait for, so it is the floor.
 *
 * Per run and topology (the order alternates between runs): a worker (exactly-once, --idle-ms
 * 5000, the default) on a new group processes a backlog of 2,000 flights, stays up past idleMs,
 * then gets a trickle of new flights (copies of real ones, one per partition every 100 ms, each
 * later in event time); the latency of each flight is from its produce (acknowledged) to its
 * vector in the output topic (read_committed), over the flights produced in --window seconds
 * after a --warmup. Then, after another idleMs of quiet, a burst of --burst flights (default
 * 200,000) is produced into the running worker's input and timed until every one is committed:
 * the throughput of a task whose side input is quiet, beside one without a side input.
 *
 * Not part of `npm test`; needs the local stack:
 *   export $(node scripts/stack/up.mjs) && npm run bench:side-input -- [--runs 3] [--window 10]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../src/engine/program.js';
import { SchemaRegistryClient } from '../src/io/avro/registry-client.js';
import type { GroupConsumer } from '../src/io/kafka/group-consumer.js';
import { KafkaConnection } from '../src/io/kafka/kafka-connection.js';
import { committedOffsets, deleteGroup, deleteTopics, ensureTopic, fetchOffsets } from '../src/io/kafka/topic-admin.js';
import { changelogTopic } from '../src/modes/live/changelog.js';
import { deadLetterTopic, lateTopic, startLiveWorker, type LiveWorker } from '../src/modes/live-worker.js';
import { produceFile } from '../src/modes/produce-file.js';
import type { CompiledPlan } from '../src/plan/compile.js';
import { loadTopology } from '../src/plan/load-topology.js';
import { fmt, median, numberArg, quantile, say, secs, sleep, stackEnv } from './lib/bench-util.js';
import { LaterFlights, prepareSlice } from './lib/flight-slice.js';
import { Trickle, watchVectors } from './lib/live-watch.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const runs = numberArg('runs', 3);
const partitions = numberArg('partitions', 8);
const windowSecs = numberArg('window', 10);
const warmupSecs = numberArg('warmup', 2);
const idleMs = numberArg('idle-ms', 5000);
const ROUND_MS = 100;
const BACKLOG = 2000;
/** Flights produced at once into a running worker's input for the throughput phase (0: none). */
const burst = numberArg('burst', 200_000);

const { brokers, registryUrl } = stackEnv('bench/live-side-input.ts');
const delaysPlan = await loadTopology(join(root, 'topologies/flight-delays.ts'));
const sidePlan = await loadTopology(join(root, 'bench/topologies/flight-delays-side-input.ts'));
const flightSchema = delaysPlan.schemas.get('flights')!.json;
const work = mkdtempSync(join(tmpdir(), 'skewless-bench-side-'));
const id = `bench-side-${Date.now().toString(36)}`;
const conn = await KafkaConnection.open({ brokers });
const registry = await SchemaRegistryClient.open(registryUrl);

interface Spec {
  readonly label: string;
  readonly plan: CompiledPlan;
  readonly id: string;
}
const input = `${id}-flights`;
const diversions = `${id}-diversions`;
const groupOf = (s: Spec): string => `${s.id}-group`;
const outputOf = (s: Spec, output: string): string => `${s.id}-${output}`;

interface Latency {
  readonly p50: number;
  readonly p99: number;
  readonly samples: number;
  readonly missing: number;
  readonly mergeSkips: number;
  /** Events/s of the burst, from its produce until committed (0 without one). */
  readonly burstRate: number;
}

async function measure(s: Spec, later: LaterFlights, nextDate: () => number): Promise<Latency> {
  const ready = new Set<number>();
  const program = buildProgram(s.plan);
  const worker: LiveWorker = await startLiveWorker({
    plan: s.plan,
    brokers,
    registryUrl,
    stateDir: join(work, s.id),
    group: groupOf(s),
    delivery: 'exactly-once',
    sourceTopics: Object.fromEntries(program.sources.map((src) => [src.node.name, src.node.name === 'flights' ? input : diversions])),
    outputTopics: Object.fromEntries(program.outputs.map((o) => [o.name, outputOf(s, o.name)])),
    sideTopicPrefix: s.id,
    idleMs,
    log: (line) => {
      const m = /task (\d+) ready at/.exec(line);
      if (m) ready.add(Number(m[1]));
      if (/fail|error|retrying|giving it up/i.test(line)) process.stderr.write(`[${s.label}] ${line}\n`);
    },
  });
  let failure: Error | undefined;
  void worker.failed.then((e) => (failure = e));
  const check = (): void => {
    if (failure) throw new Error(`${s.label}: the worker failed: ${failure.message}`);
  };
  let watcher: GroupConsumer | undefined;
  let trickle: Trickle | undefined;
  /** Whether the worker's group has committed the input up to `ends` on every partition. */
  const committed = async (ends: Awaited<ReturnType<typeof fetchOffsets>>): Promise<boolean> => {
    const done = new Map((await committedOffsets(conn, groupOf(s), input)).map((p) => [p.partition, p.offset]));
    return ends.every((p) => (done.get(p.partition) ?? 0) >= p.high);
  };
  try {
    // The backlog committed, then quiet past idleMs: what the trickle meets is a running worker whose side input has long been quiet.
    const ends = await fetchOffsets(conn, input);
    for (;;) {
      check();
      await sleep(100);
      if (ready.size < partitions) continue;
      if (await committed(ends)) break;
    }
    await sleep(idleMs + 1000);

    const sent = new Map<string, { t: number; measured: boolean; latency?: number }>();
    let measuredOut = 0;
    let measuredSeen = 0;
    const output = program.outputs.find((o) => o.name === 'flight_features')!;
    watcher = await watchVectors(conn, registry, { groupId: `${s.id}-watch`, topic: outputOf(s, 'flight_features'), output }, (v, t) => {
      const f = sent.get(`${Number(v.partition)}:${Number(v.event_time)}`);
      if (f === undefined || f.latency !== undefined) return;
      f.latency = t - f.t;
      if (f.measured) measuredSeen++;
    });
    const t0 = performance.now();
    const windowStart = t0 + warmupSecs * 1000;
    const windowEnd = windowStart + windowSecs * 1000;
    trickle = new Trickle(async () => {
      const date = nextDate();
      const pending = later.round(date);
      // Produce time: when the broker acknowledged the round (the worker can fetch it from then on).
      await pending;
      const t = performance.now();
      const measured = t >= windowStart && t < windowEnd;
      for (let p = 0; p < partitions; p++) sent.set(`${p}:${date}`, { t, measured });
      if (measured) measuredOut += partitions;
    }, ROUND_MS);
    for (;;) {
      check();
      trickle.check();
      const now = performance.now();
      if (now >= windowEnd && measuredSeen === measuredOut) break;
      if (now > windowEnd + idleMs + 15_000) break;
      await sleep(50);
    }
    await trickle.stop();
    trickle = undefined;
    const lat = [...sent.values()].filter((f) => f.measured && f.latency !== undefined).map((f) => f.latency!).sort((a, b) => a - b);
    let mergeSkips = 0;
    for (let p = 0; p < partitions; p++) mergeSkips += worker.metrics.get('skewless_merge_skips_total', { partition: String(p) }) ?? 0;

    // Throughput: a burst of flights into the running worker, from the start of its produce until every one is committed.
    let burstRate = 0;
    if (burst > 0) {
      writeBurst();
      await sleep(idleMs + 1000);
      const b0 = performance.now();
      await produceFile({ plan: delaysPlan, source: 'flights', input: burstFile, topic: input, partitions, brokers, registryUrl });
      const target = await fetchOffsets(conn, input);
      for (;;) {
        check();
        if (await committed(target)) break;
        if (performance.now() - b0 > 600_000) throw new Error(`${s.label}: the burst was not committed after 600 s`);
        await sleep(20);
      }
      burstRate = burst / ((performance.now() - b0) / 1000);
    }
    return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), samples: lat.length, missing: measuredOut - lat.length, mergeSkips, burstRate };
  } finally {
    await trickle?.stop();
    await watcher?.stop().catch(() => undefined);
    await worker.stop().catch(() => undefined);
  }
}

const t0 = performance.now();
const facts = await prepareSlice(join(root, 'node_modules/vega-datasets/data/flights-3m.parquet'), join(work, 'flights.ndjson'), BACKLOG, flightSchema, partitions);
await produceFile({ plan: delaysPlan, source: 'flights', input: join(work, 'flights.ndjson'), topic: input, partitions, brokers, registryUrl });
await ensureTopic(conn, diversions, partitions);
// The burst: the first flights of the file again, moved in time to just after everything produced before each burst.
const burstFile = join(work, 'burst.ndjson');
const burstSource = join(work, 'burst-source.ndjson');
const burstFlights: Array<Record<string, unknown> & { date: number }> = [];
if (burst > 0) {
  await prepareSlice(join(root, 'node_modules/vega-datasets/data/flights-3m.parquet'), burstSource, burst, flightSchema, partitions);
  for (const line of readFileSync(burstSource, 'utf8').split('\n')) if (line !== '') burstFlights.push(JSON.parse(line) as Record<string, unknown> & { date: number });
}
const burstFirst = burstFlights.reduce((m, f) => Math.min(m, f.date), Infinity);
const burstLast = burstFlights.reduce((m, f) => Math.max(m, f.date), -Infinity);
/** Writes the burst file dated from a minute after the latest date produced so far. */
function writeBurst(): void {
  const shift = lastDate + 60_000 - burstFirst;
  writeFileSync(burstFile, burstFlights.map((f) => JSON.stringify({ ...f, date: f.date + shift })).join('\n') + '\n');
  lastDate = burstLast + shift;
}
const schemaId = await registry.register(`${input}-value`, flightSchema);
const later = await LaterFlights.open(conn, input, flightSchema, schemaId, facts);
// Event time of the trickle: a minute per round, after every flight of the backlog.
let lastDate = facts.maxDate;
const nextDate = (): number => (lastDate += 60_000);
say(`config: ${runs} runs, ${partitions} partitions, exactly-once, idleMs ${idleMs}; backlog ${fmt(BACKLOG)} flights, then a flight per partition every ${ROUND_MS} ms, measured over ${windowSecs} s after ${warmupSecs} s (prepared in ${secs(performance.now() - t0)} s)`);

const results = new Map<string, Latency[]>();
const topics: string[] = [input, diversions];
const groups: string[] = [];
try {
  for (let r = 0; r < runs; r++) {
    const specs: Spec[] = [
      { label: 'flight-delays (one input)', plan: delaysPlan, id: `${id}-d${r}` },
      { label: 'flight-delays-side-input (diversions quiet)', plan: sidePlan, id: `${id}-s${r}` },
    ];
    if (r % 2 === 1) specs.reverse();
    for (const s of specs) {
      groups.push(groupOf(s), `${s.id}-watch`);
      const program = buildProgram(s.plan);
      topics.push(...program.outputs.map((o) => outputOf(s, o.name)), lateTopic(s.id), deadLetterTopic(s.id), changelogTopic(groupOf(s), s.plan.version));
      const l = await measure(s, later, nextDate);
      results.set(s.label, [...(results.get(s.label) ?? []), l]);
      say(
        `run ${r + 1} ${s.label}: produce-to-vector p50 ${l.p50.toFixed(0)} ms, p99 ${l.p99.toFixed(0)} ms over ${fmt(l.samples)} flights (${l.missing} missing); ${fmt(l.mergeSkips)} merge skips` +
          (burst > 0 ? `; a burst of ${fmt(burst)} flights committed at ${fmt(l.burstRate)} events/s` : ''),
      );
    }
  }
  say(`medians over ${runs} runs (idleMs ${idleMs}, exactly-once, worker and broker on this machine):`);
  for (const [label, ls] of results) {
    say(
      `  ${label}: p50 ${median(ls.map((l) => l.p50)).toFixed(0)} ms (runs: ${ls.map((l) => l.p50.toFixed(0)).join(' / ')}), p99 ${median(ls.map((l) => l.p99)).toFixed(0)} ms (runs: ${ls.map((l) => l.p99.toFixed(0)).join(' / ')})` +
        (burst > 0 ? `; burst ${fmt(median(ls.map((l) => l.burstRate)))} events/s (runs: ${ls.map((l) => fmt(l.burstRate)).join(' / ')})` : ''),
    );
  }
} finally {
  await later.close();
  await deleteTopics(conn, topics, { timeoutMs: 30_000 }).catch(() => false);
  for (const g of groups) await deleteGroup(conn, g).catch(() => undefined);
  await conn.close();
  rmSync(work, { recursive: true, force: true });
}
