/**
 * The flat-column Parquet decoder (src/io/files/parquet-flat-decoder.ts) against hyparquet, the
 * reference it stands in for: files written by pyarrow in every codec, both data page versions,
 * dictionary and plain pages (and dictionaries that overflow into plain pages midway), small
 * pages and row groups, with nulls, NaN, -0, infinities, INT64 beyond 2^53, timestamps of every
 * unit before and after 1970, dates and UTF-8 strings. Every chunk must go through the flat
 * decoder, and every record must equal hyparquet's, error records included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { asyncBufferFromFile, parquetMetadataAsync, parquetSchema } from 'hyparquet';
import type { InputRecord } from '../../src/engine/input.js';
import { readParquetRecords } from '../../src/io/files/parquet-reader.js';
import { decodeFlatChunk, flatChunks } from '../../src/io/files/parquet-flat-decoder.js';

const INSTALL_HINT = 'run `pip install -r requirements.txt` (CI installs it)';
const dir = mkdtempSync(join(tmpdir(), 'skewless-flat-decoder-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function writeVariants(): string[] {
  const result = spawnSync('python3', ['test/python/write_flat_variants.py', dir], { encoding: 'utf8' });
  if (result.error) assert.fail(`cannot run python3 (${result.error.message}): install Python 3 and ${INSTALL_HINT}`);
  if (result.status === 3) assert.fail(`${result.stderr.trim()} — ${INSTALL_HINT}`);
  if (result.status !== 0) assert.fail(`test/python/write_flat_variants.py failed (exit ${result.status}): ${result.stderr.trim()}`);
  return readdirSync(dir).sort();
}

/** Records of both decoders, batch by batch: the number that differ, the first difference, the error records. */
async function compareDecoders(path: string, readerSchema?: object): Promise<{ rows: number; diffs: number; first?: string; errors: number }> {
  const flat = readParquetRecords(path, { readerSchema })[Symbol.asyncIterator]();
  const reference = readParquetRecords(path, { readerSchema, flatDecoder: false })[Symbol.asyncIterator]();
  let rows = 0;
  let diffs = 0;
  let errors = 0;
  let first: string | undefined;
  for (;;) {
    const [a, b] = await Promise.all([flat.next(), reference.next()]);
    assert.equal(a.done, b.done, 'both decoders give the same number of batches');
    if (a.done || b.done) break;
    const x: InputRecord[] = a.value;
    const y: InputRecord[] = b.value;
    assert.equal(x.length, y.length);
    for (let i = 0; i < x.length; i++) {
      if (y[i].error !== undefined) errors++;
      if (!isDeepStrictEqual(x[i], y[i])) {
        diffs++;
        first ??= `row ${rows + i}: flat ${JSON.stringify(x[i], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))} against ${JSON.stringify(y[i], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`;
      }
    }
    rows += x.length;
  }
  return { rows, diffs, first, errors };
}

/** Per row group and column: whether the flat decoder reads the chunk (true), or declines it. */
async function coverage(path: string): Promise<boolean[]> {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  const names = parquetSchema(metadata).children.map((c) => c.element.name);
  const covered: boolean[] = [];
  for (let g = 0; g < metadata.row_groups.length; g++) {
    const chunks = flatChunks(metadata, g, names);
    if (chunks === undefined) {
      covered.push(false);
      continue;
    }
    for (const c of chunks) covered.push(decodeFlatChunk(new Uint8Array(await file.slice(c.start, c.end)), c, Number(metadata.row_groups[g].num_rows)) !== undefined);
  }
  return covered;
}

test('pyarrow files in every codec, page version and encoding: every chunk decoded flat, every record as hyparquet gives it', async () => {
  const files = writeVariants();
  const variants = files.filter((f) => f !== 'fallback.parquet');
  assert.equal(variants.length, 20);
  for (const f of variants) {
    const path = join(dir, f);
    const covered = await coverage(path);
    assert.equal(covered.length, 3 * 11, `${f}: 3 row groups of 11 columns`);
    assert.ok(covered.every(Boolean), `${f}: every chunk goes through the flat decoder`);
    const { rows, diffs, first, errors } = await compareDecoders(path);
    assert.equal(rows, 3000);
    assert.equal(diffs, 0, `${f}: ${first}`);
    // INT64 values beyond 2^53 (every 97th row's i64 when not null): error records, alike.
    assert.ok(errors > 0, `${f}: the overflow rows are error records`);
  }
  // Columns it does not cover (boolean, list, decimal) leave their row groups to hyparquet.
  const fallback = join(dir, 'fallback.parquet');
  assert.ok((await coverage(fallback)).every((c) => !c));
  assert.equal((await compareDecoders(fallback)).diffs, 0);
});

test('the 3,000,000 flights (Polars, ZSTD, dictionary pages, TIMESTAMP MICROS) read through the reader schema as hyparquet gives them', async () => {
  const flights = fileURLToPath(new URL('../../node_modules/vega-datasets/data/flights-3m.parquet', import.meta.url));
  assert.ok((await coverage(flights)).every(Boolean), 'every chunk goes through the flat decoder');
  const schema = JSON.parse((await import('node:fs')).readFileSync('schemas/flight.avsc', 'utf8')) as object;
  const { rows, diffs, first, errors } = await compareDecoders(flights, schema);
  assert.deepEqual({ rows, diffs, errors }, { rows: 3_000_000, diffs: 0, errors: 0 }, first);
});
