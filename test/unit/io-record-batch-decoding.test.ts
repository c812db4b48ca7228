/**
 * The fast fetch-path decoder against kafkajs' own RecordBatch decoder (an independent
 * implementation of the same format): for every batch the two must build deeply equal
 * objects, and where the fast one declines (compressed, cut short, numbers beyond 2^53) the
 * installed decoder must still answer exactly as kafkajs does. The integration tests then
 * consume through it from a real broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { encodeRecordBatch, type BatchRecordInput } from '../../src/io/kafka/record-batch-encoding.js';
import { decodeFetchedRecordBatch } from '../../src/io/kafka/record-batch-decoding.js';
import { kafkajsRecordBatchDecoder } from '../../src/io/kafka/kafkajs-runtime.js';
import { Rng } from '../helpers/prng.js';

const require = createRequire(import.meta.url);
type KDecoder = { buffer: Buffer; offset: number };
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => KDecoder;
const installed = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: KDecoder) => Promise<unknown>;
const decodeMessages = require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages') as (d: KDecoder) => Promise<unknown[]>;
const kafkajsDecode = kafkajsRecordBatchDecoder!;
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: object) => unknown;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (o: object) => Promise<{ buffer: Buffer }> };
const Long = require('kafkajs/src/utils/long') as { fromValue(v: string | number): object };

function records(seed: number, n: number, base: number): BatchRecordInput[] {
  const r = new Rng(seed);
  const bytes = (len: number): Buffer => Buffer.from(Array.from({ length: len }, () => r.int(0, 255)));
  return Array.from({ length: n }, (_, i) => {
    const headers: Record<string, Buffer | string | Buffer[]> = {};
    if (r.chance(0.7)) headers['skewless-version'] = 'v1-9f8e7d6c';
    if (r.chance(0.2)) headers['ünïcode-☃'] = 'välue ☃';
    if (r.chance(0.2)) headers.multi = [bytes(3), bytes(0), bytes(200)];
    if (r.chance(0.1)) headers[''] = bytes(2);
    return {
      key: r.chance(0.1) ? null : r.chance(0.5) ? `card-${i}` : bytes(r.int(0, 40)),
      value: r.chance(0.05) ? null : bytes(r.int(0, r.chance(0.1) ? 3000 : 120)),
      headers,
      // Out of order: negative timestamp deltas, some of them beyond 32 bits.
      timestamp: base + r.int(0, 86_400_000 * 60) - (i % 7) * 1000,
    };
  });
}

function batch(seed: number, n: number, opts: { baseOffset?: bigint; base?: number; producerId?: bigint; transactional?: boolean } = {}): Buffer {
  const buf = encodeRecordBatch(records(seed, n, opts.base ?? 1_700_000_000_000), {
    producerId: opts.producerId ?? 4711n,
    producerEpoch: 3,
    firstSequence: 99,
    transactional: opts.transactional ?? true,
    now: 0,
  });
  // The base offset is the broker's to set, outside the CRC.
  buf.writeBigInt64BE(opts.baseOffset ?? 0n, 0);
  return buf;
}

/** Set attribute bits after encoding (decoders do not check the CRC). */
function withAttributes(buf: Buffer, bits: number): Buffer {
  const out = Buffer.from(buf);
  out.writeInt16BE(out.readInt16BE(21) | bits, 21);
  return out;
}

async function bothWays(buf: Buffer, label: string): Promise<void> {
  const theirs = await kafkajsDecode(new Decoder(buf));
  const fast = decodeFetchedRecordBatch(buf, 0);
  assert.ok(fast !== undefined, `${label}: taken by the fast decoder`);
  assert.deepStrictEqual(fast.batch, theirs, label);
  assert.equal(fast.end, buf.length, `${label}: end`);
  const d = new Decoder(buf);
  assert.deepStrictEqual(await installed(d), theirs, `${label}: installed`);
  assert.equal(d.offset, buf.length, `${label}: installed decoder moves past the batch`);
}

test('the installed fetch decoder is the fast one, kafkajs’ own kept for the rest', () => {
  assert.equal(typeof kafkajsDecode, 'function');
  assert.notEqual(installed, kafkajsDecode);
});

test('fetched batches decode exactly as kafkajs decodes them', async () => {
  const sizes = [1, 33, 700, 3000];
  for (const [seed, n] of sizes.entries()) {
    await bothWays(batch(seed, n), `seed ${seed}`);
    await bothWays(batch(seed, n, { baseOffset: 2n ** 40n + 7n, transactional: false, producerId: -1n }), `seed ${seed} at offset 2^40`);
  }
  // A producer id beyond 2^53 is text only; timestamps before 1970 and near 0.
  await bothWays(batch(5, 40, { producerId: 2n ** 60n + 3n }), 'producer id 2^60');
  await bothWays(batch(6, 40, { base: -86_400_000 * 40 }), 'negative timestamps');
});

