/**
 * A split Parquet file decoded and routed once by the coordinator and delivered to replay
 * threads as slices (parquet-split-slices.ts, sliced-file-input.ts, slice-feed.ts) against the
 * record path every thread used before (openFileInput's split): the same records, offsets, file
 * rows, error records and ranges per partition, over pyarrow files in every codec, page version
 * and encoding (dictionaries that overflow into plain pages midway, nulls, INT64 beyond 2^53),
 * for keys the dictionary shortcut answers, keys it must leave to the whole row, keys that
 * throw, and a reader schema that rejects rows. Then a backfill on two threads (sliced) against
 * one (each thread reading the file itself): the same training files and dead letters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InputRecord, SourceValue } from '../../src/engine/input.js';
import { openFileInput, type FileInput } from '../../src/io/files/partitioned-file-input.js';
import { splitParquetSlices } from '../../src/io/files/parquet-split-slices.js';
import { slicedFileInput } from '../../src/io/files/sliced-file-input.js';
import { createTrainingWriter } from '../../src/io/files/parquet-training-writer.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { sliceableSplit } from '../../src/modes/file-replay-input.js';
import { loadTopology } from '../../src/plan/load-topology.js';

const INSTALL_HINT = 'run `pip install -r requirements.txt` (CI installs it)';
const ROOT = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'skewless-split-slices-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let variants: string[] | undefined;
function writeVariants(): string[] {
  if (variants !== undefined) return variants;
  const result = spawnSync('python3', [join(ROOT, 'test/python/write_flat_variants.py'), join(dir, 'variants')], { encoding: 'utf8' });
  if (result.error) assert.fail(`cannot run python3 (${result.error.message}): install Python 3 and ${INSTALL_HINT}`);
  if (result.status === 3) assert.fail(`${result.stderr.trim()} — ${INSTALL_HINT}`);
  if (result.status !== 0) assert.fail(`test/python/write_flat_variants.py failed (exit ${result.status}): ${result.stderr.trim()}`);
  variants = readdirSync(join(dir, 'variants'))
    .filter((f) => f !== 'fallback.parquet')
    .sort()
    .map((f) => join(dir, 'variants', f));
  return variants;
}

type Key = (v: SourceValue) => string | null;
const str = (k: unknown): string | null => (k === null || k === undefined ? null : String(k));
const KEYS: ReadonlyArray<readonly [string, Key]> = [
  ['one string field (dictionary shortcut)', (v) => str(v.s)],
  ['one field, another read for nulls (whole row for those)', (v) => str(v.s === null ? v.i32 : v.s)],
  ['a key that throws for one value', (v) => {
    if (v.s === 'ATL') throw new Error('no key for ATL');
    return str(v.s);
  }],
  ['two fields (whole row)', (v) => `${String(v.s)}|${String(v.i32req)}`],
  ['a number field', (v) => str(v.i32req)],
];

// Rows whose s is null fail it (s is a plain string here); i64 beyond 2^53 cannot be converted;
// `extra` is missing from the files and takes its default.
const READER_SCHEMA = {
  type: 'record',
  name: 'Row',
  fields: [
    { name: 's', type: 'string' },
    { name: 'i32req', type: 'int' },
    { name: 'i32', type: ['null', 'int'] },
    { name: 'i64', type: ['null', 'long'] },
    { name: 'f64', type: ['null', 'double'] },
    { name: 'extra', type: 'string', default: 'x' },
  ],
};

const PARTITIONS = 5;

/** Every record of the input by partition, batches joined, with the ranges at the end. */
async function byPartition(input: FileInput): Promise<{ records: InputRecord[][]; ranges: unknown }> {
  const records: InputRecord[][] = Array.from({ length: PARTITIONS }, () => []);
  for await (const batch of input.batches()) records[batch.partition].push(...batch.records);
  return { records, ranges: input.ranges() };
}

