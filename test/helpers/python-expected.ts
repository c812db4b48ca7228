/** Python references and readers for the tests; a missing interpreter or package fails, never skips. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function pythonExpected<T>(script: string, request: unknown): T {
  const result = spawnSync('python3', [script], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (result.error) assert.fail(`cannot run python3 (${result.error.message}): install Python 3 and run pip install -r requirements.txt`);
  if (result.status !== 0) assert.fail(`${script} failed (exit ${result.status}): ${result.stderr.trim()}`);
  return JSON.parse(result.stdout) as T;
}

/** What test/python/read_nested.py saw in a Parquet file: per column, its types and values in each reader. */
export interface PythonView {
  arrow_types: Record<string, string>;
  pyarrow: Record<string, unknown[]>;
  pandas: Record<string, unknown[]>;
  duckdb_types: Record<string, string>;
  duckdb: Record<string, unknown[]>;
}

export function readNestedWithPython(file: string): PythonView {
  const r = spawnSync('python3', ['test/python/read_nested.py', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) assert.fail(`cannot run python3 (${r.error.message}): install Python 3 and run pip install -r requirements.txt`);
  if (r.status !== 0) assert.fail(`test/python/read_nested.py failed (exit ${r.status}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as PythonView;
}

const repoPath = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));

/** The first `rows` flights of flights-3m.parquet (within its first row group) written to `out` by test/python/flights_expected.py. */
export function sliceFlights(out: string, rows: number): void {
  const r = spawnSync('python3', [repoPath('test/python/flights_expected.py'), 'slice', repoPath('node_modules/vega-datasets/data/flights-3m.parquet'), out, String(rows)], { encoding: 'utf8' });
  if (r.error) assert.fail(`cannot run python3 (${r.error.message}): install Python 3 and run pip install -r requirements.txt`);
  assert.equal(r.status, 0, r.stderr);
}
