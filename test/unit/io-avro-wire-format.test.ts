/**
 * Confluent wire format against the real registry (the local stack): schema evolution through
 * the reader schema, the reason given for every kind of bad value, and the value conventions
 * shared with the archive reader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import avsc from 'avsc';
import { SchemaRegistryClient } from '../../src/io/avro/registry-client.js';
import { WireDecoder } from '../../src/io/avro/wire-decoder.js';
import { WireEncoder } from '../../src/io/avro/wire-encoder.js';
import { readWireHeader, toWireFormat } from '../../src/io/avro/wire-format.js';
import { readAvroRecords } from '../../src/io/files/avro-ocf-reader.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();

const V1 = {
  type: 'record',
  name: 'Payment',
  namespace: 'skewless.test',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'amount', type: 'double' },
    { name: 'count', type: 'long' },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
};
/** v2 adds a field with a default: BACKWARD compatible, so v1 records read through v2. */
const V2 = { ...V1, fields: [...V1.fields, { name: 'country', type: 'string', default: 'US' }] };

const record = { id: 'p-1', amount: 12.34, count: 2 ** 40 + 1, at: Date.UTC(2026, 0, 5, 10, 30), note: 'first' };

test('a v1 record reads through the v2 reader schema: the added field gets its default, values are plain', async () => {
  const registry = await SchemaRegistryClient.open(stack.registryUrl);
  const subject = `wire-test-${randomUUID()}-value`;
  const id1 = await registry.register(subject, V1);
  const id2 = await registry.register(subject, V2);
  assert.notEqual(id1, id2);
  assert.equal(await registry.register(subject, V1), id1, 'registering a known schema returns its id');

  const bytes = new WireEncoder(V1, id1).encode(record).bytes!;
  assert.deepEqual(readWireHeader(bytes), { schemaId: id1, payload: bytes.subarray(5) });

  const decoder = new WireDecoder(registry, V2);
  const r = await decoder.decode(bytes);
  assert.equal(r.error, undefined);
  // deepStrictEqual also compares prototypes: a plain object, as JSON.parse gives for NDJSON.
  assert.deepStrictEqual(r.value, { ...record, country: 'US' });
  assert.equal(Object.getPrototypeOf(r.value), Object.prototype);
  assert.equal(typeof r.value!.at, 'number', 'timestamp-millis stays epoch ms');

  // Written with v2: read directly (same schema), field order of the reader schema.
  const v2bytes = new WireEncoder(V2, id2).encode({ ...record, country: 'FR' }).bytes!;
  const r2 = await decoder.decode(v2bytes);
  assert.deepStrictEqual(r2.value, { ...record, country: 'FR' });
  assert.deepEqual(Object.keys(r2.value!), V2.fields.map((f) => f.name));
});

test('the decoded value equals what the Avro archive reader gives for the same record', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-wire-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'payments.avro');
  const encoder = new avsc.streams.BlockEncoder(avsc.Type.forSchema(V1 as avsc.Schema));
  const written = pipeline(encoder, createWriteStream(path));
  encoder.end(record);
  await written;
  const fromFile: unknown[] = [];
  for await (const batch of readAvroRecords(path, { readerSchema: V2 })) for (const rec of batch) fromFile.push(rec.value);

  const registry = await SchemaRegistryClient.open(stack.registryUrl);
  const id = await registry.register(`wire-test-${randomUUID()}-value`, V1);
  const live = await new WireDecoder(registry, V2).decode(new WireEncoder(V1, id).encode(record).bytes!);
  assert.equal(fromFile.length, 1);
  // Same fields, same values, same JS types; the archive reader keeps avsc's record class, hence the spread.
  assert.deepStrictEqual(live.value, { ...(fromFile[0] as object) });
});

