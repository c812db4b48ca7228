/**
 * Replay hands partitions to threads by how much input each holds. A file split by key is
 * divided as its records split (expected here from kafkajs' own partitioner, not from skewless'
 * router) when it holds no more than the sample; a larger NDJSON or Avro file gives no weights at
 * all, since its head can be all one key, while a larger Parquet file is weighed whole from its
 * key column; a directory's partitions weigh their files' sizes; a Kafka snapshot's partitions
 * their engine records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { asyncBufferFromFile, parquetRead, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import kafkajs from '../../src/io/kafka/kafkajs-runtime.js';
import { partitionBytes } from '../../src/io/files/partitioned-file-input.js';
import { inputPartitionWeights } from '../../src/modes/input-weights.js';
import { loadTopology } from '../../src/plan/load-topology.js';

function kafkajsPartition(key: string, numPartitions: number): number {
  const partitioner = kafkajs.Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: numPartitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  return partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
}

const dir = mkdtempSync(join(tmpdir(), 'skewless-weights-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// 10,000 records sorted by key: the first 4,096 (one read batch) use only key a, the rest b0..b2.
const keys = Array.from({ length: 10_000 }, (_, i) => (i < 4096 ? 'a' : `b${i % 3}`));
const file = join(dir, 'events.ndjson');
writeFileSync(file, keys.map((k, i) => JSON.stringify({ k, i })).join('\n') + '\n');
const size = statSync(file).size;
const split = { source: 'events', path: file, partitions: 4, partitionKey: (v: unknown) => (v as { k: string }).k };

test('a split file: its size divided as all its records split; none when it holds more than the sample (its head is all one key)', async () => {
  const counts = [0, 0, 0, 0];
  for (const k of keys) counts[kafkajsPartition(k, 4)]++;
  const all = await partitionBytes(split, 4, 10_000);
  assert.ok(all !== undefined);
  for (let p = 0; p < 4; p++) assert.ok(Math.abs(all[p] - (size * counts[p]) / keys.length) < 1e-6, `partition ${p}: ${all[p]}`);
  assert.equal(await partitionBytes(split, 4, 4096), undefined);
  assert.equal(await partitionBytes(split, 4, 9_999), undefined);
});

test('a large Parquet file split by key: all its rows split, from the key column alone (3,000,000 flights by origin)', async () => {
  const flights = fileURLToPath(new URL('../../node_modules/vega-datasets/data/flights-3m.parquet', import.meta.url));
  // Expected: every origin read with hyparquet directly, partitioned by kafkajs' partitioner.
  const origins = new Map<string, number>();
  await parquetRead({
    file: await asyncBufferFromFile(flights),
    compressors,
    columns: ['origin'],
    onChunk: ({ columnData }) => {
      for (let i = 0; i < columnData.length; i++) {
        const o = String(columnData[i]);
        origins.set(o, (origins.get(o) ?? 0) + 1);
      }
    },
  });
  const counts = new Array<number>(8).fill(0);
  for (const [origin, n] of origins) counts[kafkajsPartition(origin, 8)] += n;
  const rows = counts.reduce((a, b) => a + b, 0);
  assert.equal(rows, 3_000_000);
  const size = statSync(flights).size;
  const bytes = await partitionBytes({ source: 'flights', path: flights, partitions: 8, partitionKey: (v) => String((v as { origin: string }).origin) }, 8);
  assert.ok(bytes !== undefined);
  for (let p = 0; p < 8; p++) assert.ok(Math.abs(bytes[p] - (size * counts[p]) / rows) < 1e-3, `partition ${p}: ${bytes[p]} against ${(size * counts[p]) / rows}`);
  // A key that reads no column of the file gives no weights (every row would look keyless).
  assert.equal(await partitionBytes({ source: 'flights', path: flights, partitions: 8, partitionKey: (v) => String((v as { airport: string }).airport) }, 8), undefined);
});

/**
 * Keys of one column are weighed by tallying the column and running the key once per distinct
 * value; keys of several columns row by row. Both must split as the rows do: expected here from
 * every row read with hyparquet and partitioned by kafkajs, a row whose key is null or whose
 * INT64 does not fit a number (an error record) on partition 0, where the replay sends it.
 */
