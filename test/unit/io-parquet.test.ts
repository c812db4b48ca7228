import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { InputRecord } from '../../src/engine/input.js';
import { readParquetRecords } from '../../src/io/files/parquet-reader.js';
import { createTrainingWriter, type ColumnSpec } from '../../src/io/files/parquet-training-writer.js';
import { compileRowBuilder } from '../../src/io/files/row-builder.js';
import { NullableNumbers } from '../../src/io/files/nullable-numbers.js';

async function withTempDir(fn: (dir: string) => unknown): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-io-parquet-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function readAll(path: string, batchSize?: number): Promise<{ records: InputRecord[]; batchSizes: number[] }> {
  const records: InputRecord[] = [];
  const batchSizes: number[] = [];
  for await (const batch of readParquetRecords(path, { batchSize })) {
    batchSizes.push(batch.length);
    records.push(...batch);
  }
  return { records, batchSizes };
}

const columns: ColumnSpec[] = [
  { name: 'key', type: 'string', nullable: false },
  { name: 'ts', type: 'timestamp-ms', nullable: true },
  { name: 'n32', type: 'int32', nullable: true },
  { name: 'n64', type: 'int64', nullable: true },
  { name: 'x', type: 'double', nullable: true },
  { name: 'flag', type: 'boolean', nullable: true },
];

const rows = [
  { key: 'a', ts: 1704067200123, n32: 1, n64: 9007199254740991, x: 0.5, flag: true },
  { key: 'b', ts: null, n32: null, n64: null, x: null, flag: null },
  { key: 'ć', ts: -1, n32: -7, n64: -9007199254740991, x: -1e300, flag: false },
  { key: 'd', ts: 0, n32: 2147483647, n64: 0, x: Number.POSITIVE_INFINITY, flag: true },
  { key: 'e', ts: 1, n32: 0, n64: 42, x: 3, flag: false },
];

test('training writer → parquet reader round trip: types, nulls, offsets across row groups and batches', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'out', 'train.parquet');
    const writer = createTrainingWriter({ path, columns, rowGroupSize: 2 });
    for (const row of rows) writer.appendRow(row);
    const summary = writer.close({ 'skewless.version': 'v1' });
    assert.deepEqual({ rows: summary.rows, rowGroups: summary.rowGroups }, { rows: 5, rowGroups: 3 });

    const { records, batchSizes } = await readAll(path, 1);
    assert.deepEqual(batchSizes, [1, 1, 1, 1, 1]);
    assert.deepEqual(records, rows.map((value, offset) => ({ offset, value })));
    assert.deepEqual((await readAll(path)).records.map((r) => r.offset), [0, 1, 2, 3, 4]);
  }));

test('row groups are cut at fixed row counts, so the file bytes do not depend on append sizes', () =>
  withTempDir(async (dir) => {
    const many = Array.from({ length: 7 }, (_, i) => ({ ...rows[i % rows.length], key: `k${i}` }));
    const byRow = join(dir, 'rows.parquet');
    const byColumns = join(dir, 'columns.parquet');

    const a = createTrainingWriter({ path: byRow, columns, rowGroupSize: 3 });
    for (const row of many) a.appendRow(row);
    a.close({ z: '1', a: '2' });

    const b = createTrainingWriter({ path: byColumns, columns, rowGroupSize: 3, metadata: () => ({ a: '2' }) });
    const column = (name: string, from: number, to: number) => many.slice(from, to).map((r) => r[name as keyof typeof r]);
    for (const [from, to] of [[0, 2], [2, 7]]) {
      b.appendColumns(Object.fromEntries(columns.map((c) => [c.name, column(c.name, from, to)])), to - from);
    }
    b.close({ z: '1' });

    const bytes = readFileSync(byRow);
    assert.ok(bytes.equals(readFileSync(byColumns)), 'identical rows and metadata give identical files');
    const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    assert.deepEqual(metadata.row_groups.map((g) => Number(g.num_rows)), [3, 3, 1]);
    assert.deepEqual(metadata.key_value_metadata, [{ key: 'a', value: '2' }, { key: 'z', value: '1' }]);
    assert.equal(metadata.created_by, 'skewless');
  }));

