import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readParquetRecords } from '../../src/io/files/parquet-reader.js';
import { createTrainingWriter, type ColumnSpec } from '../../src/io/files/parquet-training-writer.js';

// The training writer encodes pages itself (dictionary, DELTA_BINARY_PACKED, PLAIN; levels for
// nullable columns). These tests push every encoding path through pyarrow, DuckDB and the
// hyparquet-based reader, value for value.

const INSTALL_HINT = 'run `pip install -r requirements.txt` (CI installs it)';

/** Prints each column as JSON-safe text (int64 as strings, doubles via repr), plus encodings and statistics. */
const PYTHON = String.raw`
import datetime, json, math, sys
try:
    import duckdb
    import pyarrow.parquet as pq
except ImportError as err:
    print(f"missing Python package ({err})", file=sys.stderr)
    sys.exit(3)

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

def show(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, float):
        return "-0.0" if v == 0 and math.copysign(1, v) < 0 else repr(v)
    if isinstance(v, int):
        return str(v)
    if hasattr(v, "timestamp"):
        if v.tzinfo is None:
            return "naive"
        return str((v - EPOCH) // datetime.timedelta(milliseconds=1))
    return v

path = sys.argv[1]
f = pq.ParquetFile(path)
table = f.read()
columns = {name: [show(v) for v in table.column(name).to_pylist()] for name in table.column_names}
md = f.metadata
encodings = {}
stats = {}
for g in range(md.num_row_groups):
    rg = md.row_group(g)
    for i in range(rg.num_columns):
        c = rg.column(i)
        encodings.setdefault(c.path_in_schema, []).append(sorted(c.encodings))
        if g == 0 and c.statistics is not None:
            s = c.statistics
            stats[c.path_in_schema] = {"nulls": s.null_count, "min": show(s.min) if s.has_min_max else None, "max": show(s.max) if s.has_min_max else None}
rel = duckdb.execute("SELECT * FROM read_parquet(?)", [path])
names = [d[0] for d in rel.description]
duck_rows = rel.fetchall()
duck = {name: [show(row[i]) for row in duck_rows] for i, name in enumerate(names)}
print(json.dumps({"columns": columns, "duckdb": duck, "encodings": encodings, "stats": stats, "row_groups": md.num_row_groups}))
`;

interface PythonView {
  columns: Record<string, unknown[]>;
  duckdb: Record<string, unknown[]>;
  encodings: Record<string, string[][]>;
  stats: Record<string, { nulls: number; min: unknown; max: unknown }>;
  row_groups: number;
}

