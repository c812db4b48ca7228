/**
 * Progress totals of file inputs (src/io/files/input-record-count.ts): records counted from
 * Parquet footers, Avro block headers and NDJSON lines without decoding; a file backfill
 * reports the total before it starts. Expected counts are those the test wrote.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { countInputRecords } from '../../src/io/files/input-record-count.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { loadTopology } from '../../src/plan/load-topology.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'skewless-count-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('NDJSON: non-blank lines, whatever the line ends, blank lines, a byte-order mark or a missing last newline', async () => {
  const path = join(dir, 'x.ndjson');
  // Records: {"a":1}, {"a":2}, {"a":3}, not-json (an error record is a record too) = 4.
  writeFileSync(path, '\ufeff{"a":1}\r\n\n   \t\r\n{"a":2}\n{"a":3}\n\nnot-json');
  assert.equal(await countInputRecords(path), 4);
  writeFileSync(path, '');
  assert.equal(await countInputRecords(path), 0);
  // A line longer than the reader's 1 MiB chunks is one record.
  writeFileSync(path, `{"s":"${'x'.repeat(3 << 20)}"}\n{"a":1}\n`);
  assert.equal(await countInputRecords(path), 2);
});

test('Avro: the counts in the block headers, over many blocks', async () => {
  const path = join(dir, 'x.avro');
  const type = avro.Type.forSchema({ type: 'record', name: 'r', fields: [{ name: 'n', type: 'long' }] });
  const encoder = avro.createFileEncoder(path, type, { blockSize: 256 });
  for (let n = 0; n < 2500; n++) encoder.write({ n });
  encoder.end();
  await new Promise((resolve) => encoder.once('finish', resolve));
  await new Promise((r) => setTimeout(r, 50)); // the file stream closes after the encoder finishes
  const blocks = readFileSync(path).length / 256;
  assert.ok(blocks > 10, `several blocks (${blocks})`);
  assert.equal(await countInputRecords(path), 2500);
});

test('Parquet: the row count of the footer; a directory sums its partition files', async () => {
  const parts = join(dir, 'parts');
  mkdirSync(parts);
  const rows = [777, 12];
  rows.forEach((n, i) => {
    const buffer = parquetWriteBuffer({ columnData: [{ name: 'n', data: Array.from({ length: n }, (_, k) => k), type: 'INT32' }] });
    writeFileSync(join(parts, `part-${i}.parquet`), new Uint8Array(buffer));
  });
  assert.equal(await countInputRecords(join(parts, 'part-0.parquet')), 777);
  assert.equal(await countInputRecords(parts), 789);
  assert.equal(await countInputRecords(join(ROOT, 'node_modules/vega-datasets/data/flights-3m.parquet')), 3_000_000);
});

test('a file backfill reports its total before it starts: every engine record, labels excluded', async () => {
  const data = await writeCardDataset({ outDir: join(dir, 'cards'), events: 3000, seed: 5, format: 'ndjson' });
  const count = (path: string): number => readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').length;
  const transactions = count(data.transactionsPath);
  // The merchant tiers are an engine input too (a table); the chargebacks only label.
  const lines = transactions + count(data.merchantTiersPath);
  const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
  const totals: number[] = [];
  let lastProgress = 0;
  const summary = await replayFiles({
    plan,
    inputs: { transactions: data.transactionsPath, chargebacks: data.chargebacksPath, merchant_tiers: data.merchantTiersPath },
    partitions: 3,
    out: join(dir, 'out'),
    workers: 2,
    onTotal: (n) => totals.push(n),
    onProgress: (n) => (lastProgress = n),
  });
  assert.deepEqual(totals, [lines]);
  assert.equal(transactions, 3000);
  assert.ok(lines > transactions, 'tier versions are counted');
  assert.equal(summary.counters.processed, lines);
  assert.equal(lastProgress, lines, 'progress ends at the total');
});