test('number columns handed over typed (NullableNumbers) give the bytes of plain arrays, and are refused alike', () =>
  withTempDir(async (dir) => {
    const many = Array.from({ length: 11 }, (_, i) => ({ ...rows[i % rows.length], key: `k${i}`, x: i === 7 ? -0 : i === 8 ? Number.NaN : rows[i % rows.length].x }));
    const typed = (name: string, from: number, to: number): NullableNumbers => {
      const column = new NullableNumbers(2); // grows past its first capacity
      for (const r of many.slice(from, to)) column.push(r[name as keyof typeof r]);
      return column;
    };
    const plain = (name: string, from: number, to: number) => many.slice(from, to).map((r) => r[name as keyof typeof r]);
    const write = (path: string, column: typeof typed | typeof plain) => {
      const w = createTrainingWriter({ path, columns, rowGroupSize: 4 });
      for (const [from, to] of [[0, 3], [3, 11]]) {
        w.appendColumns(Object.fromEntries(columns.map((c) => [c.name, c.type === 'string' || c.type === 'boolean' ? plain(c.name, from, to) : column(c.name, from, to)])), to - from);
      }
      w.close();
      return readFileSync(path);
    };
    assert.ok(write(join(dir, 'typed.parquet'), typed).equals(write(join(dir, 'plain.parquet'), plain)), 'typed and plain number columns give identical files');
    // A typed column given to a boolean column is read as its plain values.
    const flags = new NullableNumbers(4);
    flags.push(1);
    const w = createTrainingWriter({ path: join(dir, 'refused.parquet'), columns });
    assert.throws(() => w.appendColumns({ key: ['a'], flag: flags }, 1), { message: 'skewless: training column "flag" (boolean) row 0: expected a boolean or null, got 1' });
    const n32 = new NullableNumbers(4);
    n32.push(1.5);
    assert.throws(() => w.appendColumns({ key: ['a'], n32 }, 1), { message: 'skewless: training column "n32" (int32) row 0: expected a 32-bit integer or null, got 1.5' });
    const x = new NullableNumbers(4);
    x.push('7');
    assert.throws(() => w.appendColumns({ key: ['a'], x }, 1), { message: 'skewless: training column "x" (double) row 0: expected a number or null, got "7"' });
    w.abort();
  }));

test('the training file appears only at close; abort leaves nothing behind', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'train.parquet');
    const writer = createTrainingWriter({ path, columns, rowGroupSize: 2 });
    for (const row of rows) writer.appendRow(row);
    assert.equal(existsSync(path), false);
    assert.deepEqual(readdirSync(dir), ['.train.parquet.partial']);
    writer.close();
    assert.deepEqual(readdirSync(dir), ['train.parquet']);

    const aborted = createTrainingWriter({ path: join(dir, 'other.parquet'), columns });
    aborted.appendRow(rows[0]);
    aborted.abort();
    assert.deepEqual(readdirSync(dir), ['train.parquet']);
    assert.throws(() => aborted.appendRow(rows[0]), /training writer for .*other\.parquet is failed/);
  }));

test('the training writer rejects values that do not fit their column, naming column and row', () =>
  withTempDir(async (dir) => {
    const writer = createTrainingWriter({ path: join(dir, 't.parquet'), columns });
    writer.appendRow(rows[0]);
    assert.throws(() => writer.appendRow({ ...rows[0], n32: 1.5 }), {
      message: 'skewless: training column "n32" (int32) row 1: expected a 32-bit integer or null, got 1.5',
    });
    assert.throws(() => writer.appendRow({ ...rows[0], key: null }), {
      message: 'skewless: training column "key" (string) row 1: expected a string, got null',
    });
    assert.throws(() => writer.appendRow({ ...rows[0], n64: 2 ** 60 }), /column "n64" \(int64\) row 1: expected a safe integer or a 64-bit bigint or null, got 1152921504606847000/);
    assert.throws(() => writer.appendColumns({ nope: [1] }, 1), /training data has no column "nope"/);
    assert.throws(() => writer.appendColumns({ ts: [1] }, 1), /required training column "key" is missing/);
    writer.appendRow(rows[1]);
    assert.equal(writer.close().rows, 2);
  }));

