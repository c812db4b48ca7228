/**
 * The local parity file is bounded: past its size limit it is renamed to `<path>.1` (replacing
 * an older one), and the reader reads the rotated file and the current one, dropping repeats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParityFileWriter, readParityFile } from '../../src/parity/parity-log.js';

test('the parity file rotates past its limit, keeps one predecessor, and the reader reads both in order', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-parity-file-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'parity.ndjson');
  const w = new ParityFileWriter(path, 4096);
  const line = (offset: number) => ({ topic: 'tx', partition: 0, offset, event_time: 1000 + offset, version: 'v', key: `k${offset % 7}`, output: 'f', values: JSON.stringify({ n: offset }), kind: 'vector', merge_skips: 0 });
  let lines: string[] = [];
  for (let offset = 0; offset < 200; offset++) {
    lines.push(ParityFileWriter.line(line(offset)));
    if (offset % 10 === 9) {
      w.append(lines);
      lines = [];
    }
  }
  // A repeat after a retried batch is dropped by the reader.
  w.append([ParityFileWriter.line(line(199))]);
  assert.ok(existsSync(`${path}.1`), 'rotated');
  assert.ok(statSync(path).size <= 4096 + 2000 && statSync(`${path}.1`).size <= 4096 + 2000, 'each file bounded by the limit plus one flush');
  const contents = readParityFile(path);
  const offsets = contents.entries.map((e) => e.offset);
  assert.equal(offsets[offsets.length - 1], 199, 'newest last');
  assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b), 'rotated lines first');
  assert.equal(new Set(offsets).size, offsets.length, 'no repeats');
  assert.equal(contents.duplicates, 1);
  assert.ok(offsets.length < 200 && offsets.length >= 40, `older rotations are gone: ${offsets.length} kept`);
});
