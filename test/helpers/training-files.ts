/**
 * Comparing two backfills' training Parquet: the check that replay from Kafka equals replay
 * from files (test/integration/kafka-replay.test.ts, secure-stack.test.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';

/** Every `.parquet` file under `root`, relative to it, sorted. */
export function parquetFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.endsWith('.parquet')) out.push(relative(root, join(d, e.name)));
    }
  };
  walk(root);
  return out.sort();
}

export function arrayBuffer(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** The footer's key-value metadata as a map. */
export function keyValues(bytes: Buffer): Record<string, string> {
  const meta = parquetMetadata(arrayBuffer(bytes));
  return Object.fromEntries((meta.key_value_metadata ?? []).map((kv) => [kv.key, kv.value ?? '']));
}

/**
 * Every training file of `a` and `b` is the same: the bytes up to the footer (every page),
 * the footer's structure, every row (all columns, compared exactly), and every key-value
 * metadata entry but the input ranges, which say where the records came from. `minFiles`: at
 * least this many files (e.g. two outputs × partitions).
 */
export async function assertSameTraining(a: string, b: string, minFiles: number): Promise<void> {
  const files = parquetFiles(a);
  assert.deepEqual(parquetFiles(b), files, 'the same training files');
  assert.ok(files.length >= minFiles, `at least ${minFiles} training files: ${files.join(', ')}`);
  for (const f of files) {
    const x = readFileSync(join(a, f));
    const y = readFileSync(join(b, f));
    const pagesEnd = (buf: Buffer): number => buf.length - 8 - buf.readUInt32LE(buf.length - 8);
    assert.ok(x.subarray(0, pagesEnd(x)).equals(y.subarray(0, pagesEnd(y))), `${f}: identical bytes before the footer`);
    // The footer's length and key-value entries differ with the input ranges; the rest must not.
    const { key_value_metadata: _kx, metadata_length: _lx, ...footerX } = parquetMetadata(arrayBuffer(x));
    const { key_value_metadata: _ky, metadata_length: _ly, ...footerY } = parquetMetadata(arrayBuffer(y));
    assert.deepStrictEqual(footerX, footerY, `${f}: footer`);
    const kvX = keyValues(x);
    const kvY = keyValues(y);
    assert.ok(kvX['skewless.input_ranges'] && kvY['skewless.input_ranges'], `${f}: input ranges recorded`);
    delete kvX['skewless.input_ranges'];
    delete kvY['skewless.input_ranges'];
    assert.deepStrictEqual(kvX, kvY, `${f}: metadata other than input ranges`);
    const rowsX = await parquetReadObjects({ file: arrayBuffer(x) });
    const rowsY = await parquetReadObjects({ file: arrayBuffer(y) });
    assert.ok(rowsX.length > 0, `${f}: has rows`);
    // deepStrictEqual compares numbers with Object.is: -0, NaN and every last bit count.
    assert.deepStrictEqual(rowsY, rowsX, `${f}: rows`);
  }
}