test('INT64 values beyond 2^53 become error records; the rest of the file reads normally', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'big.parquet');
    const writer = createTrainingWriter({ path, columns: [{ name: 'id', type: 'int64', nullable: false }, { name: 's', type: 'string', nullable: false }] });
    writer.appendColumns({ id: [1n, 2n ** 60n, 3n], s: ['x', 'y', 'z'] }, 3);
    writer.close();
    const { records } = await readAll(path);
    assert.deepEqual(records[0], { offset: 0, value: { id: 1, s: 'x' } });
    assert.deepEqual(records[1], {
      offset: 1,
      error: 'INT64 value 1152921504606846976 in column "id" at row 1 is not a safe integer (beyond ±2^53-1)',
      raw: '{"id":"1152921504606846976","s":"y"}',
    });
    assert.deepEqual(records[2], { offset: 2, value: { id: 3, s: 'z' } });
  }));

test('TIMESTAMP MICROS/NANOS (UTC or not) and DATE become epoch milliseconds, flooring before 1970', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'times.parquet');
    const buffer = parquetWriteBuffer({
      schema: [
        { name: 'root', num_children: 3 },
        { name: 'us', type: 'INT64', repetition_type: 'REQUIRED', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' } },
        { name: 'ns', type: 'INT64', repetition_type: 'OPTIONAL', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'NANOS' } },
        { name: 'day', type: 'INT32', repetition_type: 'REQUIRED', converted_type: 'DATE' },
      ],
      columnData: [
        { name: 'us', data: [1_704_067_200_123_999n, -1_500n, 0n] },
        { name: 'ns', data: [1_704_067_200_123_999_999n, null, -1n] },
        { name: 'day', data: [19723, -1, 0] },
      ],
    });
    writeFileSync(path, new Uint8Array(buffer));
    const { records } = await readAll(path);
    assert.deepEqual(records.map((r) => r.value), [
      { us: 1704067200123, ns: 1704067200123, day: 19723 * 86_400_000 },
      { us: -2, ns: null, day: -86_400_000 },
      { us: 0, ns: -1, day: 0 },
    ]);
  }));

test('reads the 3M-row flights file with numbers for TIMESTAMP and INT64 columns', async () => {
  const path = 'node_modules/vega-datasets/data/flights-3m.parquet';
  let count = 0;
  let first: InputRecord | undefined;
  let last: InputRecord | undefined;
  for await (const batch of readParquetRecords(path)) {
    for (const record of batch) if (record.error !== undefined) assert.fail(record.error);
    first ??= batch[0];
    last = batch.at(-1);
    count += batch.length;
  }
  assert.equal(count, 3_000_000);
  assert.deepEqual(first, { offset: 0, value: { date: 978307260000, delay: 33, distance: 2176, origin: 'LAS', destination: 'PHL' } });
  assert.equal(last?.offset, 2_999_999);
});

test('a file that is not Parquet fails with a one-line message naming it', () =>
  withTempDir(async (dir) => {
    const path = join(dir, 'x.parquet');
    writeFileSync(path, '{"not":"parquet"}\n');
    await assert.rejects(readAll(path), {
      message: `skewless: cannot read ${path}: not a Parquet file (bad magic). Pass --format or check the path.`,
    });
    writeFileSync(path, Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(20)]));
    await assert.rejects(readAll(path), { message: /truncated Parquet file \(no footer magic\)/ });
  }));

test('row builder: columns named __proto__ become own properties, not the prototype', () => {
  const build = compileRowBuilder(['a', '__proto__', 'b"; throw 1; "']);
  const row = build([[1], [{ polluted: true }], [3]], 0);
  assert.deepEqual(Object.keys(row), ['a', '__proto__', 'b"; throw 1; "']);
  assert.equal(Object.getPrototypeOf(row), Object.prototype);
  assert.equal((row as { polluted?: boolean }).polluted, undefined);
  const fast = compileRowBuilder(['x', 'y"z', '\u2028']);
  assert.deepEqual(fast([[1], [2], [3]], 0), { x: 1, 'y"z': 2, '\u2028': 3 });
});
