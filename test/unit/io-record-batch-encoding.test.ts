/**
 * The fast RecordBatch encoder against kafkajs' own Record / RecordBatch encoders (an
 * independent implementation of the same format) byte for byte, and against kafkajs' decoder.
 * The integration tests then produce through it to a real broker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { crc32c, encodeRecordBatch, nativeBatchCrc, type BatchRecordInput } from '../../src/io/kafka/record-batch-encoding.js';
import { fastProducePath, kafkajsCreateRequest, kafkajsRecordBatchDecoder } from '../../src/io/kafka/kafkajs-runtime.js';

const require = createRequire(import.meta.url);
type Enc = { buffer: Buffer; writeString(s: string | null): Enc; writeInt16(n: number): Enc; writeInt32(n: number): Enc; writeArray(a: unknown[]): Enc; writeEncoder(e: Enc): Enc };
const Encoder = require('kafkajs/src/protocol/encoder') as new () => Enc;
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: object) => Enc;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (o: object) => Promise<Enc> };
const decodeBatch = kafkajsRecordBatchDecoder as unknown as (d: unknown) => Promise<{
  firstTimestamp: string;
  maxTimestamp: string;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  lastOffsetDelta: number;
  inTransaction: boolean;
  records: { key: Buffer | null; value: Buffer | null; timestamp: string; offset: string; headers: Record<string, Buffer | Buffer[]> }[];
}>;
const kafkajsCrc = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
const produceProtocol = require('kafkajs/src/protocol/requests/produce') as { protocol: (o: { version: number }) => (a: object) => { request: { encode(): Promise<Enc> } } };
const Long = require('kafkajs/src/utils/long') as { fromValue(v: string | number): object };

/** A small deterministic generator (xorshift32) so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

const TEXT_KEYS = ['', 'é', 'Zürich', '東京', '🛫 JFK', 'a\ud800b', 'x'.repeat(63), 'x'.repeat(64), `${'y'.repeat(62)}é`];

function randomRecords(seed: number, n: number): BatchRecordInput[] {
  const r = rng(seed);
  const bytes = (len: number): Buffer => Buffer.from(Array.from({ length: len }, () => Math.floor(r() * 256)));
  const base = 1_700_000_000_000;
  return Array.from({ length: n }, (_, i) => {
    const headers: Record<string, Buffer | string | Buffer[]> = {};
    if (r() < 0.7) headers['skewless-version'] = 'v1-9f8e7d6c';
    if (r() < 0.5) headers['skewless-offset'] = String(Math.floor(r() * 1e9));
    if (r() < 0.2) headers['ünïcode-☃'] = 'välue ☃';
    if (r() < 0.2) headers.multi = [bytes(3), bytes(0), bytes(200)];
    return {
      // Text keys: ASCII, and short ones of other characters (1 to 4 UTF-8 bytes each, a lone surrogate), and one past the short-key path.
      key: r() < 0.1 ? null : r() < 0.35 ? `card-${i}` : r() < 0.6 ? TEXT_KEYS[i % TEXT_KEYS.length] : bytes(Math.floor(r() * 40)),
      value: r() < 0.05 ? null : bytes(Math.floor(r() * (r() < 0.1 ? 3000 : 120))),
      headers,
      // Out-of-order timestamps (negative deltas), all 13 digits like kafkajs' string sort needs.
      timestamp: String(base + Math.floor(r() * 86_400_000 * 30) - (i % 7) * 1000),
    };
  });
}

/** What kafkajs 2.2.4's produce v3 partition encoder builds, using its own Record and RecordBatch. */
async function kafkajsBatch(messages: BatchRecordInput[], producerId: string, producerEpoch: number, firstSequence: number): Promise<Buffer> {
  const ts = messages.map((m) => Number(m.timestamp));
  const first = Math.min(...ts);
  const records = messages.map((m, i) => Record({ ...m, offsetDelta: i, timestampDelta: Number(m.timestamp) - first }));
  const batch = await RecordBatch({ records, firstTimestamp: first, maxTimestamp: Math.max(...ts), producerId: Long.fromValue(producerId), producerEpoch, firstSequence, lastOffsetDelta: records.length - 1 });
  return batch.buffer;
}

test('CRC-32C: the standard check value and kafkajs agree', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  const r = rng(7);
  for (const len of [1, 7, 8, 9, 63, 64, 1000, 4097]) {
    const b = Buffer.from(Array.from({ length: len }, () => Math.floor(r() * 256)));
    assert.equal(crc32c(b), kafkajsCrc(b), `length ${len}`);
    assert.equal(crc32c(Buffer.concat([Buffer.from([1, 2, 3]), b]), 3), kafkajsCrc(b), `length ${len} at an offset`);
  }
});

test('batches are checksummed by the native CRC-32C on this platform', () => {
  // The byte-identical comparisons below then check the native checksum against kafkajs'.
  assert.equal(nativeBatchCrc, true, '@node-rs/crc32 did not load: record batches use the slower table code');
});

