/**
 * Replay hands partitions to threads by how much input each holds. The estimate for a file split
 * by key counts how its first records split (expected here from kafkajs' own partitioner, not
 * from skewless' router) and divides the file's size in that proportion; a directory's partitions
 * weigh their files' sizes; a Kafka snapshot's partitions their engine records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from '../../src/io/kafka/kafkajs-runtime.js';
import { estimatePartitionBytes } from '../../src/io/files/partitioned-file-input.js';
import { inputPartitionWeights } from '../../src/modes/input-weights.js';
import { loadTopology } from '../../src/plan/load-topology.js';

function kafkajsPartition(key: string, numPartitions: number): number {
  const partitioner = kafkajs.Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: numPartitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  return partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
}

const dir = mkdtempSync(join(tmpdir(), 'skewless-weights-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// 10,000 records; the first 4,096 (one read batch) use keys a0..a9, the rest b0..b2: a sample of
// the first batch sees only the a-keys, a sample of everything sees both.
const keys = Array.from({ length: 10_000 }, (_, i) => (i < 4096 ? `a${i % 10}` : `b${i % 3}`));
const file = join(dir, 'events.ndjson');
writeFileSync(file, keys.map((k, i) => JSON.stringify({ k, i })).join('\n') + '\n');
const size = statSync(file).size;
const split = { source: 'events', path: file, partitions: 4, partitionKey: (v: unknown) => (v as { k: string }).k };

function expected(first: number): number[] {
  const counts = [0, 0, 0, 0];
  for (const k of keys.slice(0, first)) counts[kafkajsPartition(k, 4)]++;
  return counts.map((c) => (size * c) / first);
}

test('a split file: its size divided as its first records split, one read batch or all of them', async () => {
  const firstBatch = await estimatePartitionBytes(split, 4, 4096);
  const all = await estimatePartitionBytes(split, 4, 1_000_000);
  for (let p = 0; p < 4; p++) {
    assert.ok(Math.abs(firstBatch[p] - expected(4096)[p]) < 1e-6, `first batch, partition ${p}: ${firstBatch[p]} vs ${expected(4096)[p]}`);
    assert.ok(Math.abs(all[p] - expected(10_000)[p]) < 1e-6, `all, partition ${p}: ${all[p]} vs ${expected(10_000)[p]}`);
  }
  assert.notDeepEqual(firstBatch, all, 'the two samples see different keys');
});

test('a directory: each partition weighs its file', async () => {
  const parts = join(dir, 'parts');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(parts);
  writeFileSync(join(parts, 'events-0.ndjson'), '{"k":"x"}\n');
  writeFileSync(join(parts, 'events-2.ndjson'), '{"k":"y"}\n{"k":"y"}\n{"k":"y"}\n');
  assert.deepEqual(await estimatePartitionBytes({ source: 'events', path: parts }, 4), [10, 0, 30, 0]);
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
