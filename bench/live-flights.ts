/**
 * Live end-to-end benchmark of flight-delays over Kafka: the first 1,000,000 flights of
 * flights-3m.parquet are pre-loaded (not timed) into a fresh 8-partition topic with
 * produceFile, then `startLiveWorker` is timed from start until every input record is applied
 * and checkpointed (the worker's `skewless_records_total`, summed over partitions). That covers
 * consuming, decoding, the engine, producing the feature vectors (waiting for their acks) and
 * the state checkpoints. Not part of `npm test`; needs the local stack:
 *   export $(node scripts/stack/up.mjs) && npm run bench:live
 *   npm run bench:live -- --runs 3 --records 1000000 --max-bytes 4194304 --keep-slice
 *   npm run bench:live -- --parity 0.01    (each run also with 1% parity sampling: its cost)
 *
 * Latency: the topic is a pre-loaded backlog, so "event-to-output" is measured per fetched
 * batch, from when the batch was handed to the worker (fetched) to when its outputs were
 * acknowledged by the broker and its state checkpointed; p50/p99 over batches.
 */
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { readFileRecords } from '../src/io/files/read-file-records.js';
import { KafkaConnection, parseBrokers } from '../src/io/kafka/kafka-connection.js';
import { deleteTopics } from '../src/io/kafka/topic-admin.js';
import { deadLetterTopic, lateTopic, startLiveWorker, type LiveBatchTiming } from '../src/modes/live-worker.js';
import { produceFile } from '../src/modes/produce-file.js';
import { loadTopology } from '../src/plan/load-topology.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const flag = (name: string): boolean => process.argv.includes(`--${name}`);
const runs = arg('runs', 3);
const partitions = arg('partitions', 8);
const wanted = arg('records', 1_000_000);
const maxBytes = arg('max-bytes', 0) || undefined;
const concurrency = arg('concurrency', 1);
/** With --parity R, every run is done twice, without and with parity sampling at rate R, to measure its cost. */
const parityRate = arg('parity', 0);
const verbose = flag('verbose');

const brokersEnv = process.env.KAFKA_BROKERS;
const registryUrl = process.env.SCHEMA_REGISTRY_URL;
if (!brokersEnv || !registryUrl) {
  process.stderr.write('bench:live needs the stack: export $(node scripts/stack/up.mjs) (KAFKA_BROKERS, SCHEMA_REGISTRY_URL)\n');
  process.exit(2);
}
const brokers = parseBrokers(brokersEnv);
const plan = await loadTopology(join(root, 'topologies/flight-delays.ts'));
const parquet = join(root, 'node_modules/vega-datasets/data/flights-3m.parquet');
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The first `wanted` flights as NDJSON (file order = arrival order), written once for all runs. */
async function writeSlice(path: string): Promise<number> {
  const out = createWriteStream(path);
  let n = 0;
  for await (const batch of readFileRecords(parquet, 'parquet')) {
    let chunk = '';
    for (const rec of batch) {
      if (n >= wanted) break;
      if (rec.value === undefined) throw new Error(`flight ${rec.offset}: ${rec.error}`);
      chunk += `${JSON.stringify(rec.value)}\n`;
      n++;
    }
    if (!out.write(chunk)) await once(out, 'drain');
    if (n >= wanted) break;
  }
  out.end();
  await once(out, 'finish');
  return n;
}

interface RunResult {
  readonly rate: number;
  readonly steadyRate: number;
  readonly secs: number;
  readonly p50: number;
  readonly p99: number;
  readonly breakdown: Record<string, number>;
}