function readWithPython(file: string): PythonView {
  const result = spawnSync('python3', ['-c', PYTHON, file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.error) assert.fail(`cannot run python3 (${result.error.message}): install Python 3 and ${INSTALL_HINT}`);
  if (result.status === 3) assert.fail(`${result.stderr.trim()} — ${INSTALL_HINT}`);
  if (result.status !== 0) assert.fail(`python failed (exit ${result.status}): ${result.stderr.trim()}`);
  return JSON.parse(result.stdout) as PythonView;
}

/** What Python prints for a value written to a column of `type`. */
function shown(type: ColumnSpec['type'], v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (type === 'double') {
    const x = v as number;
    if (Object.is(x, -0)) return '-0.0';
    if (Number.isNaN(x)) return 'nan';
    if (x === Infinity) return 'inf';
    if (x === -Infinity) return '-inf';
    return null; // compared separately, as numbers
  }
  if (type === 'int32' || type === 'int64' || type === 'timestamp-ms') return String(v);
  return v;
}

function assertColumn(name: string, type: ColumnSpec['type'], expected: readonly unknown[], actual: readonly unknown[], reader: string): void {
  assert.equal(actual.length, expected.length, `${reader} ${name}: row count`);
  for (let i = 0; i < expected.length; i++) {
    const want = shown(type, expected[i]);
    const got = actual[i];
    if (type === 'double' && want === null && expected[i] !== null && expected[i] !== undefined) {
      assert.equal(Number(got), expected[i], `${reader} ${name} row ${i}`);
    } else {
      assert.deepEqual(got, want, `${reader} ${name} row ${i}`);
    }
  }
}

const ROWS = 2500;
const BIG = 2n ** 62n;

const columns: ColumnSpec[] = [
  { name: 'key', type: 'string', nullable: false },
  { name: 'id', type: 'string', nullable: true },
  { name: 'uni', type: 'string', nullable: true },
  { name: 't', type: 'timestamp-ms', nullable: false },
  { name: 't2', type: 'timestamp-ms', nullable: true },
  { name: 'seq', type: 'int64', nullable: false },
  { name: 'big', type: 'int64', nullable: true },
  { name: 'jumpy', type: 'int64', nullable: false },
  { name: 'wide', type: 'int64', nullable: false },
  { name: 'wide30', type: 'int64', nullable: false },
  { name: 'n32', type: 'int32', nullable: true },
  { name: 'r32', type: 'int32', nullable: false },
  { name: 'x', type: 'double', nullable: true },
  { name: 'c', type: 'double', nullable: true },
  { name: 'mostly', type: 'double', nullable: false },
  { name: 'flag', type: 'boolean', nullable: true },
  { name: 'absent', type: 'double', nullable: true },
];

/** Deterministic pseudo-random integers in [0, 2^bits). */
function scrambled(i: number, bits: number): number {
  const a = Math.imul(i + 1, 0x9e3779b1) >>> 0;
  const b = Math.imul(a ^ (a >>> 15), 0x85ebca6b) >>> 0;
  return bits <= 32 ? b % 2 ** bits : (b % 2 ** (bits - 32)) * 2 ** 32 + a;
}

function makeRow(i: number): Record<string, unknown> {
  return {
    key: `k${i % 7}`,
    id: i % 11 === 0 ? null : `id-${i}-ü𝄞`,
    uni: i % 9 === 0 ? null : ['a', '\uE000', '𝄞', 'żółw', ''][i % 5],
    t: 1_704_067_200_000 + i * 1000 + (i % 3),
    t2: i % 5 === 0 ? null : -86_400_000 + scrambled(i, 20) * 1000,
    seq: i,
    big: i % 97 === 0 ? BIG + BigInt(i) : i % 13 === 0 ? null : i % 89 === 0 ? -BIG : ((i * i) % 1000) - 500,
    jumpy: i % 2 === 0 ? Number.MAX_SAFE_INTEGER - i : -Number.MAX_SAFE_INTEGER + i,
    wide: scrambled(i, 40),
    wide30: i % 3 === 0 ? scrambled(i, 30) : -scrambled(i, 30),
    n32: i % 10 === 0 ? null : [-2147483648, 2147483647, 0, -1][i % 4],
    r32: Math.imul(i, 0x9e3779b1),
    x: i % 17 === 0 ? null : [-0, Number.NaN, Infinity, -Infinity, 1e-300, -1.5e300][i % 101] ?? scrambled(i, 32) / 7,
    c: i % 19 === 0 ? null : [0, -0, 1.5, Number.NaN][i % 4],
    // 70% distinct: passes the sample, then outgrows the dictionary cap (half the values).
    mostly: i % 10 < 7 ? i + 0.5 : 0.25,
    flag: i % 7 === 0 ? null : i % 3 === 0,
  };
}

test('every encoding path reads back value for value in pyarrow, DuckDB and the hyparquet reader', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-io-encodings-'));
  try {
    const rows = Array.from({ length: ROWS }, (_, i) => makeRow(i));
    const byColumns = join(dir, 'columns.parquet');
    const byRows = join(dir, 'rows.parquet');

    const a = createTrainingWriter({ path: byColumns, columns, rowGroupSize: 1000 });
    for (const [from, to] of [[0, 1], [1, 1000], [1000, 1001], [1001, ROWS]]) {
      const input: Record<string, unknown[]> = {};
      for (const c of columns) if (c.name !== 'absent') input[c.name] = rows.slice(from, to).map((r) => r[c.name]);
      a.appendColumns(input, to - from);
    }
    assert.deepEqual({ ...a.close({ k: 'v' }), path: '' }, { path: '', rows: ROWS, rowGroups: 3, bytes: readFileSync(byColumns).length });

    const b = createTrainingWriter({ path: byRows, columns, rowGroupSize: 1000 });
    for (const row of rows) b.appendRow(row);
    b.close({ k: 'v' });
    assert.ok(readFileSync(byColumns).equals(readFileSync(byRows)), 'append sizes do not change the bytes');

    const view = readWithPython(byColumns);
    assert.equal(view.row_groups, 3);
    for (const c of columns) {
      const expected = rows.map((r) => r[c.name] ?? null);
      assertColumn(c.name, c.type, expected, view.columns[c.name], 'pyarrow');
      assertColumn(c.name, c.type, expected, view.duckdb[c.name], 'duckdb');
    }

    // Each path is really taken (in the first row group).
    const first = (name: string) => view.encodings[name][0];
    assert.deepEqual(first('key'), ['PLAIN', 'RLE', 'RLE_DICTIONARY']);
    assert.deepEqual(first('uni'), ['PLAIN', 'RLE', 'RLE_DICTIONARY']);
    assert.deepEqual(first('n32'), ['PLAIN', 'RLE', 'RLE_DICTIONARY']);
    assert.deepEqual(first('c'), ['PLAIN', 'RLE', 'RLE_DICTIONARY']);
    assert.deepEqual(first('id'), ['PLAIN', 'RLE']);
    assert.deepEqual(first('big'), ['PLAIN', 'RLE']);
    assert.deepEqual(first('jumpy'), ['PLAIN', 'RLE']);
    assert.deepEqual(first('wide'), ['PLAIN', 'RLE']);
    assert.deepEqual(first('r32'), ['PLAIN', 'RLE']);
    assert.deepEqual(first('x'), ['PLAIN', 'RLE']);
    assert.deepEqual(first('mostly'), ['PLAIN', 'RLE']);
    assert.deepEqual(first('seq'), ['DELTA_BINARY_PACKED', 'RLE']);
    assert.deepEqual(first('t'), ['DELTA_BINARY_PACKED', 'RLE']);
    assert.deepEqual(first('wide30'), ['DELTA_BINARY_PACKED', 'RLE']);

    // Statistics of the first row group (rows 0..999).
    const firstRows = rows.slice(0, 1000);
    const minMax = (name: string) => {
      const values = firstRows.map((r) => r[name]).filter((v) => v !== null) as (number | bigint)[];
      const sorted = values.map(BigInt).sort((p, q) => (p < q ? -1 : p > q ? 1 : 0));
      return { min: String(sorted[0]), max: String(sorted.at(-1)) };
    };
    assert.deepEqual(view.stats.key, { nulls: 0, min: 'k0', max: 'k6' });
    // Code point order: U+1D11E (a surrogate pair in JS) sorts after U+E000.
    assert.deepEqual(view.stats.uni, { nulls: 112, min: '', max: '𝄞' });
    assert.deepEqual(view.stats.seq, { nulls: 0, ...minMax('seq') });
    assert.deepEqual(view.stats.big, { nulls: firstRows.filter((r) => r.big === null).length, ...minMax('big') });
    assert.deepEqual(view.stats.n32, { nulls: 100, min: '-2147483648', max: '2147483647' });
    assert.deepEqual(view.stats.t2, { nulls: 200, ...minMax('t2') });
    assert.deepEqual(view.stats.flag, { nulls: firstRows.filter((r) => r.flag === null).length, min: false, max: true });
    assert.deepEqual(view.stats.x, { nulls: firstRows.filter((r) => r.x === null).length, min: null, max: null });

    // The project's own reader: INT64 beyond 2^53 become error records, everything else matches.
    let offset = 0;
    for await (const batch of readParquetRecords(byColumns)) {
      for (const record of batch) {
        const row = rows[offset];
        assert.equal(record.offset, offset);
        if (typeof row.big === 'bigint' && (row.big > BigInt(Number.MAX_SAFE_INTEGER) || row.big < -BigInt(Number.MAX_SAFE_INTEGER))) {
          assert.match(record.error ?? '', /INT64 value -?\d+ in column "big" at row \d+ is not a safe integer/);
        } else {
          const expected = { ...row, absent: null, big: row.big === null ? null : Number(row.big) };
          assert.deepEqual(record.value, expected, `hyparquet row ${offset}`);
        }
        offset++;
      }
    }
    assert.equal(offset, ROWS);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a rejected append leaves no trace in the file, and an empty file is valid', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-io-encodings-'));
  try {
    const spec: ColumnSpec[] = [
      { name: 's', type: 'string', nullable: false },
      { name: 'n', type: 'int64', nullable: true },
      { name: 'd', type: 'double', nullable: false },
    ];
    const good = { s: ['a', 'b', 'a', 'c'], n: [1, 2n ** 60n, null, 4], d: [1, 2, 3, 4] };
    const clean = createTrainingWriter({ path: join(dir, 'clean.parquet'), columns: spec, rowGroupSize: 3 });
    clean.appendColumns(good, 4);
    clean.close();

    const messy = createTrainingWriter({ path: join(dir, 'messy.parquet'), columns: spec, rowGroupSize: 3 });
    messy.appendColumns({ s: ['a', 'b'], n: [1, 2n ** 60n], d: [1, 2] }, 2);
    // New strings and a bigint land in the buffers before the double column rejects the call.
    assert.throws(() => messy.appendColumns({ s: ['zzz', 'yyy'], n: [-(2n ** 62n), 5], d: ['x', 0] }, 2), {
      message: 'skewless: training column "d" (double) row 2: expected a number, got "x"',
    });
    messy.appendColumns({ s: ['a', 'c'], n: [null, 4], d: [3, 4] }, 2);
    messy.close();
    assert.ok(readFileSync(join(dir, 'clean.parquet')).equals(readFileSync(join(dir, 'messy.parquet'))));

    const empty = createTrainingWriter({ path: join(dir, 'empty.parquet'), columns: spec });
    empty.close({ a: 'b' });
    const view = readWithPython(join(dir, 'empty.parquet'));
    assert.deepEqual(view.columns, { s: [], n: [], d: [] });
    assert.equal(view.row_groups, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('large row groups of mostly distinct values give up on the dictionary early and still read back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-io-encodings-'));
  try {
    const n = 20000;
    const spec: ColumnSpec[] = [
      { name: 'id', type: 'string', nullable: false },
      { name: 'k', type: 'string', nullable: false },
      { name: 'd', type: 'double', nullable: false },
      { name: 'g', type: 'double', nullable: false },
    ];
    const data = {
      id: Array.from({ length: n }, (_, i) => `u${i}`),
      k: Array.from({ length: n }, (_, i) => `k${(i * 7) % 300}`),
      // 95% distinct, yet every 20th value repeats, so the sample alone does not rule it out.
      d: Array.from({ length: n }, (_, i) => (i % 20 === 0 ? 0.5 : i + 0.25)),
      // 43% distinct: a dictionary that wins.
      g: Array.from({ length: n }, (_, i) => (i % 7 < 3 ? i : -1)),
    };
    const path = join(dir, 'large.parquet');
    const writer = createTrainingWriter({ path, columns: spec, rowGroupSize: n });
    writer.appendColumns(data, n);
    writer.close();
    const view = readWithPython(path);
    for (const c of spec) {
      assertColumn(c.name, c.type, data[c.name as keyof typeof data], view.columns[c.name], 'pyarrow');
      assertColumn(c.name, c.type, data[c.name as keyof typeof data], view.duckdb[c.name], 'duckdb');
    }
    assert.deepEqual(view.encodings, {
      id: [['PLAIN', 'RLE']],
      k: [['PLAIN', 'RLE', 'RLE_DICTIONARY']],
      d: [['PLAIN', 'RLE']],
      g: [['PLAIN', 'RLE', 'RLE_DICTIONARY']],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
