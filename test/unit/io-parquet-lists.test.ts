/**
 * List and map columns of training Parquet: the standard 3-level LIST and MAP groups that
 * pyarrow, pandas and DuckDB read as lists and maps, across row groups, with null and empty
 * values and non-ASCII strings; and the JS reader the parity check uses (hyparquet) reads them
 * back the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { createTrainingWriter, type ColumnSpec } from '../../src/io/files/parquet-training-writer.js';
import { readNestedWithPython } from '../helpers/python-expected.js';

const columns: ColumnSpec[] = [
  { name: 'key', type: 'string', nullable: false },
  { name: 'amounts', type: 'list<double>', nullable: true },
  { name: 'merchants', type: 'list<string>', nullable: true },
  { name: 'n', type: 'int64', nullable: true },
  { name: 'hist', type: 'map<int64>', nullable: true },
  { name: 'means', type: 'map<double>', nullable: true },
];

const rows = [
  { key: 'a', amounts: [1.5, -2.25, 1e300], merchants: ['café ☕', 'm2'], n: 1, hist: { '[0,10)': 3, '[10,100)': 0, other: 9007199254740991 }, means: { US: 1.5, CA: null, other: -0.25 } },
  { key: 'b', amounts: [], merchants: [], n: null, hist: {}, means: {} },
  { key: 'c', amounts: null, merchants: null, n: 3, hist: null, means: null },
  { key: 'd', amounts: [0.1], merchants: ['𝄞'], n: 4, hist: { FR: 2, 'Zürich 🛫': 1, other: 0 }, means: { 'Zürich 🛫': null, other: null } },
  { key: 'e', amounts: [5e-324, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17], merchants: Array.from({ length: 17 }, (_, i) => `m${i}`), n: 5, hist: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`c${i}`, i - 3])), means: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`c${i}`, i % 3 === 0 ? null : i / 7])) },
];

/** A map as every Python reader returns it: [key, value] pairs in the written order. */
const pairs = (m: Record<string, number | null> | null): Array<[string, number | null]> | null => (m === null ? null : Object.entries(m));

test('list and map columns read back as lists and maps in pyarrow, pandas and DuckDB, and in hyparquet', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-lists-'));
  try {
    const file = join(dir, 'lists.parquet');
    // Two row groups, so levels restart per chunk; one row through appendColumns.
    const w = createTrainingWriter({ path: file, columns, rowGroupSize: 3 });
    for (const r of rows.slice(0, 4)) w.appendRow(r);
    w.appendColumns({ key: [rows[4].key], amounts: [rows[4].amounts], merchants: [rows[4].merchants], n: [rows[4].n], hist: [rows[4].hist], means: [rows[4].means] }, 1);
    w.close();
    const py = readNestedWithPython(file);
    assert.equal(py.arrow_types.amounts, 'list<element: double not null>');
    assert.equal(py.arrow_types.merchants, 'list<element: string not null>');
    assert.equal(py.duckdb_types.amounts, 'DOUBLE[]');
    assert.equal(py.duckdb_types.merchants, 'VARCHAR[]');
    assert.match(py.arrow_types.hist, /^map<string, int64/);
    assert.equal(py.duckdb_types.hist, 'MAP(VARCHAR, BIGINT)');
    // map<double>: the value is optional (the mean of an empty bucket is null).
    assert.match(py.arrow_types.means, /^map<string, double/);
    assert.equal(py.duckdb_types.means, 'MAP(VARCHAR, DOUBLE)');
    for (const reader of ['pyarrow', 'pandas', 'duckdb'] as const) {
      assert.deepEqual(py[reader].amounts, rows.map((r) => r.amounts), `${reader} amounts`);
      assert.deepEqual(py[reader].merchants, rows.map((r) => r.merchants), `${reader} merchants`);
      assert.deepEqual(py[reader].key, rows.map((r) => r.key), `${reader} key`);
      assert.deepEqual(py[reader].hist, rows.map((r) => pairs(r.hist)), `${reader} hist`);
      assert.deepEqual(py[reader].means, rows.map((r) => pairs(r.means)), `${reader} means`);
    }
    const bytes = readFileSync(file);
    const js = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
    assert.deepEqual(js.map((r) => r.amounts), rows.map((r) => r.amounts));
    assert.deepEqual(js.map((r) => r.merchants), rows.map((r) => r.merchants));
    // hyparquet reads a MAP as an object, its int64 values as bigints.
    assert.deepEqual(js.map((r) => r.means), rows.map((r) => r.means));
    assert.deepEqual(js.map((r) => r.hist), rows.map((r) => (r.hist === null ? null : Object.fromEntries(Object.entries(r.hist).map(([k, v]) => [k, BigInt(v)])))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a list column refuses a value that is not a list of its element type, naming the column and row', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-lists-'));
  try {
    const w = createTrainingWriter({ path: join(dir, 'bad.parquet'), columns });
    w.appendRow(rows[0]);
    assert.throws(() => w.appendRow({ key: 'x', amounts: [1, 'two'] }), /training column "amounts" \(list<double>\) row 1: expected an array of numbers or null, got \[1, "two"\]/);
    w.abort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
