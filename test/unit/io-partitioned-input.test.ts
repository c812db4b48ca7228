import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from '../../src/io/kafka/kafkajs-runtime.js';
import type { InputBatch, SourceValue } from '../../src/engine/input.js';
import { openFileInput, type FileInputOptions } from '../../src/io/files/partitioned-file-input.js';
import { createTrainingWriter } from '../../src/io/files/parquet-training-writer.js';

async function withTempDir(fn: (dir: string) => unknown): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-io-input-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ndjson = (values: readonly object[]): string => values.map((v) => JSON.stringify(v)).join('\n') + '\n';

async function collect(options: FileInputOptions): Promise<{ batches: InputBatch[]; ranges: ReturnType<ReturnType<typeof openFileInput>['ranges']> }> {
  const input = openFileInput(options);
  const batches: InputBatch[] = [];
  for await (const batch of input.batches()) batches.push(batch);
  return { batches, ranges: input.ranges() };
}

/** The partition kafkajs's own producer would choose for this key. */
function kafkajsPartition(key: string, numPartitions: number): number {
  const partitioner = kafkajs.Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: numPartitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  return partitioner({ topic: 'payments', partitionMetadata, message: { key, value: null } });
}

const byPartition = (batches: readonly InputBatch[]): Map<number, InputBatch['records'][number][]> => {
  const out = new Map<number, InputBatch['records'][number][]>();
  for (const batch of batches) out.set(batch.partition, [...(out.get(batch.partition) ?? []), ...batch.records]);
  return out;
};

test('a directory of numbered files maps file <name>-<n> to partition n; offsets are per file', () =>
  withTempDir(async (dir) => {
    writeFileSync(join(dir, 'payments-2.ndjson'), ndjson([{ p: 2, i: 0 }, { p: 2, i: 1 }, { p: 2, i: 2 }]));
    writeFileSync(join(dir, 'payments-0.ndjson'), ndjson([{ p: 0, i: 0 }]));
    writeFileSync(join(dir, 'payments-10.ndjson'), ndjson([{ p: 10, i: 0 }, { p: 10, i: 1 }]));
    writeFileSync(join(dir, '_SUCCESS'), '');
    writeFileSync(join(dir, '.payments-3.ndjson.crc'), 'x');

    const { batches, ranges } = await collect({ source: 'payments', path: dir, batchSize: 2 });
    assert.ok(batches.every((b) => b.source === 'payments' && b.records.length <= 2));
    // One batch per file in turn, so every partition makes progress.
    assert.deepEqual(batches.map((b) => b.partition), [0, 2, 10, 2]);
    const parts = byPartition(batches);
    for (const [partition, records] of parts) {
      records.forEach((record, offset) => {
        assert.equal(record.offset, offset);
        assert.deepEqual(record.value, { p: partition, i: offset });
      });
    }
    assert.deepEqual(ranges, [
      { source: 'payments', partition: 0, origin: join(dir, 'payments-0.ndjson'), firstOffset: 0, endOffset: 1 },
      { source: 'payments', partition: 2, origin: join(dir, 'payments-2.ndjson'), firstOffset: 0, endOffset: 3 },
      { source: 'payments', partition: 10, origin: join(dir, 'payments-10.ndjson'), firstOffset: 0, endOffset: 2 },
    ]);
  }));

test('a directory of other names is sorted by name (code units) and the index is the partition', () =>
  withTempDir(async (dir) => {
    writeFileSync(join(dir, 'b.jsonl'), ndjson([{ f: 'b' }]));
    writeFileSync(join(dir, 'B.jsonl'), ndjson([{ f: 'B' }]));
    writeFileSync(join(dir, 'a-1.jsonl'), ndjson([{ f: 'a-1' }]));
    const { batches } = await collect({ source: 's', path: dir });
    assert.deepEqual(batches.map((b) => [b.partition, b.records[0].value]), [
      [0, { f: 'B' }],
      [1, { f: 'a-1' }],
      [2, { f: 'b' }],
    ]);
  }));

test('a directory may mix formats; parquet and ndjson partitions read side by side', () =>
  withTempDir(async (dir) => {
    const writer = createTrainingWriter({ path: join(dir, 'part-1.parquet'), columns: [{ name: 'id', type: 'int64', nullable: false }] });
    writer.appendColumns({ id: [10, 11, 12] }, 3);
    writer.close();
    writeFileSync(join(dir, 'part-0.ndjson'), ndjson([{ id: 0 }]));
    const { batches, ranges } = await collect({ source: 's', path: dir });
    assert.deepEqual(byPartition(batches).get(1)?.map((r) => r.value), [{ id: 10 }, { id: 11 }, { id: 12 }]);
    assert.deepEqual(ranges.map((r) => [r.partition, r.endOffset]), [[0, 1], [1, 3]]);
  }));

test('a single file split by key lands every record on kafkajs DefaultPartitioner partition, numbered within it', () =>
  withTempDir(async (dir) => {
    const values = Array.from({ length: 1000 }, (_, i) => ({ card: `card-${i % 37}`, seq: i }));
    const path = join(dir, 'payments.ndjson');
    writeFileSync(path, ndjson(values));
    const partitions = 6;
    const { batches, ranges } = await collect({
      source: 'payments',
      path,
      partitions,
      partitionKey: (v: SourceValue) => v.card as string,
      batchSize: 50,
    });
    assert.ok(batches.every((b) => b.records.length <= 50 && b.records.length > 0));
    const parts = byPartition(batches);
    let total = 0;
    for (const [partition, records] of parts) {
      total += records.length;
      let lastSeq = -1;
      records.forEach((record, offset) => {
        const value = record.value as { card: string; seq: number };
        assert.equal(partition, kafkajsPartition(value.card, partitions), `${value.card} is on partition ${partition}`);
        assert.equal(record.offset, offset, 'offsets count records within the partition');
        assert.ok(value.seq > lastSeq, 'file order is kept within the partition');
        lastSeq = value.seq;
      });
    }
    assert.equal(total, 1000);
    assert.deepEqual(
      ranges,
      Array.from({ length: partitions }, (_, p) => ({ source: 'payments', partition: p, origin: path, firstOffset: 0, endOffset: parts.get(p)?.length ?? 0 })),
    );
  }));