test('a record batch is byte-identical to kafkajs’ encoding of the same records', async () => {
  for (const [seed, n] of [
    [1, 1],
    [2, 17],
    [3, 500],
    [4, 2048],
  ] as const) {
    // Half the records share one frozen header object, as live outputs do (its block is cached).
    const shared = Object.freeze({ 'skewless-version': 'v1-9f8e7d6c', 'ünïcode-☃': 'välue ☃', multi: [Buffer.from([1, 2]), Buffer.alloc(0)] });
    const records = randomRecords(seed, n).map((m, i) => (i % 2 === 0 ? { ...m, headers: shared } : m));
    const ours = encodeRecordBatch(records, { producerId: 4711n, producerEpoch: 3, firstSequence: 123_456, transactional: false, now: 0 });
    const theirs = await kafkajsBatch(records, '4711', 3, 123_456);
    assert.equal(ours.length, theirs.length, `seed ${seed}: length`);
    assert.ok(ours.equals(theirs), `seed ${seed}: first difference at byte ${ours.findIndex((b, i) => b !== theirs[i])}`);
  }
});

test('kafkajs’ decoder reads back every field, header and timestamp', async () => {
  const records = randomRecords(9, 300);
  const buf = encodeRecordBatch(records, { producerId: -1n, producerEpoch: 0, firstSequence: 0, transactional: true, now: 0 });
  const batch = await decodeBatch(new Decoder(buf));
  const ts = records.map((m) => Number(m.timestamp));
  assert.equal(batch.firstTimestamp, String(Math.min(...ts)));
  assert.equal(batch.maxTimestamp, String(Math.max(...ts)));
  assert.equal(batch.producerId, '-1');
  assert.equal(batch.inTransaction, true);
  assert.equal(batch.lastOffsetDelta, records.length - 1);
  assert.equal(batch.records.length, records.length);
  batch.records.forEach((got, i) => {
    const want = records[i];
    assert.equal(got.offset, String(i));
    assert.equal(got.timestamp, String(want.timestamp));
    assert.deepEqual(got.key, want.key === null || want.key === undefined ? null : Buffer.from(want.key));
    assert.deepEqual(got.value, want.value === null ? null : Buffer.from(want.value));
    for (const [k, v] of Object.entries(want.headers ?? {})) {
      const expected = Array.isArray(v) ? v.map((x) => Buffer.from(x)) : Buffer.from(v as string | Buffer);
      assert.deepEqual(got.headers[k], expected, `record ${i} header ${k}`);
    }
  });
});

test('records without a timestamp take the producer clock', async () => {
  const buf = encodeRecordBatch([{ key: 'a', value: 'x' }, { key: 'b', value: 'y', timestamp: 5_000 }], { producerId: -1n, producerEpoch: 0, firstSequence: 0, transactional: false, now: 9_000 });
  const batch = await decodeBatch(new Decoder(buf));
  assert.deepEqual(batch.records.map((r) => r.timestamp), ['9000', '5000']);
  assert.equal(batch.firstTimestamp, '5000');
  assert.equal(batch.maxTimestamp, '9000');
});

test('the produce request kafkajs sends through skewless equals its original encoding', async () => {
  assert.equal(fastProducePath, true, 'the fast produce path is installed');
  const a = randomRecords(11, 40);
  const b = randomRecords(12, 25);
  const topicData = [
    { topic: 'features', partitions: [{ partition: 0, firstSequence: 10, messages: a }, { partition: 3, firstSequence: 0, messages: b }] },
    { topic: 'skewless-dead-letters', partitions: [{ partition: 1, firstSequence: 7, messages: a.slice(0, 5) }] },
  ];
  const request = produceProtocol.protocol({ version: 7 })({ acks: -1, timeout: 30_000, topicData, producerId: Long.fromValue('99'), producerEpoch: 1 }).request;
  const ours = (await request.encode()).buffer;

  const topics: Enc[] = [];
  for (const t of topicData) {
    const parts: Enc[] = [];
    for (const p of t.partitions) {
      const batch = await kafkajsBatch(p.messages, '99', 1, p.firstSequence);
      const e = new Encoder().writeInt32(p.partition).writeInt32(batch.length);
      parts.push(e.writeEncoder(Object.assign(new Encoder(), { buf: batch, offset: batch.length })));
    }
    topics.push(new Encoder().writeString(t.topic).writeArray(parts));
  }
  const theirs = new Encoder().writeString(null).writeInt16(-1).writeInt32(30_000).writeArray(topics).buffer;
  assert.ok(ours.equals(theirs), `first difference at byte ${ours.findIndex((x, i) => x !== theirs[i])} of ${theirs.length}`);
});

test('requests are framed byte for byte as kafkajs frames them', async () => {
  const createRequest = require('kafkajs/src/protocol/request') as typeof kafkajsCreateRequest & object;
  assert.notEqual(createRequest, kafkajsCreateRequest, 'the one-buffer framer is installed');
  const topicData = [{ topic: 'features-☃', partitions: [{ partition: 2, firstSequence: 4, messages: randomRecords(21, 300) }] }];
  const produce = produceProtocol.protocol({ version: 7 })({ acks: -1, timeout: 30_000, topicData, transactionalId: 'g-task-2', producerId: Long.fromValue('7'), producerEpoch: 2 }).request as {
    apiKey: number;
    apiVersion: number;
    encode(): Promise<Enc>;
  };
  const small = { apiKey: 3, apiVersion: 6, encode: async () => new Encoder().writeInt32(0) };
  for (const request of [produce, small]) {
    for (const clientId of ['skewless', '', 'ünïcode-☃', null]) {
      const args = { correlationId: 123_456, clientId, request };
      const ours = (await createRequest!(args)).buffer;
      const theirs = (await kafkajsCreateRequest!(args)).buffer;
      assert.ok(ours.equals(theirs), `api ${request.apiKey}, client ${clientId}: first difference at byte ${ours.findIndex((x, i) => x !== theirs[i])} of ${theirs.length}`);
    }
  }
});
