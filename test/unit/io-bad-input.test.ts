/**
 * Bad input on the file paths (README "Bad input"): every format reads through the source's
 * Avro reader schema, text is strict UTF-8, a truncated Avro file loses no record silently.
 * Real files in a temp dir.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avsc from 'avsc';
import type { InputRecord } from '../../src/engine/input.js';
import { createTrainingWriter } from '../../src/io/files/parquet-training-writer.js';
import { readFileRecords } from '../../src/io/files/read-file-records.js';
import type { FileFormat } from '../../src/io/files/input-format.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const cardSchema = JSON.parse(readFileSync(join(ROOT, 'schemas/card_transaction.avsc'), 'utf8')) as object;
const flightSchema = JSON.parse(readFileSync(join(ROOT, 'schemas/flight.avsc'), 'utf8')) as object;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-bad-input-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function readAll(path: string, format: FileFormat, readerSchema?: object): Promise<InputRecord[]> {
  const out: InputRecord[] = [];
  for await (const batch of readFileRecords(path, format, { readerSchema })) out.push(...batch);
  return out;
}

const txn = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  txn_id: 't1',
  card_id: 'c1',
  merchant_id: 'm1',
  amount: 10.5,
  currency: 'EUR',
  amount_usd: 11.41,
  event_time: 1_700_000_000_000,
  country: 'DE',
  ...over,
});

test('NDJSON records are checked against the reader schema: wrong types are error records naming the field', () =>
  withDir(async (dir) => {
    const path = join(dir, 'tx.ndjson');
    const lines = [
      JSON.stringify(txn({ extra: 'dropped, as the Kafka decoder drops it' })),
      JSON.stringify(txn({ amount: '12.5' })),
      JSON.stringify(txn({ card_id: { nested: true } })),
      JSON.stringify(txn({ card_id: 42 })),
      JSON.stringify(txn({ event_time: 1.5 })),
      JSON.stringify({ ...txn(), country: undefined }),
    ];
    writeFileSync(path, lines.join('\n'));
    const records = await readAll(path, 'ndjson', cardSchema);
    assert.deepEqual(records[0].value, txn(), 'schema fields only, in schema order');
    assert.deepEqual(Object.keys(records[0].value!), ['txn_id', 'card_id', 'merchant_id', 'amount', 'currency', 'amount_usd', 'event_time', 'country']);
    assert.equal(records[1].error, 'invalid record at line 2: field "amount": expected double, got string "12.5"');
    assert.equal(records[2].error, 'invalid record at line 3: field "card_id": expected string, got object {"nested":true}');
    assert.equal(records[3].error, 'invalid record at line 4: field "card_id": expected string, got number 42');
    assert.equal(records[4].error, 'invalid record at line 5: field "event_time": expected long, got number 1.5');
    assert.equal(records[5].error, 'invalid record at line 6: field "country" is missing (the schema gives it no default)');
    for (const r of records.slice(1)) assert.equal(r.raw, lines[r.offset], 'the line is kept for the dead letter');
  }));

test('NDJSON: a missing field with a default takes it; unions accept their branches', () =>
  withDir(async (dir) => {
    const schema = { type: 'record', name: 'R', fields: [{ name: 'id', type: 'string' }, { name: 'note', type: ['null', 'string'], default: null }, { name: 'n', type: 'int', default: 7 }] };
    const path = join(dir, 'r.ndjson');
    writeFileSync(path, ['{"id":"a"}', '{"id":"b","note":"x","n":1}', '{"id":"c","note":5}', '{"id":"d","n":2147483648}'].join('\n'));
    const records = await readAll(path, 'ndjson', schema);
    assert.deepEqual(records[0].value, { id: 'a', note: null, n: 7 });
    assert.deepEqual(records[1].value, { id: 'b', note: 'x', n: 1 });
    assert.equal(records[2].error, 'invalid record at line 3: field "note": expected null | string, got number 5');
    assert.equal(records[3].error, 'invalid record at line 4: field "n": expected int, got number 2147483648');
  }));

test('Parquet rows are checked against the reader schema: a null or fractional value in a long field is an error record', () =>
  withDir(async (dir) => {
    const path = join(dir, 'flights.parquet');
    const w = createTrainingWriter({
      path,
      columns: [
        { name: 'date', type: 'timestamp-ms', nullable: false },
        { name: 'delay', type: 'double', nullable: true },
        { name: 'distance', type: 'int64', nullable: false },
        { name: 'origin', type: 'string', nullable: true },
        { name: 'destination', type: 'string', nullable: false },
        { name: 'unused', type: 'string', nullable: false },
      ],
    });
    w.appendRow({ date: 1000, delay: 5, distance: 300, origin: 'SFO', destination: 'LAX', unused: 'x' });
    w.appendRow({ date: 2000, delay: 12.5, distance: 300, origin: 'SFO', destination: 'LAX', unused: 'x' });
    w.appendRow({ date: 3000, delay: 1, distance: 300, origin: null, destination: 'LAX', unused: 'x' });
    w.close();
    const records = await readAll(path, 'parquet', flightSchema);
    assert.deepEqual(records[0], { offset: 0, value: { date: 1000, delay: 5, distance: 300, origin: 'SFO', destination: 'LAX' } });
    assert.equal(records[1].error, 'row 1 does not match the schema: field "delay": expected long, got number 12.5');
    assert.equal(records[2].error, 'row 2 does not match the schema: field "origin": expected string, got null');
    assert.match(String(records[2].raw), /"origin":null/);
  }));

test('NDJSON is strict UTF-8: ids that differ only in invalid bytes are error records, not one key with U+FFFD', () =>
  withDir(async (dir) => {
    const path = join(dir, 'tx.ndjson');
    const line = (id: Buffer): Buffer => Buffer.concat([Buffer.from('{"card_id":"'), id, Buffer.from('"}\n')]);
    writeFileSync(path, Buffer.concat([line(Buffer.from('ok')), line(Buffer.from([0x63, 0xff, 0xfe])), line(Buffer.from([0x63, 0xfe, 0xff])), line(Buffer.from('é'))]));
    const records = await readAll(path, 'ndjson');
    assert.deepEqual(records[0].value, { card_id: 'ok' });
    assert.equal(records[1].error, 'invalid UTF-8 at line 2, byte 14 of the line (0xff)');
    assert.equal(records[2].error, 'invalid UTF-8 at line 3, byte 14 of the line (0xfe)');
    assert.deepEqual(records[1].raw, line(Buffer.from([0x63, 0xff, 0xfe])).subarray(0, -1), 'the bytes are kept');
    assert.deepEqual(records[3].value, { card_id: 'é' });
  }));

test('Avro OCF strings are strict UTF-8: an invalid string makes its record an error record', () =>
  withDir(async (dir) => {
    const schema = { type: 'record', name: 'R', fields: [{ name: 'id', type: 'string' }] };
    const type = avsc.Type.forSchema(schema as avsc.Schema);
    const encoder = new avsc.streams.BlockEncoder(type, { codec: 'null' } as object);
    const chunks: Buffer[] = [];
    encoder.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((resolve) => encoder.on('end', resolve));
    for (const id of ['cAB', 'cCD', 'ok\uFFFD']) encoder.write({ id });
    encoder.end();
    await ended;
    const file = Buffer.concat(chunks);
    file.set([0xff, 0xfe], file.indexOf('cAB') + 1);
    file.set([0xfe, 0xff], file.indexOf('cCD') + 1);
    const path = join(dir, 'r.avro');
    writeFileSync(path, file);
    const records = await readAll(path, 'avro', schema);
    assert.equal(records.length, 3);
    assert.match(records[0].error ?? '', /^undecodable record 0 of 3 in Avro block #0 at byte \d+: invalid UTF-8 in a string value/);
    assert.match(records[1].error ?? '', /^undecodable record 1 of 3 /);
    assert.ok(records[0].raw instanceof Uint8Array);
    assert.equal((records[2].value as { id: string }).id, 'ok\uFFFD', 'a real U+FFFD is valid UTF-8');
  }));

test('a truncated Avro file (one block of 2,000 records, deflate) keeps the records before the cut and dead-letters each lost one', () =>
  withDir(async (dir) => {
    const schema = { type: 'record', name: 'R', fields: [{ name: 'id', type: 'long' }, { name: 'pad', type: 'string' }] };
    const encoder = new avsc.streams.BlockEncoder(avsc.Type.forSchema(schema as avsc.Schema), { codec: 'deflate', blockSize: 1 << 22 } as object);
    const chunks: Buffer[] = [];
    encoder.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise((resolve) => encoder.on('end', resolve));
    // Random-ish padding so deflate output grows with the record count.
    for (let i = 0; i < 2000; i++) encoder.write({ id: i, pad: ((i * 2654435761) >>> 0).toString(36).repeat(3) });
    encoder.end();
    await ended;
    const file = Buffer.concat(chunks);
    const path = join(dir, 'cut.avro');
    writeFileSync(path, file.subarray(0, Math.floor(file.length * 0.6)));
    const records = await readAll(path, 'avro', schema);
    const good = records.filter((r) => r.error === undefined);
    const lost = records.filter((r) => r.error !== undefined);
    assert.equal(records.length, 2000, 'every record of the block is accounted for');
    assert.ok(good.length > 500, `records before the cut are read (${good.length})`);
    assert.deepEqual(good.map((r) => (r.value as { id: number }).id), good.map((_, i) => i));
    assert.match(lost[0].error ?? '', new RegExp(`declares 2000 records .*; ${good.length} records before the cut were read, records ${good.length}\\.\\.1999 of the block are lost$`));
  }));