test('unkeyed, key-failing and malformed records go to partition 0 instead of being lost', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'mixed.ndjson');
    writeFileSync(path, ['{"card":"c1"}', '{"card":null}', 'not json', '{"nocard":true}', '{"card":"c2"}'].join('\n'));
    const key = (v: SourceValue): string | null => {
      if (!('card' in v)) throw new Error('no card field');
      return v.card as string | null;
    };
    const { batches } = await collect({ source: 's', path, partitions: 4, partitionKey: key });
    const zero = byPartition(batches).get(0) ?? [];
    const fromZero = zero.filter((r) => r.value?.card !== 'c1' && r.value?.card !== 'c2');
    assert.equal(fromZero.length, 3);
    assert.deepEqual(fromZero[0].value, { card: null });
    assert.match(fromZero[1].error ?? '', /^invalid JSON at line 3: /);
    assert.equal(fromZero[2].error, 'cannot compute the partition key: no card field');
    assert.equal(fromZero[1].raw, 'not json');
    assert.equal(fromZero[2].raw, '{"nocard":true}');
    const all = [...byPartition(batches).values()].flat();
    assert.equal(all.length, 5);
    for (const [, records] of byPartition(batches)) records.forEach((r, i) => assert.equal(r.offset, i));
  }));

test('one file without partitioning is partition 0 with file offsets; input is iterable once', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'x.json');
    writeFileSync(path, ndjson([{ a: 1 }, { a: 2 }, { a: 3 }]));
    const input = openFileInput({ source: 's', path, partitions: 1, batchSize: 2 });
    const batches: InputBatch[] = [];
    for await (const batch of input.batches()) batches.push(batch);
    assert.deepEqual(batches, [
      // NDJSON records carry their line and text for their dead letter.
      { source: 's', partition: 0, records: [{ offset: 0, line: 1, raw: '{"a":1}', value: { a: 1 } }, { offset: 1, line: 2, raw: '{"a":2}', value: { a: 2 } }] },
      { source: 's', partition: 0, records: [{ offset: 2, line: 3, raw: '{"a":3}', value: { a: 3 } }] },
    ]);
    assert.deepEqual(input.ranges(), [{ source: 's', partition: 0, origin: path, firstOffset: 0, endOffset: 3 }]);
    assert.throws(() => input.batches(), /can be read only once/);
  }));

test('layout problems fail at open with one-line messages naming the path and the fix', () =>
  withTempDir(async (dir) => {
    assert.throws(() => openFileInput({ source: 's', path: join(dir, 'missing.avro') }), {
      message: `skewless: cannot read ${join(dir, 'missing.avro')}: no such file or directory. Check the path.`,
    });
    writeFileSync(join(dir, 'data.csv'), 'a,b\n');
    assert.throws(() => openFileInput({ source: 's', path: join(dir, 'data.csv') }), {
      message: `skewless: cannot read ${join(dir, 'data.csv')}: unknown file extension ".csv" (known: .ndjson, .jsonl, .json, .avro, .parquet). Pass --format ndjson|avro|parquet or rename the file.`,
    });
    writeFileSync(join(dir, 'one.ndjson'), '{}\n');
    assert.throws(() => openFileInput({ source: 's', path: join(dir, 'one.ndjson'), partitions: 3 }), /splitting one file into 3 partitions needs a partition key/);

    const empty = join(dir, 'empty');
    mkdirSync(empty);
    assert.throws(() => openFileInput({ source: 's', path: empty }), /the directory holds no input files/);

    const dup = join(dir, 'dup');
    mkdirSync(dup);
    writeFileSync(join(dup, 'a-1.ndjson'), '{}\n');
    writeFileSync(join(dup, 'b-01.ndjson'), '{}\n');
    assert.throws(() => openFileInput({ source: 's', path: dup }), /two files for partition 1: a-1\.ndjson and b-01\.ndjson/);
    assert.throws(() => openFileInput({ source: 's', path: join(dup, 'a-1.ndjson'), partitions: 0 }), /partitions must be a positive integer/);

    const wide = join(dir, 'wide');
    mkdirSync(wide);
    writeFileSync(join(wide, 'p-5.ndjson'), '{}\n');
    assert.throws(() => openFileInput({ source: 's', path: wide, partitions: 4 }), /maps to partition 5 but the source has 4 partitions/);

    // A format given explicitly wins over the extension; a wrong one fails when reading.
    writeFileSync(join(dir, 'fake.parquet'), '{"a":1}\n');
    const asNdjson = await collect({ source: 's', path: join(dir, 'fake.parquet'), format: 'ndjson' });
    assert.deepEqual(asNdjson.batches[0].records, [{ offset: 0, line: 1, raw: '{"a":1}', value: { a: 1 } }]);
    await assert.rejects(collect({ source: 's', path: join(dir, 'fake.parquet') }), {
      message: `skewless: cannot read ${join(dir, 'fake.parquet')}: not a Parquet file (bad magic). Pass --format or check the path.`,
    });
  }));