test('a Parquet file split by a key of one column or of two: nulls, NaN, -0 and INT64 beyond 2^53 weigh where the replay sends their rows', async () => {
  const variants = join(dir, 'variants');
  const result = spawnSync('python3', ['test/python/write_flat_variants.py', variants], { encoding: 'utf8' });
  assert.equal(result.status, 0, `test/python/write_flat_variants.py (pip install -r requirements.txt): ${result.stderr}`);
  const path = join(variants, 'zstd-v2-dict.parquet');
  const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(path), compressors })) as Array<Record<string, unknown>>;
  assert.equal(rows.length, 3000);
  const fits = (v: unknown): boolean => typeof v !== 'bigint' || (v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n);
  const plain = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : (v ?? null));
  const keys: Array<[string, readonly string[], (v: Record<string, unknown>) => string | null]> = [
    ['s', ['s'], (v) => (v.s === null ? null : String(v.s))],
    ['i64', ['i64'], (v) => (v.i64 === null ? null : String(v.i64))],
    ['f64', ['f64'], (v) => (v.f64 === null ? null : String(v.f64))],
    ['s and i32', ['s', 'i32'], (v) => `${String(v.s)}/${String(v.i32)}`],
  ];
  const size = statSync(path).size;
  for (const [what, columns, key] of keys) {
    const counts = new Array<number>(8).fill(0);
    for (const row of rows) {
      const value = Object.fromEntries(columns.map((c) => [c, plain(row[c])]));
      const k = columns.every((c) => fits(row[c])) ? key(value) : null;
      counts[k === null ? 0 : kafkajsPartition(k, 8)]++;
    }
    assert.ok(counts.filter((n) => n > 0).length >= 4, `${what}: the rows spread over partitions`);
    // A sample of 10 records makes this 3,000-row file a large one: weighed from its columns.
    const bytes = await partitionBytes({ source: 'v', path, partitions: 8, partitionKey: key as (v: unknown) => string | null }, 8, 10);
    assert.ok(bytes !== undefined, what);
    for (let p = 0; p < 8; p++) assert.ok(Math.abs(bytes[p] - (size * counts[p]) / rows.length) < 1e-6, `${what}, partition ${p}: ${bytes[p]} against ${(size * counts[p]) / rows.length}`);
  }
});

test('a directory: each partition weighs its file', async () => {
  const parts = join(dir, 'parts');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(parts);
  writeFileSync(join(parts, 'events-0.ndjson'), '{"k":"x"}\n');
  writeFileSync(join(parts, 'events-2.ndjson'), '{"k":"y"}\n{"k":"y"}\n{"k":"y"}\n');
  assert.deepEqual(await partitionBytes({ source: 'events', path: parts }, 4), [10, 0, 30, 0]);
});

test('a Kafka snapshot: records of the engine sources per partition, label topics left out', async () => {
  const plan = await loadTopology('topologies/card-fraud.ts');
  assert.ok(plan.labelSources.length > 0 && plan.engineSources.length > 1, 'card-fraud has label and several engine sources');
  const ranges = (n: number) => [
    { partition: 0, start: 5, end: 5 + n },
    { partition: 1, start: 100, end: 100 + 2 * n },
  ];
  const sources = [...plan.engineSources.map((source, i) => ({ source, topic: source, ranges: ranges(i + 1) })), ...plan.labelSources.map((source) => ({ source, topic: source, ranges: ranges(1000) }))];
  const n = plan.engineSources.length;
  const total = (n * (n + 1)) / 2;
  const weights = await inputPartitionWeights(plan, { kind: 'kafka', brokers: [], registryUrl: '', security: undefined, partitions: 2, sources });
  assert.deepEqual(weights, [total, 2 * total]);
});

test('weights of a file are kept by its path, size, time, key and partitions; a rewritten file is weighed again', async () => {
  const plan = await loadTopology(join(fileURLToPath(new URL('../../', import.meta.url)), 'topologies/flight-delays.ts'));
  const flights = join(dir, 'flights.ndjson');
  const write = (origins: readonly string[]): void =>
    writeFileSync(flights, Array.from({ length: 3000 }, (_, i) => JSON.stringify({ date: i * 60_000, delay: 1, distance: 2, origin: origins[i % origins.length], destination: 'X' })).join('\n') + '\n');
  const spec = { kind: 'files' as const, inputs: { flights }, partitions: 4 };
  write(['SFO', 'LAX', 'SEA', 'JFK', 'ORD', 'ATL']);
  const { filePartitionBytes } = await import('../../src/modes/file-replay-input.js');
  const first = await inputPartitionWeights(plan, spec);
  assert.deepEqual(first, await filePartitionBytes(plan, spec));
  assert.deepEqual(await inputPartitionWeights(plan, spec), first, 'the same file, the same weights');
  // Another file behind the same path: weighed again, not taken from the cache.
  write(['SFO', 'SFO', 'SFO', 'BOS']);
  const second = await inputPartitionWeights(plan, spec);
  assert.deepEqual(second, await filePartitionBytes(plan, spec));
  assert.notDeepEqual(second, first);
  // Another partition count is another entry.
  assert.equal((await inputPartitionWeights(plan, { ...spec, partitions: 3 }))?.length, 3);
});
