import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import avsc from 'avsc';
import { strictUtf8Type } from '../../src/io/avro/avro-strict-strings.js';
import { PlainRecordReader, toPlain } from '../../src/io/avro/plain-record-reader.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');

/** Every kind of Avro type a source may hold, records nested in records, unions, arrays and maps. */
const rich = {
  type: 'record',
  name: 'Rich',
  fields: [
    { name: 'b', type: 'boolean' },
    { name: 'i', type: 'int' },
    { name: 'l', type: 'long' },
    { name: 'f', type: 'float' },
    { name: 'd', type: 'double' },
    { name: 's', type: 'string' },
    { name: 'by', type: 'bytes' },
    { name: 'fx', type: { type: 'fixed', name: 'Four', size: 4 } },
    { name: 'e', type: { type: 'enum', name: 'Colour', symbols: ['RED', 'GREEN', 'BLUE'] } },
    { name: 'ns', type: ['null', 'string'] },
    { name: 'inner', type: { type: 'record', name: 'Inner', fields: [{ name: 'x', type: 'long' }, { name: 'tags', type: { type: 'array', items: 'string' } }] } },
    { name: 'maybe', type: ['null', 'Inner'] },
    { name: 'list', type: { type: 'array', items: 'Inner' } },
    { name: 'byName', type: { type: 'map', values: 'Inner' } },
    { name: 'counts', type: { type: 'map', values: 'long' } },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};

/** A record that refers to itself. */
const recursive = {
  type: 'record',
  name: 'Node',
  fields: [
    { name: 'label', type: 'string' },
    { name: 'next', type: ['null', 'Node'] },
  ],
};

const repoSchemas = readdirSync(join(root, 'schemas'))
  .filter((f) => f.endsWith('.avsc'))
  .map((f) => ({ name: f, schema: JSON.parse(readFileSync(join(root, 'schemas', f), 'utf8')) as object }));
const schemas = [...repoSchemas, { name: 'rich', schema: rich }, { name: 'recursive', schema: recursive }];

/** What the reader replaces: avsc's decode, then a deep copy into plain objects. */
function viaAvsc(type: avsc.Type, buf: Buffer): { value?: unknown; offset?: number; error?: string } {
  try {
    const d = type.decode(buf, 0);
    return { value: toPlain(d.value), offset: d.offset };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function viaReader(reader: PlainRecordReader, buf: Buffer): { value?: unknown; offset?: number; error?: string } {
  try {
    const value = reader.read(buf, 0);
    return reader.end > buf.length ? { value: undefined, offset: -1 } : { value, offset: reader.end };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function assertPlain(v: unknown, path = 'value'): void {
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return;
  if (Array.isArray(v)) return v.forEach((x, i) => assertPlain(x, `${path}[${i}]`));
  assert.equal(Object.getPrototypeOf(v), Object.prototype, `${path} is a plain object`);
  for (const [k, x] of Object.entries(v)) assertPlain(x, `${path}.${k}`);
}

for (const { name, schema } of schemas) {
  test(`plain reader: ${name} values read as avsc reads them, as plain objects, for random values and every truncation`, () => {
    const type = strictUtf8Type(schema);
    const reader = new PlainRecordReader(type);
    for (let n = 0; n < 300; n++) {
      const buf = type.toBuffer(type.random());
      const expected = viaAvsc(type, buf);
      const got = viaReader(reader, buf);
      assert.deepStrictEqual(got, expected);
      assert.equal(got.offset, buf.length);
      assertPlain(got.value);
      // Key order is part of the value (it shows in JSON and in the order fields are visited).
      assert.deepStrictEqual(Object.keys(got.value as object), (type as unknown as { fields: Array<{ name: string }> }).fields.map((f) => f.name));
      if (n < 20) for (let cut = 0; cut < buf.length; cut++) assert.deepStrictEqual(viaReader(reader, buf.subarray(0, cut)), viaAvsc(type, buf.subarray(0, cut)), `${name}, cut at ${cut} of ${buf.length}`);
    }
  });
}

test('plain reader: hand-encoded bytes, an offset inside a larger buffer, and the errors avsc raises', () => {
  const type = strictUtf8Type({ type: 'record', name: 'T', fields: [{ name: 'n', type: 'long' }, { name: 'c', type: { type: 'enum', name: 'C', symbols: ['A', 'B'] } }, { name: 's', type: ['null', 'string'] }] });
  const reader = new PlainRecordReader(type);
  // 5 bytes of something else, then n = -3 (zigzag 5), c = B (index 1 → 2), s = branch 1 (→ 2), "hé" (3 bytes → 6).
  const buf = Buffer.from([9, 9, 9, 9, 9, 0x05, 0x02, 0x02, 0x06, 0x68, 0xc3, 0xa9]);
  assert.deepStrictEqual(reader.read(buf, 5), { n: -3, c: 'B', s: 'hé' });
  assert.equal(reader.end, buf.length);
  assert.throws(() => reader.read(Buffer.from([0x05, 0x04, 0x00]), 0), /invalid C enum index: 2/);
  assert.throws(() => reader.read(Buffer.from([0x05, 0x02, 0x04]), 0), /invalid union index: 2/);
  assert.throws(() => reader.read(Buffer.from([0x05, 0x02, 0x02, 0x04, 0x68, 0xff]), 0), /invalid UTF-8/);
  // The string claims 3 bytes, 2 follow: cut short.
  reader.read(Buffer.from([0x05, 0x02, 0x02, 0x06, 0x68, 0x69]), 0);
  assert.ok(reader.end > 6);
});
