import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InputRecord } from '../../src/engine/input.js';
import { readNdjsonRecords } from '../../src/io/files/ndjson-reader.js';

async function withTempFile(name: string, content: string | Buffer, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-io-ndjson-'));
  try {
    const path = join(dir, name);
    writeFileSync(path, content);
    await fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function readAll(path: string, batchSize?: number): Promise<{ records: InputRecord[]; batchSizes: number[] }> {
  const records: InputRecord[] = [];
  const batchSizes: number[] = [];
  for await (const batch of readNdjsonRecords(path, { batchSize })) {
    batchSizes.push(batch.length);
    records.push(...batch);
  }
  return { records, batchSizes };
}

test('reads objects in file order; offsets count non-blank lines; errors cite 1-based line numbers', async () => {
  const lines = [
    '{"id":1,"amount":10.5}',
    '',
    '{"id":2,"nested":{"a":[1,2]}}',
    '{"id":3,',
    '   ',
    '[1,2,3]',
    '"just a string"',
    'null',
    '{"id":4}',
  ];
  await withTempFile('t.ndjson', lines.join('\n') + '\n\n', async (path) => {
    const { records } = await readAll(path);
    assert.equal(records.length, 7);
    assert.deepEqual(records.map((r) => r.offset), [0, 1, 2, 3, 4, 5, 6]);
    // Every record carries its line number and text, for its dead letter.
    assert.deepEqual(records[0], { offset: 0, line: 1, value: { id: 1, amount: 10.5 }, raw: lines[0] });
    assert.deepEqual(records[1].value, { id: 2, nested: { a: [1, 2] } });
    assert.match(records[2].error ?? '', /^invalid JSON at line 4: /);
    assert.equal(records[2].raw, '{"id":3,');
    assert.equal(records[2].value, undefined);
    assert.equal(records[3].error, 'invalid record at line 6: expected a JSON object, got an array');
    assert.equal(records[3].raw, '[1,2,3]');
    assert.equal(records[4].error, 'invalid record at line 7: expected a JSON object, got a string');
    assert.equal(records[5].error, 'invalid record at line 8: expected a JSON object, got null');
    assert.deepEqual(records[6], { offset: 6, line: 9, value: { id: 4 }, raw: '{"id":4}' });
  });
});

test('handles CRLF, a BOM, a last line without newline and multi-byte characters across chunk boundaries', async () => {
  // Long lines push the multi-byte characters over the 1 MiB read chunks.
  const long = 'é'.repeat(700_000);
  const content = '\ufeff{"a":1}\r\n{"s":"' + long + '"}\r\n{"z":"日本"}';
  await withTempFile('t.jsonl', content, async (path) => {
    const { records } = await readAll(path);
    assert.equal(records.length, 3);
    assert.deepEqual(records[0].value, { a: 1 });
    assert.equal((records[1].value as { s: string }).s, long);
    assert.deepEqual(records[2], { offset: 2, line: 3, value: { z: '日本' }, raw: '{"z":"日本"}' });
  });
});

test('yields bounded batches', async () => {
  const content = Array.from({ length: 10 }, (_, i) => JSON.stringify({ i })).join('\n');
  await withTempFile('t.ndjson', content, async (path) => {
    const { records, batchSizes } = await readAll(path, 4);
    assert.deepEqual(batchSizes, [4, 4, 2]);
    assert.deepEqual(records.map((r) => (r.value as { i: number }).i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

test('an empty file yields nothing; a missing file fails with a one-line message', async () => {
  await withTempFile('empty.ndjson', '', async (path) => {
    assert.deepEqual((await readAll(path)).records, []);
  });
  await assert.rejects(readAll('/nonexistent/dir/x.ndjson'), {
    message: 'skewless: cannot read /nonexistent/dir/x.ndjson: no such file or directory. Check the path.',
  });
});
