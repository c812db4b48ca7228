/**
 * The new aggregations through every path: a file backfill writes list and map columns that pyarrow,
 * pandas and DuckDB read as lists and maps; and a live worker on the local stack serves, for every
 * (partition, offset), exactly the bytes a Kafka replay of the same topic computes (Avro arrays
 * and maps included, through the registry), and parity compares lists item for item.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { liveInternalTopics } from '../helpers/card-inputs.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { servedAll } from '../helpers/live-served.js';
import { compareVectors, exited, readLiveVectors, readReplayVectors, ROOT, spawnSkewless } from '../helpers/live-run.js';
import { stackForTests } from '../helpers/stack.js';
import { readNestedWithPython } from '../helpers/python-expected.js';

const FIXTURE = 'test/fixtures/aggregations-topology.ts';
const EVENTS = 3000;
const dir = mkdtempSync(join(tmpdir(), 'skewless-aggs-e2e-'));
const plan = await loadTopology(join(ROOT, FIXTURE));
const output = buildProgram(plan).outputs[0];
const data = await writeCardDataset({ outDir: join(dir, 'data'), events: EVENTS, seed: 16, format: 'ndjson' });

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('file backfill: list and map columns are Parquet LIST and MAP for pyarrow, pandas and DuckDB, equal to the JS reading', async () => {
  const out = join(dir, 'files');
  await replayFiles({ plan, inputs: { transactions: data.transactionsPath }, out, partitions: 2, workers: 1 });
  const part = readdirSync(join(out, 'agg_features')).filter((f) => f.endsWith('.parquet')).sort()[0];
  const py = readNestedWithPython(join(out, 'agg_features', part));
  assert.equal(py.arrow_types.top_amounts_24h, 'list<element: double not null>');
  assert.equal(py.arrow_types.last_merchants_24h, 'list<element: string not null>');
  assert.equal(py.duckdb_types.countries_24h, 'VARCHAR[]');
  assert.equal(py.arrow_types.amount_p95_24h, 'double');
  assert.match(py.arrow_types.amount_bins_24h, /^map<string, int64/);
  assert.equal(py.duckdb_types.countries_hist_7d, 'MAP(VARCHAR, BIGINT)');
  assert.match(py.arrow_types.mean_by_country_24h, /^map<string, double/);
  assert.equal(py.duckdb_types.spend_by_country_7d, 'MAP(VARCHAR, DOUBLE)');
  const js = await readReplayVectors(out, 'agg_features');
  const mine = [...js.values()].filter((r) => r.partition === 0).sort((a, b) => Number(a.offset) - Number(b.offset));
  for (const name of ['top_amounts_24h', 'last_merchants_24h', 'countries_24h', 'amount_quartiles_24h', 'top_amounts_7d']) {
    for (const reader of ['pyarrow', 'pandas', 'duckdb'] as const) assert.deepEqual(py[reader][name], mine.map((r) => r[name]), `${reader} ${name}`);
  }
  // Maps: [key, count] pairs in Python, objects with bigint counts in hyparquet.
  for (const name of ['amount_bins_24h', 'countries_hist_7d', 'spend_by_country_7d', 'mean_by_country_24h']) {
    const pairs = mine.map((r) => Object.entries(r[name] as Record<string, bigint | number | null>).map(([k, v]) => [k, v === null ? null : Number(v)]));
    for (const reader of ['pyarrow', 'pandas', 'duckdb'] as const) assert.deepEqual(py[reader][name], pairs, `${reader} ${name}`);
  }
  // The mean of an empty bucket is a null value in the map, never NaN.
  assert.ok(mine.some((r) => Object.values(r.mean_by_country_24h as object).includes(null)), 'some means per country are null');
  assert.ok(mine.some((r) => (r.top_amounts_24h as number[]).length === 3), 'some windows hold more than k values');
});

interface ParityJson {
  alert: boolean;
  mismatchCount: number;
  sample: { matched: number };
  mismatches: Array<{ feature: string }>;
}

/** `skewless parity` over a local parity file, as JSON. */
async function parity(sample: string, topic: string): Promise<{ code: number | null; result: ParityJson }> {
  const stack = await stackForTests();
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/skewless.mjs'), 'parity', FIXTURE, '--sample', sample, '--topic', `transactions=${topic}`, '--json'], { cwd: ROOT, env: stack.env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }); // the report lists map values' distributions: 1.5 MB here
  try {
    return { code: r.status, result: JSON.parse(r.stdout) as ParityJson };
  } catch {
    return assert.fail(`parity printed no JSON (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}${r.error ? `, ${r.error.message}` : ''}): ${r.stderr}`);
  }
}