test('negative timestamp deltas (a Java producer’s batches start at their first record) decode as kafkajs decodes them', async () => {
  const rs = records(17, 200, 1_700_000_000_000);
  rs[0] = { ...rs[0], timestamp: 1_700_000_000_000 + 86_400_000 * 61 };
  const first = Number(rs[0].timestamp);
  const encoded = rs.map((m, i) => Record({ ...m, offsetDelta: i, timestampDelta: Number(m.timestamp) - first }));
  assert.ok(rs.some((m) => Number(m.timestamp) < first - 2 ** 32), 'some deltas are negative beyond 32 bits');
  const ts = rs.map((m) => Number(m.timestamp));
  const buf = (await RecordBatch({ records: encoded, firstTimestamp: first, maxTimestamp: Math.max(...ts), producerId: Long.fromValue('5'), producerEpoch: 0, firstSequence: 0, lastOffsetDelta: rs.length - 1 })).buffer;
  const theirs = (await kafkajsDecode(new Decoder(buf))) as { records: Array<{ timestamp: string }> };
  assert.deepEqual(theirs.records.map((r) => Number(r.timestamp)), ts, 'kafkajs reads the timestamps back');
  await bothWays(buf, 'negative deltas');
});

test('control, log-append-time and transactional flags decode as kafkajs decodes them', async () => {
  const b = batch(7, 30);
  await bothWays(withAttributes(b, 0x20), 'control batch');
  await bothWays(withAttributes(b, 0x08), 'log append time');
  await bothWays(withAttributes(b, 0x08 | 0x10 | 0x20), 'all flags');
});

test('what the fast decoder declines is decoded by kafkajs, with the same result', async () => {
  // Offsets beyond 2^53 would lose digits as numbers.
  const far = batch(8, 20, { baseOffset: 2n ** 62n });
  assert.equal(decodeFetchedRecordBatch(far, 0), undefined);
  assert.deepStrictEqual(await installed(new Decoder(far)), await kafkajsDecode(new Decoder(far)));
  const nearEdge = batch(9, 20, { baseOffset: 2n ** 53n - 5n });
  assert.equal(decodeFetchedRecordBatch(nearEdge, 0), undefined, 'its last offset is past 2^53');
  assert.deepStrictEqual(await installed(new Decoder(nearEdge)), await kafkajsDecode(new Decoder(nearEdge)));
  // Compressed (gzip) batches go to kafkajs' codecs.
  assert.equal(decodeFetchedRecordBatch(withAttributes(batch(10, 5), 0x01), 0), undefined);
  // A record claiming no bytes at all: whatever kafkajs makes of it, so does the installed decoder.
  // It ends the fetched bytes, so a decoder reading on would run off the end.
  const empty = Buffer.from(batch(18, 1).subarray(0, 12 + 49 + 1));
  empty.writeInt32BE(49 + 1, 8);
  empty[12 + 49] = 0;
  assert.equal(decodeFetchedRecordBatch(empty, 0), undefined);
  const outcome = async (d: (x: KDecoder) => Promise<unknown>): Promise<unknown> => d(new Decoder(empty)).then((v) => ({ value: v }), (e: Error) => ({ error: e.name }));
  assert.deepStrictEqual(await outcome(installed), await outcome(kafkajsDecode));
  // A batch cut short: kafkajs' partial-message error, which its fetch path treats as the end.
  const cut = batch(11, 50).subarray(0, 400);
  assert.equal(decodeFetchedRecordBatch(cut, 0), undefined);
  await assert.rejects(installed(new Decoder(cut)), { name: 'KafkaJSPartialMessageError' });
});

test('a fetch of several batches with a cut-off tail yields kafkajs’ records', async () => {
  const parts = [batch(12, 300, { baseOffset: 1000n }), batch(13, 1, { baseOffset: 1300n }), withAttributes(batch(14, 1, { baseOffset: 1301n }), 0x20), batch(15, 90, { baseOffset: 1302n })];
  const whole = Buffer.concat(parts);
  const fetched = Buffer.concat([whole, batch(16, 40, { baseOffset: 1392n }).subarray(0, 300)]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(fetched.length);
  const got = await decodeMessages(new Decoder(Buffer.concat([size, fetched])));
  const want: unknown[] = [];
  const d = new Decoder(whole);
  while (d.offset < whole.length) want.push(...((await kafkajsDecode(d)) as { records: unknown[] }).records);
  assert.equal(got.length, 300 + 1 + 1 + 90);
  assert.deepStrictEqual(got, want);
});