async function comparePaths(path: string, key: Key, readerSchema: object | undefined, keep: (p: number) => boolean = () => true): Promise<{ rows: number; errors: number }> {
  const reference = await byPartition(openFileInput({ source: 'rows', path, partitions: PARTITIONS, partitionKey: key, readerSchema, partitionFilter: keep, batchSize: 700 }));
  // Only the kept partitions' slices reach the thread, as slice-feed.ts sends them.
  async function* mine(): AsyncGenerator<Parameters<typeof slicedFileInput>[0]['groups'] extends AsyncIterable<infer G> ? G : never> {
    for await (const g of splitParquetSlices({ path, readerSchema, partitions: PARTITIONS, key })) yield { names: g.names, slices: g.slices.filter((s) => keep(s.partition)) };
  }
  const sliced = slicedFileInput({ source: 'rows', path, partitions: PARTITIONS, partitionFilter: keep, groups: mine(), batchSize: 700 });
  const got = await byPartition(sliced);
  for (let p = 0; p < PARTITIONS; p++) {
    assert.equal(got.records[p].length, reference.records[p].length, `partition ${p}: as many records`);
    for (let i = 0; i < got.records[p].length; i++) assert.deepStrictEqual(got.records[p][i], reference.records[p][i], `partition ${p}, record ${i}`);
  }
  assert.deepStrictEqual(got.ranges, reference.ranges);
  const all = reference.records.flat();
  const first = all[0];
  if (first !== undefined) assert.deepStrictEqual(sliced.position(0, first), { file: path, row: (first as { index?: number }).index ?? first.offset });
  return { rows: all.length, errors: all.filter((r) => r.error !== undefined).length };
}

test('sliced by the coordinator or read by each thread: the same records per partition, for every file variant, key and schema', async () => {
  const files = writeVariants();
  assert.equal(files.length, 20);
  let errorRecords = 0;
  for (const path of files) {
    for (const [name, key] of KEYS) {
      for (const schema of [undefined, READER_SCHEMA]) {
        try {
          const { rows, errors } = await comparePaths(path, key, schema);
          assert.equal(rows, 3000);
          errorRecords += errors;
        } catch (e) {
          throw new Error(`${path.split('/').pop()}, ${name}, ${schema === undefined ? 'no schema' : 'reader schema'}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
  }
  // Overflowing INT64s, null s under the schema, the throwing key: error records on both paths.
  assert.ok(errorRecords > 20 * 5 * 100, `error records compared: ${errorRecords}`);
});

test('a thread given some partitions only gets their records, offsets counted over the whole file', async () => {
  const [path] = writeVariants();
  const keep = (p: number): boolean => p % 2 === 1;
  const { rows } = await comparePaths(path, KEYS[0][1], READER_SCHEMA, keep);
  assert.ok(rows > 0 && rows < 3000);
});

test('a backfill on two threads, fed slices by the coordinator, writes what one thread reading the file writes', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'skewless-split-backfill-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const plan = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
  const path = join(work, 'flights.parquet');
  const w = createTrainingWriter({
    path,
    columns: [
      { name: 'date', type: 'timestamp-ms', nullable: false },
      { name: 'delay', type: 'int64', nullable: false },
      { name: 'distance', type: 'int64', nullable: false },
      { name: 'origin', type: 'string', nullable: true },
      { name: 'destination', type: 'string', nullable: false },
    ],
    rowGroupSize: 1000,
  });
  const origins = ['SFO', 'LAX', 'SEA', 'JFK', 'ORD', 'ATL', 'DEN', 'BOS', 'PHX', 'IAH', 'MIA'];
  const t0 = Date.UTC(2001, 0, 1);
  // Shuffled-ish event times (late records too), a null origin every 97th row (dead letters).
  for (let i = 0; i < 6000; i++) {
    const jitter = ((i * 7919) % 13) * 60_000 * (i % 5 === 0 ? 30 : 1);
    w.appendRow({ date: t0 + i * 120_000 - jitter, delay: ((i * 37) % 90) - 20, distance: 100 + (i % 700), origin: i % 97 === 0 ? null : origins[(i * 31) % origins.length], destination: origins[(i * 17) % origins.length] });
  }
  w.close();
  assert.ok((await sliceableSplit(plan, { kind: 'files', inputs: { flights: path }, partitions: 6 })) !== undefined, 'this file is sliced by the coordinator');

  const runs = [];
  for (const workers of [1, 2]) {
    const out = join(work, `out-${workers}`);
    const summary = await replayFiles({ plan, inputs: { flights: path }, out, partitions: 6, workers, batchSize: 256 });
    runs.push({ out, summary });
  }
  const [one, two] = runs;
  assert.deepStrictEqual(two.summary.counters, one.summary.counters);
  assert.ok(one.summary.deadLetters.count > 0 && one.summary.counters.late + one.summary.counters.lateSideOutput >= 0);
  const files = (out: string, sub: string): Record<string, string> => {
    const d = join(out, sub);
    if (!existsSync(d)) return {};
    return Object.fromEntries(readdirSync(d).sort().map((f) => [f, readFileSync(join(d, f)).toString('base64')]));
  };
  for (const sub of ['flight_features', '_dead_letters', '_late_records']) assert.deepStrictEqual(files(two.out, sub), files(one.out, sub), sub);
  assert.ok(Object.keys(files(one.out, 'flight_features')).length > 1);
});