const work = mkdtempSync(join(tmpdir(), 'skewless-bench-live-'));
const slice = join(work, 'flights-slice.ndjson');
const conn = await KafkaConnection.open({ brokers });
const results: RunResult[] = [];
const sampledResults: RunResult[] = [];
try {
  const s0 = performance.now();
  const sliced = await writeSlice(slice);
  say(`slice: first ${fmt(sliced)} flights of flights-3m.parquet in ${((performance.now() - s0) / 1000).toFixed(1)} s`);

  for (let r = 0; r < runs; r++) for (const sampling of parityRate > 0 ? [0, parityRate] : [0]) {
    const id = `bench-live-${Date.now().toString(36)}-${r + 1}`;
    const input = `${id}-flights`;
    const output = `${id}-features`;
    const parityTopic = `${id}-parity`;
    const topics = [input, output, lateTopic(id), deadLetterTopic(id), ...(sampling > 0 ? [parityTopic] : [])];
    const label = sampling > 0 ? `run ${r + 1} with ${sampling * 100}% parity sampling` : `run ${r + 1}`;
    const stateDir = join(work, `state-${r + 1}`);
    try {
      const p0 = performance.now();
      const produced = await produceFile({ plan, source: 'flights', input: slice, topic: input, partitions, brokers, registryUrl, batchSize: 16384 });
      if (produced.produced !== sliced) throw new Error(`produced ${produced.produced} of ${sliced} flights (${produced.skipped} skipped)`);
      say(`${label}: pre-loaded ${fmt(produced.produced)} flights into ${input} (${partitions} partitions) in ${((performance.now() - p0) / 1000).toFixed(1)} s (not timed)`);

      const timings: LiveBatchTiming[] = [];
      const t0 = performance.now();
      const worker = await startLiveWorker({
        plan,
        brokers,
        registryUrl,
        stateDir,
        group: `${id}-group`,
        sourceTopics: { flights: input },
        outputTopics: { flight_features: output },
        sideTopicPrefix: id,
        maxBytesPerPartition: maxBytes,
        partitionsConcurrently: concurrency,
        parity: sampling > 0 ? { rate: sampling, topic: parityTopic } : undefined,
        log: verbose ? undefined : () => undefined,
        onBatchTiming: (t) => void timings.push(t),
      });
      const applied = (): number => {
        let sum = 0;
        for (let p = 0; p < partitions; p++) sum += worker.metrics.get('skewless_records_total', { partition: String(p) }) ?? 0;
        return sum;
      };
      const deadline = t0 + 600_000;
      while (applied() < produced.produced) {
        if (performance.now() > deadline) throw new Error(`timed out: ${applied()} of ${produced.produced} applied after 600 s`);
        await new Promise((res) => setTimeout(res, 5));
      }
      const t1 = performance.now();
      const sum = (name: string): number => {
        let s = 0;
        for (let p = 0; p < partitions; p++) s += worker.metrics.get(name, { partition: String(p) }) ?? 0;
        return s;
      };
      const features = sum('skewless_features_total');
      const late = sum('skewless_late_total');
      const dead = sum('skewless_dead_letters_total');
      const samples = sum('skewless_parity_samples_total');
      await worker.stop();

      const secs = (t1 - t0) / 1000;
      const firstFetch = Math.min(...timings.map((t) => t.fetchedAt));
      const lastDone = Math.max(...timings.map((t) => t.doneAt));
      const rate = produced.produced / secs;
      const steadyRate = produced.produced / ((lastDone - firstFetch) / 1000);
      const lat = timings.map((t) => t.doneAt - t.fetchedAt).sort((a, b) => a - b);
      const total = (k: 'decodeMs' | 'queueMs' | 'engineMs' | 'produceMs' | 'checkpointMs'): number => timings.reduce((s, t) => s + t[k], 0);
      const busy = timings.reduce((s, t) => s + (t.doneAt - t.fetchedAt), 0);
      const breakdown: Record<string, number> = {
        'startup (connect, registry, topics, group join)': firstFetch - t0,
        'decode (Avro, registry-resolved)': total('decodeMs'),
        'engine (incl. output encoding)': total('engineMs'),
        'produce + acks': total('produceMs'),
        'state checkpoint (LevelDB)': total('checkpointMs'),
        'task queue wait': total('queueMs'),
        'fetch wait + offset commit + kafkajs fetch decoding': lastDone - firstFetch - busy,
        'until the poller noticed': t1 - lastDone,
      };
      (sampling > 0 ? sampledResults : results).push({ rate, steadyRate, secs, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), breakdown });
      say(
        `${label}: ${fmt(produced.produced)} flights applied in ${secs.toFixed(2)} s = ${fmt(rate)} events/s from start ` +
          `(${fmt(steadyRate)} events/s from first fetch); ${fmt(features)} feature vectors, ${late} late, ${dead} dead letters; ` +
          (sampling > 0 ? `${fmt(samples)} vectors sampled to the parity log (${((100 * samples) / features).toFixed(2)}%); ` : '') +
          `${timings.length} batches (mean ${fmt(produced.produced / timings.length)} records); ` +
          `batch fetch-to-ack latency p50 ${quantile(lat, 0.5).toFixed(0)} ms, p99 ${quantile(lat, 0.99).toFixed(0)} ms`,
      );
      const wall = t1 - t0;
      for (const [k, v] of Object.entries(breakdown)) say(`    ${k.padEnd(54)} ${(v / 1000).toFixed(2).padStart(7)} s  ${((100 * v) / wall).toFixed(1).padStart(5)}%`);
    } finally {
      await deleteTopics(conn, topics).catch((e: unknown) => say(`${label}: could not delete topics: ${String(e)}`));
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
} finally {
  await conn.close();
  if (!flag('keep-slice') && existsSync(work)) rmSync(work, { recursive: true, force: true });
}

if (results.length > 0) {
  const keys = Object.keys(results[0].breakdown);
  say('');
  say(`median over ${results.length} runs (${fmt(wanted)} flights, ${partitions} partitions, worker and broker on this machine):`);
  say(`  events/s (consume + decode + process + produce feature vectors + checkpoint), from worker start: ${fmt(median(results.map((x) => x.rate)))}  (runs: ${results.map((x) => fmt(x.rate)).join(' / ')})`);
  say(`  events/s from first fetch: ${fmt(median(results.map((x) => x.steadyRate)))}  (runs: ${results.map((x) => fmt(x.steadyRate)).join(' / ')})`);
  say(
    `  latency per fetched batch, fetch to outputs acked + checkpointed (pre-loaded backlog, so not event creation time): ` +
      `p50 ${median(results.map((x) => x.p50)).toFixed(0)} ms, p99 ${median(results.map((x) => x.p99)).toFixed(0)} ms`,
  );
  say('  where the time goes (median seconds):');
  for (const k of keys) say(`    ${k.padEnd(54)} ${(median(results.map((x) => x.breakdown[k])) / 1000).toFixed(2).padStart(7)} s`);
  say(`  floor: 50,000 events/s`);
}
if (sampledResults.length > 0 && results.length > 0) {
  const without = median(results.map((x) => x.rate));
  const withSampling = median(sampledResults.map((x) => x.rate));
  say('');
  say(`parity sampling at ${parityRate * 100}%: ${fmt(withSampling)} events/s (runs: ${sampledResults.map((x) => fmt(x.rate)).join(' / ')}) vs ${fmt(without)} without`);
  say(`  cost: ${((100 * (without - withSampling)) / without).toFixed(1)}% of live throughput (median against median; budget 5%)`);
}
