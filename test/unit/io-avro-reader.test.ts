import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avsc from 'avsc';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';
import type { InputRecord } from '../../src/engine/input.js';
import { crc32 } from '../../src/io/files/avro-codecs.js';
import { readAvroRecords, type AvroReadOptions } from '../../src/io/files/avro-ocf-reader.js';

const SYNC = Buffer.from('0123456789abcdef');

const paymentV1 = {
  type: 'record',
  name: 'Payment',
  namespace: 'test',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'card', type: 'string' },
    { name: 'amount', type: 'double' },
  ],
};

/** v2 as a consumer would declare it: two added fields with defaults. */
const paymentV2 = {
  ...paymentV1,
  fields: [
    ...paymentV1.fields,
    { name: 'currency', type: 'string', default: 'EUR' },
    { name: 'merchant', type: ['null', 'string'], default: null },
  ],
};

const payments = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i, card: `card-${i % 7}`, amount: i * 1.25 }));

async function encodeOcf(schema: object | avsc.Type, records: readonly object[], opts: Partial<{ codec: string; codecs: object; blockSize: number }> = {}): Promise<Buffer> {
  const encoder = new avsc.streams.BlockEncoder(schema as avsc.Schema, { syncMarker: SYNC, blockSize: 256, ...opts } as object);
  const chunks: Buffer[] = [];
  encoder.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise((resolve, reject) => {
    encoder.on('end', resolve);
    encoder.on('error', reject);
  });
  for (const record of records) encoder.write(record);
  encoder.end();
  await ended;
  return Buffer.concat(chunks);
}

/** Byte positions right after each sync marker: [header end, block 0 end, block 1 end, ...]. */
function syncEnds(file: Buffer): number[] {
  const ends: number[] = [];
  for (let at = file.indexOf(SYNC); at !== -1; at = file.indexOf(SYNC, at + 1)) ends.push(at + SYNC.length);
  return ends;
}

