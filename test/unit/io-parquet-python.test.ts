import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTrainingWriter, type ColumnSpec } from '../../src/io/files/parquet-training-writer.js';

const INSTALL_HINT = 'run `pip install -r requirements.txt` (CI installs it)';

interface PythonView {
  arrow_types: Record<string, string>;
  arrow_nullable: Record<string, boolean>;
  pandas_dtypes: Record<string, string>;
  rows: Record<string, unknown>[];
  metadata: Record<string, string>;
  num_rows: number;
  num_row_groups: number;
  duckdb_count: number;
}

/** Runs the Python reader; any missing interpreter or package is a failure, never a skip. */
function readWithPython(file: string): PythonView {
  const result = spawnSync('python3', ['test/python/read_training.py', file], { encoding: 'utf8' });
  if (result.error) assert.fail(`cannot run python3 (${result.error.message}): install Python 3 and ${INSTALL_HINT}`);
  // Exit 3 is the script's "a Python package is missing".
  if (result.status === 3) assert.fail(`${result.stderr.trim()} — ${INSTALL_HINT}`);
  if (result.status !== 0) assert.fail(`test/python/read_training.py failed (exit ${result.status}): ${result.stderr.trim()}`);
  return JSON.parse(result.stdout) as PythonView;
}

const columns: ColumnSpec[] = [
  { name: 'key', type: 'string', nullable: false },
  { name: 'event_time', type: 'timestamp-ms', nullable: false },
  { name: 'partition', type: 'int32', nullable: false },
  { name: 'offset', type: 'int64', nullable: false },
  { name: 'amount_sum_24h', type: 'double', nullable: true },
  { name: 'txn_count_1h', type: 'int64', nullable: true },
  { name: 'merchant_last', type: 'string', nullable: true },
  { name: 'bucket', type: 'int32', nullable: true },
  { name: 'is_fraud', type: 'boolean', nullable: true },
  { name: 'label_time', type: 'timestamp-ms', nullable: true },
  { name: 'ratio', type: 'double', nullable: false },
];

const rows = [
  { key: 'u1', event_time: 1704067200000, partition: 0, offset: 0, amount_sum_24h: 12.5, txn_count_1h: 1, merchant_last: 'café ☕', bucket: 3, is_fraud: false, label_time: 1704153600000, ratio: 0.1 },
  { key: 'u2', event_time: -86400001, partition: 1, offset: 9007199254740991, amount_sum_24h: null, txn_count_1h: null, merchant_last: null, bucket: null, is_fraud: null, label_time: null, ratio: -0 },
  { key: '', event_time: 1704067200999, partition: 2147483647, offset: -5, amount_sum_24h: 1e-300, txn_count_1h: -9007199254740991, merchant_last: '𝄞 clef', bucket: -2147483648, is_fraud: true, label_time: 0, ratio: 1.7976931348623157e308 },
  { key: 'u4', event_time: 0, partition: 3, offset: 3, amount_sum_24h: Number.NaN, txn_count_1h: 0, merchant_last: 'shop', bucket: 0, is_fraud: false, label_time: 1, ratio: 2.5 },
];

test('training Parquet reads back in pyarrow, pandas and duckdb with the declared types, nulls and metadata', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-io-python-'));
  try {
    const file = join(dir, 'training.parquet');
    // rowGroupSize 3 forces two row groups, so the multi-group path is what Python reads.
    const writer = createTrainingWriter({ path: file, columns, rowGroupSize: 3, metadata: () => ({ 'skewless.version': 'will-be-overridden', 'skewless.inputs': '[]' }) });
    writer.appendRow(rows[0]);
    writer.appendColumns(
      Object.fromEntries(columns.map((c) => [c.name, rows.slice(1).map((r) => r[c.name as keyof typeof r])])),
      rows.length - 1,
    );
    writer.close({ 'skewless.version': 'abc123', 'skewless.topology': 'fraud' });

    const view = readWithPython(file);
    assert.deepEqual(view.arrow_types, {
      key: 'string',
      event_time: 'timestamp[ms, tz=UTC]',
      partition: 'int32',
      offset: 'int64',
      amount_sum_24h: 'double',
      txn_count_1h: 'int64',
      merchant_last: 'string',
      bucket: 'int32',
      is_fraud: 'bool',
      label_time: 'timestamp[ms, tz=UTC]',
      ratio: 'double',
    });
    assert.deepEqual(view.arrow_nullable, Object.fromEntries(columns.map((c) => [c.name, c.nullable])));
    assert.equal(view.pandas_dtypes.event_time, 'datetime64[ms, UTC]');
    assert.equal(view.pandas_dtypes.offset, 'int64');
    assert.equal(view.pandas_dtypes.partition, 'int32');
    assert.equal(view.pandas_dtypes.ratio, 'float64');
    assert.equal(view.num_rows, 4);
    assert.equal(view.num_row_groups, 2);
    assert.equal(view.duckdb_count, 4);
    assert.deepEqual(view.metadata, { 'skewless.inputs': '[]', 'skewless.topology': 'fraud', 'skewless.version': 'abc123' });

    const expected = rows.map((r) => ({ ...r, amount_sum_24h: Number.isNaN(r.amount_sum_24h) ? 'NaN' : r.amount_sum_24h }));
    assert.deepEqual(view.rows, expected);
    assert.ok(Object.is((view.rows[1] as { ratio: number }).ratio, -0) || (view.rows[1] as { ratio: number }).ratio === 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