test('live serves exactly what a Kafka replay computes, lists and maps included; parity checks them', { timeout: 240_000 }, async () => {
  const stack = await stackForTests();
  const run = randomUUID().slice(0, 8);
  const topics = { transactions: `aggs-tx-${run}`, features: `aggs-features-${run}`, daily: `aggs-daily-${run}`, side: `aggs-${run}`, parity: `aggs-parity-${run}` };
  const parityFile = join(dir, 'parity.ndjson');
  try {
    await produceFile({ plan, source: 'transactions', input: data.transactionsPath, topic: topics.transactions, partitions: 3, brokers: stack.brokers, registryUrl: stack.registryUrl });
    // The replay first: a row with merchant features leaves live once its regrouped answer is back,
    // and the last ones once the inputs are idle, so the wait is for every replayed row.
    const out = join(dir, 'kafka');
    await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: { transactions: topics.transactions }, out, workers: 1 });
    const replayed = await readReplayVectors(out, output.name);
    const args = ['run', FIXTURE, '--state', join(dir, 'state'), '--group', `aggs-${run}`, '--topic', `transactions=${topics.transactions}`, '--idle-ms', '1000'];
    args.push('--output-topic', `agg_features=${topics.features}`, '--output-topic', `agg_daily=${topics.daily}`, '--side-prefix', topics.side, '--max-batch', '37');
    args.push('--parity-rate', '0.5', '--parity-topic', topics.parity, '--parity-file', parityFile);
    const worker = spawnSkewless(args, stack.env);
    await servedAll({ brokers: stack.brokers, registryUrl: stack.registryUrl, output, topic: topics.features, expected: replayed.keys(), workers: [worker], timeoutMs: 150_000 });
    worker.kill('SIGTERM');
    assert.equal(await exited(worker), 0, worker.log);
    const live = await readLiveVectors(stack.brokers, stack.registryUrl, output, topics.features);
    for (const v of live) assert.ok(v.value, `decodable live vector: ${v.error}`);
    assert.ok(live.some((v) => Array.isArray(v.value?.top_amounts_24h) && (v.value?.top_amounts_24h as number[]).length === 3), 'lists are served as Avro arrays');
    assert.ok(live.every((v) => typeof v.value?.amount_bins_24h === 'object' && 'other' in (v.value?.amount_bins_24h as object)), 'histograms are served as Avro maps');
    const means = live.map((v) => v.value?.mean_by_country_24h as Record<string, number | null>);
    assert.ok(means.every((m) => Object.keys(m).join() === 'US,CA,MX,other'), 'bucketed means are served as Avro maps, declared categories first');
    assert.ok(means.some((m) => m.CA === null) && means.some((m) => typeof m.US === 'number'), 'with null for an empty bucket');
    // Lists and maps of the regrouped merchant cross the repartition topics as Avro arrays and maps.
    assert.ok(live.some((v) => Array.isArray(v.value?.merchant_top_amounts_24h) && (v.value?.merchant_top_amounts_24h as number[]).length === 2), 'regrouped lists are served');
    assert.ok(live.some((v) => ((v.value?.merchant_countries_24h as Record<string, number> | undefined)?.US ?? 0) > 0), 'regrouped histograms are served as maps with counts');
    const c = compareVectors(live, replayed, output);
    assert.equal(c.liveDistinct, c.expected, `live vectors ${c.liveDistinct} vs replayed ${c.expected}`);
    assert.deepEqual({ lost: c.lost, unexpected: c.unexpected, divergent: c.divergent, duplicatesDiffering: c.duplicatesDiffering }, { lost: 0, unexpected: 0, divergent: 0, duplicatesDiffering: 0 }, c.examples.join('\n'));

    // Parity: the sampled vectors (lists in the log's JSON) match their recomputation...
    const ok = await parity(parityFile, topics.transactions);
    assert.equal(ok.code, 0, JSON.stringify(ok.result.mismatches.slice(0, 3)));
    assert.ok(ok.result.sample.matched > 500, `paired ${ok.result.sample.matched}`);
    assert.equal(ok.result.mismatchCount, 0);
    // ...and a list that differs in one item is a mismatch of that feature.
    const lines = readFileSync(parityFile, 'utf8').split('\n').filter((l) => l !== '');
    const tampered = lines.map((l, i) => {
      const r = JSON.parse(l) as { kind?: string; values: string };
      if (i % 10 !== 0 || r.kind === 'late') return l;
      const values = JSON.parse(r.values) as Record<string, unknown>;
      if (!Array.isArray(values.last_merchants_24h) || values.last_merchants_24h.length === 0) return l;
      values.last_merchants_24h = ['someone-else', ...(values.last_merchants_24h as string[]).slice(1)];
      return JSON.stringify({ ...r, values: JSON.stringify(values) });
    });
    const skewedFile = join(dir, 'parity-skewed.ndjson');
    writeFileSync(skewedFile, `${tampered.join('\n')}\n`);
    const bad = await parity(skewedFile, topics.transactions);
    const features = new Set(bad.result.mismatches.map((m) => m.feature));
    assert.ok(bad.result.mismatchCount > 0, 'the changed lists are mismatches');
    assert.deepEqual([...features], ['last_merchants_24h']);
  } finally {
    await cleanUpKafka(stack.brokers, [topics.transactions, topics.features, topics.daily, topics.parity, `${topics.side}-late`, `${topics.side}-dead-letters`, ...liveInternalTopics(`aggs-${run}`, plan)], [`aggs-${run}`]);
  }
});