async function readBytes(bytes: Buffer, options: AvroReadOptions = {}): Promise<{ records: InputRecord[]; batchSizes: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-io-avro-'));
  try {
    const path = join(dir, 'data.avro');
    writeFileSync(path, bytes);
    const records: InputRecord[] = [];
    const batchSizes: number[] = [];
    for await (const batch of readAvroRecords(path, options)) {
      batchSizes.push(batch.length);
      records.push(...batch);
    }
    return { records, batchSizes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

test('reads every record of a multi-block deflate file in order, in bounded batches', async () => {
  const input = payments(500);
  const file = await encodeOcf(paymentV1, input, { codec: 'deflate' });
  assert.ok(syncEnds(file).length > 10, 'the test file must span many blocks');
  const { records, batchSizes } = await readBytes(file, { batchSize: 64 });
  assert.equal(records.length, 500);
  assert.deepEqual(batchSizes, [...Array<number>(7).fill(64), 500 - 7 * 64]);
  records.forEach((record, i) => {
    assert.equal(record.offset, i);
    assert.equal(record.error, undefined);
    assert.deepEqual(plain(record.value), input[i]);
  });
});

test('reads null-codec and snappy-codec files (snappy with its CRC32 trailer)', async () => {
  const input = payments(120);
  const snappy = (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void): void => {
    const trailer = Buffer.alloc(4);
    trailer.writeUInt32BE(crc32(buf));
    cb(null, Buffer.concat([Buffer.from(snappyCompress(buf)), trailer]));
  };
  for (const opts of [{ codec: 'null' }, { codec: 'snappy', codecs: { snappy } }]) {
    const { records } = await readBytes(await encodeOcf(paymentV1, input, opts));
    assert.deepEqual(records.map((r) => plain(r.value)), input, opts.codec);
  }
});

test('resolves old files through the reader schema: added fields get their defaults', async () => {
  const file = await encodeOcf(paymentV1, payments(3));
  const { records } = await readBytes(file, { readerSchema: paymentV2 });
  assert.deepEqual(records.map((r) => plain(r.value)), [
    { id: 0, card: 'card-0', amount: 0, currency: 'EUR', merchant: null },
    { id: 1, card: 'card-1', amount: 1.25, currency: 'EUR', merchant: null },
    { id: 2, card: 'card-2', amount: 2.5, currency: 'EUR', merchant: null },
  ]);
});

test('an incompatible reader schema fails with one line naming the file and the fix', async () => {
  const incompatible = { ...paymentV1, fields: [...paymentV1.fields, { name: 'country', type: 'string' }] };
  const file = await encodeOcf(paymentV1, payments(2));
  await assert.rejects(readBytes(file, { readerSchema: incompatible }), (err: Error) => {
    assert.match(err.message, /^skewless: cannot read .*data\.avro: the file's writer schema cannot be read with the reader schema: .*skewless schemas check/);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
});

test('a long beyond 2^53 makes only its own record an error; decoding continues after it', async () => {
  const schema = { type: 'record', name: 'Counter', fields: [{ name: 'n', type: 'long' }, { name: 'tag', type: 'string' }] };
  // Encode with a bigint long type so the file can hold a value a JS number cannot.
  const bigLong = avsc.types.LongType.__with({
    fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
    toBuffer: (n: bigint) => {
      const buf = Buffer.alloc(8);
      buf.writeBigInt64LE(n);
      return buf;
    },
    fromJSON: BigInt,
    toJSON: Number,
    isValid: (n: unknown) => typeof n === 'bigint',
    compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
  });
  const writerType = avsc.Type.forSchema(schema as avsc.Schema, { registry: { long: bigLong } });
  const rows = [
    { n: 1n, tag: 'a' },
    { n: 2n ** 60n, tag: 'huge' },
    { n: 3n, tag: 'c' },
  ];
  const { records } = await readBytes(await encodeOcf(writerType, rows, { blockSize: 4096 }));
  assert.equal(records.length, 3);
  assert.deepEqual(plain(records[0].value), { n: 1, tag: 'a' });
  assert.match(records[1].error ?? '', /^undecodable record 1 of 3 in Avro block #0 at byte \d+: potential precision loss/);
  assert.ok(records[1].raw instanceof Uint8Array && records[1].raw.length > 0);
  assert.deepEqual(plain(records[2].value), { n: 3, tag: 'c' });
  assert.deepEqual(records.map((r) => r.offset), [0, 1, 2]);
});

test('a block whose body cannot be decompressed yields one error per record and reading goes on', async () => {
  const input = payments(200);
  const file = await encodeOcf(paymentV1, input, { codec: 'deflate' });
  const ends = syncEnds(file);
  // Scramble the middle of block 1 (between the end of block 0 and the sync of block 1).
  const start = ends[1] + 6;
  const stop = ends[2] - SYNC.length - 2;
  for (let i = start; i < stop; i++) file[i] ^= 0x5a;

  const { records } = await readBytes(file);
  assert.equal(records.length, 200, 'the sync marker held, so the record count of the block is known');
  const broken = records.filter((r) => r.error !== undefined);
  assert.ok(broken.length > 0);
  assert.ok(broken.every((r) => /^corrupt Avro block #1 at byte \d+: cannot decompress: /.test(r.error ?? '')));
  records.forEach((record, i) => {
    assert.equal(record.offset, i);
    if (record.error === undefined) assert.deepEqual(plain(record.value), input[i]);
  });
  assert.ok(records.slice(-10).every((r) => r.error === undefined), 'blocks after the damage are read');
});

test('a damaged sync marker dead-letters that block record by record and reading resumes at the next block', async () => {
  const input = payments(200);
  const file = await encodeOcf(paymentV1, input);
  const ends = syncEnds(file);
  file[ends[2] - 3] ^= 0xff; // sync marker closing block 1

  const { records } = await readBytes(file);
  const errors = records.filter((r) => r.error !== undefined);
  const good = records.filter((r) => r.error === undefined).map((r) => plain(r.value) as { id: number });
  // Block 1's records are error records, one each (its body kept on the first); every other block reads.
  assert.equal(records.length, 200, 'every record of the file is accounted for');
  assert.ok(errors.length > 0 && errors.length < 200);
  assert.match(errors[0].error ?? '', new RegExp(`^corrupt Avro block #1 at byte ${ends[1]}: sync marker mismatch; the next block at byte ${ends[2]} reads normally; the ${errors.length} record\\(s\\) it declares are lost$`));
  assert.ok(errors[0].raw instanceof Uint8Array && errors[0].raw.length > 0);
  assert.equal(good.at(-1)?.id, 199, 'the rest of the file is read');
  assert.deepEqual(good.map((v) => v.id), input.map((v) => v.id).filter((id) => !errors.some((e) => records[id] === e)));
  assert.deepEqual(records.map((r) => r.offset), records.map((_, i) => i));
});

test('a truncated file: the cut block is read up to the cut and every lost record is one error record', async () => {
  const input = payments(200);
  const file = await encodeOcf(paymentV1, input);
  const ends = syncEnds(file);
  const cut = file.subarray(0, ends.at(-1)! - 20);
  const { records } = await readBytes(cut);
  const errors = records.filter((r) => r.error !== undefined);
  assert.ok(errors.length >= 1);
  assert.match(errors[0].error ?? '', /^truncated Avro file: block #\d+ at byte \d+ declares \d+ records in \d+ bytes but the file ends after \d+ of them \(byte \d+\); \d+ records before the cut were read, records \d+\.\.\d+ of the block are lost$/);
  const good = records.filter((r) => r.error === undefined);
  assert.ok(good.every((r, i) => (plain(r.value) as { id: number }).id === i));
  assert.ok(records.length <= 200 && records.slice(good.length).every((r) => r.error !== undefined), 'errors come after the records read');
});

test('files that cannot be read at all fail with a one-line message', async () => {
  await assert.rejects(readBytes(Buffer.from('PAR1 not avro at all')), {
    message: /^skewless: cannot read .*data\.avro: not an Avro object container file \(bad magic\)\. Pass --format or check the path\.$/,
  });
  const bzip = await encodeOcf(paymentV1, payments(1), { codec: 'bzip2', codecs: { bzip2: (b: Buffer, cb: (e: null, o: Buffer) => void) => cb(null, b) } });
  await assert.rejects(readBytes(bzip), { message: /unsupported Avro codec "bzip2" \(supported: null, deflate, snappy, zstandard\)/ });
  const header = (await encodeOcf(paymentV1, payments(1))).subarray(0, 30);
  await assert.rejects(readBytes(header), { message: /truncated Avro header/ });
});

test('records come out as plain objects, as the Kafka decoder gives them: with the file schema, the same reader schema, and through a resolver', async () => {
  const file = await encodeOcf(paymentV1, payments(40), { codec: 'deflate' });
  for (const readerSchema of [undefined, paymentV1, paymentV2]) {
    const { records } = await readBytes(file, readerSchema === undefined ? {} : { readerSchema });
    assert.equal(records.length, 40);
    for (const r of records) {
      // An avsc record instance has its own prototype (and a toString() that gives JSON): a key or event-time function could tell them apart.
      assert.equal(Object.getPrototypeOf(r.value), Object.prototype, `reader schema ${readerSchema === undefined ? 'none' : (readerSchema.fields.length === 3 ? 'v1' : 'v2')}`);
      assert.equal(String(r.value), '[object Object]');
    }
    assert.deepEqual(Object.keys(records[0].value as object), (readerSchema ?? paymentV1).fields.map((f) => f.name));
  }
});