test('bad values become errors with a reason, never exceptions', async () => {
  const registry = await SchemaRegistryClient.open(stack.registryUrl);
  const id = await registry.register(`wire-test-${randomUUID()}-value`, V1);
  // A schema the reader cannot resolve: v2 needs `amount`, which this writer lacks and which has no default.
  const narrowId = await registry.register(`wire-test-${randomUUID()}-value`, { type: 'record', name: 'Payment', namespace: 'skewless.test', fields: [{ name: 'id', type: 'string' }] });
  const decoder = new WireDecoder(registry, V2);
  const good = new WireEncoder(V1, id).encode(record).bytes!;
  const unknownId = 2_000_000_000;

  const cases: Array<[string, Uint8Array | null, RegExp]> = [
    ['JSON text', Buffer.from('{"id":"p-1"}'), /^not Confluent wire format \(magic byte 0x7b\)$/],
    ['garbage', Buffer.from([0xde, 0xad, 0xbe, 0xef]), /^not Confluent wire format \(magic byte 0xde\)$/],
    ['a short value', Buffer.from([0, 0, 1]), /^not Confluent wire format \(3 bytes, shorter than the 5-byte header\)$/],
    ['an empty value', Buffer.alloc(0), /^not Confluent wire format \(0 bytes/],
    ['a tombstone', null, /^empty record value/],
    ['an unknown schema id', toWireFormat(unknownId, good.subarray(5)), new RegExp(`^unknown schema id ${unknownId}$`)],
    ['a truncated record', good.subarray(0, good.length - 3), new RegExp(`^undecodable Avro for schema id ${id}: truncated`)],
    ['trailing bytes', Buffer.concat([good, Buffer.from([1, 2])]), new RegExp(`^undecodable Avro for schema id ${id}: 2 trailing bytes`)],
    ['a bad union branch', Buffer.concat([good.subarray(0, good.length - 7), Buffer.from([0x08])]), new RegExp(`^undecodable Avro for schema id ${id}: `)],
    ['an unresolvable writer schema', new WireEncoder({ type: 'record', name: 'Payment', namespace: 'skewless.test', fields: [{ name: 'id', type: 'string' }] }, narrowId).encode({ id: 'x' }).bytes!, new RegExp(`^schema id ${narrowId} cannot be read with the topology's schema: `)],
  ];
  const results = await decoder.decodeAll(cases.map(([, bytes]) => bytes));
  results.forEach((r, i) => {
    const [what, , reason] = cases[i];
    assert.equal(r.value, undefined, what);
    assert.match(r.error ?? '', reason, what);
  });
  // The good record still decodes after all that.
  assert.deepStrictEqual((await decoder.decode(good)).value, { ...record, country: 'US' });

  // As engine records (the live and Kafka replay path): good ones between the bad, offsets kept,
  // bytes on every bad record, and on good ones only when asked for.
  const messages = cases.flatMap(([, bytes], i) => [{ offset: 100 + 2 * i, value: bytes }, { offset: 101 + 2 * i, value: good }]);
  for (const keepRaw of [false, true]) {
    const records = await new WireDecoder(registry, V2).decodeRecords(messages, keepRaw);
    assert.equal(records.length, messages.length);
    records.forEach((r, j) => {
      const [what, bytes, reason] = cases[j >> 1];
      assert.equal(r.offset, messages[j].offset);
      if (j % 2 === 0) {
        assert.equal(r.value, undefined, what);
        assert.match(r.error ?? '', reason, what);
        assert.equal(r.raw, bytes ?? undefined, what);
      } else {
        assert.equal(r.error, undefined, `the good record after ${what}`);
        assert.deepStrictEqual(r.value, { ...record, country: 'US' });
        assert.equal(r.raw, keepRaw ? good : undefined);
      }
    });
  }
});

test('a value that does not fit the schema is refused by the encoder, naming the field', () => {
  const r = new WireEncoder(V1, 1).encode({ ...record, count: 'many' });
  assert.equal(r.bytes, undefined);
  assert.match(r.error ?? '', /does not match the Avro schema: invalid field\(s\) count/);
});

test('an unreachable registry is an error naming the URL and the fix', async () => {
  await assert.rejects(SchemaRegistryClient.open('http://127.0.0.1:1/apis/ccompat/v7'), /cannot reach the schema registry at http:\/\/127\.0\.0\.1:1\/apis\/ccompat\/v7 .*npm run stack:up/);
});

test('an id the registry did not know is asked again after the TTL, not remembered as missing until a restart', async () => {
  const url = stack.registryUrl;
  const remembering = await SchemaRegistryClient.open(url, { missingTtlMs: 3_600_000 });
  const retrying = await SchemaRegistryClient.open(url, { missingTtlMs: 0 });
  const stamp = randomUUID().slice(0, 8);
  const probe = await remembering.register(`ttl-probe-${stamp}`, { type: 'record', name: `Probe${stamp}`, fields: [] });
  // The registry hands out ids in sequence: the next one does not exist yet (a follower that has not seen it).
  const next = probe + 1;
  assert.ok('missing' in (await remembering.writerSchema(next)));
  assert.ok('missing' in (await retrying.writerSchema(next)));
  const id = await remembering.register(`ttl-late-${stamp}`, { type: 'record', name: `Late${stamp}`, fields: [{ name: 'x', type: 'int' }] });
  assert.equal(id, next, 'ids are sequential on this registry (the premise of the test)');
  assert.ok('type' in (await retrying.writerSchema(next)), 'asked again: found');
  assert.ok('missing' in (await remembering.writerSchema(next)), 'within its TTL the first answer stands');
});

test('invalid UTF-8 in a string is an error record, never a key merged with another (strict like the archive readers)', async () => {
  const registry = await SchemaRegistryClient.open(stack.registryUrl);
  const id = await registry.register(`utf8-${randomUUID().slice(0, 8)}-value`, V1);
  // The same binary layout with bytes in place of the string: lets a test write invalid UTF-8.
  const asBytes = avsc.Type.forSchema({ ...V1, fields: V1.fields.map((f) => (f.name === 'id' ? { name: 'id', type: 'bytes' } : f)) } as avsc.Schema);
  const frame = (idBytes: number[]): Buffer => toWireFormat(id, asBytes.toBuffer({ ...record, id: Buffer.from(idBytes) }));
  const decoder = new WireDecoder(registry, V1);
  const [a, b, ok] = await decoder.decodeAll([frame([0x63, 0xff, 0xfe]), frame([0x63, 0xfe, 0xff]), frame([0x63, 0xc3, 0xa9])]);
  assert.match(a.error ?? '', /invalid UTF-8/);
  assert.match(b.error ?? '', /invalid UTF-8/);
  assert.equal((ok.value as { id: string }).id, 'cé');
});
