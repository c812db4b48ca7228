/**
 * List and map features in live Avro records: the schema declares them as nullable Avro arrays
 * and maps, and the direct encoder writes exactly the bytes avsc writes for the same record
 * (avsc is the independent reference: it is what registry-compatible readers use), which
 * decode back to the same lists and maps.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import avsc from 'avsc';
import type { OutputColumn } from '../../src/engine/outputs.js';
import { FeatureRecordEncoder } from '../../src/io/avro/feature-record-encoder.js';
import { featureRecordSchema } from '../../src/io/avro/feature-record-schema.js';
import type { AggValue } from '../../src/ops/aggregation.js';
import { Rng } from '../helpers/prng.js';

const columns: OutputColumn[] = [
  { name: 'top3', type: 'list<double>', role: 'feature' },
  { name: 'n', type: 'int64', role: 'feature' },
  { name: 'last_merchants', type: 'list<string>', role: 'feature' },
  { name: 'hist', type: 'map<int64>', role: 'feature' },
  { name: 'means', type: 'map<double>', role: 'feature' },
];
const schemaId = 42;

test('list and map columns are nullable Avro arrays and maps, written byte for byte as avsc writes them', () => {
  const schema = featureRecordSchema('f', columns) as { fields: Array<{ name: string; type: unknown }> };
  assert.deepEqual(schema.fields.find((f) => f.name === 'top3')?.type, ['null', { type: 'array', items: 'double' }]);
  assert.deepEqual(schema.fields.find((f) => f.name === 'last_merchants')?.type, ['null', { type: 'array', items: 'string' }]);
  assert.deepEqual(schema.fields.find((f) => f.name === 'hist')?.type, ['null', { type: 'map', values: 'long' }]);
  assert.deepEqual(schema.fields.find((f) => f.name === 'means')?.type, ['null', { type: 'map', values: ['null', 'double'] }]);
  const type = avsc.Type.forSchema(schema as avsc.Schema);
  const encoder = new FeatureRecordEncoder('f', columns, schemaId);
  const rng = new Rng(3);
  const doubles = [0, -0, 1.5, -2.25, 1e-310, Number.MAX_VALUE, Number.NaN, Infinity];
  const strings = ['', 'a', 'Zürich', '東京', '🛫 JFK', 'x'.repeat(200)];
  for (let i = 0; i < 3000; i++) {
    const len = (): number => rng.pick([0, 1, 2, 3, 64, 65]);
    const values: AggValue[] = [
      rng.chance(0.1) ? null : Array.from({ length: len() }, () => rng.pick(doubles)),
      rng.chance(0.1) ? null : rng.int(-5, 5),
      rng.chance(0.1) ? null : Array.from({ length: len() }, () => rng.pick(strings)),
      rng.chance(0.1) ? null : Object.fromEntries(Array.from({ length: len() }, (_, j) => [`${rng.pick(strings)}${j}`, rng.pick([0, 1, -1, 63, 64, 2 ** 40, 9007199254740990])])),
      rng.chance(0.1) ? null : Object.fromEntries(Array.from({ length: len() }, (_, j) => [`${rng.pick(strings)}${j}`, rng.pick([null, ...doubles])])),
    ];
    const head = { key: rng.pick(strings), eventTime: 1_735_689_600_000 + i, partition: i % 4, offset: i };
    const got = encoder.encode(head, values);
    assert.equal(got.error, undefined);
    const record = { key: head.key, event_time: head.eventTime, partition: head.partition, offset: head.offset, top3: values[0], n: values[1], last_merchants: values[2], hist: values[3], means: values[4] };
    const payload = type.toBuffer(record);
    assert.deepEqual(got.bytes!.subarray(5), payload, `vector ${i}`);
    const back = type.fromBuffer(got.bytes!.subarray(5)) as Record<string, unknown>;
    assert.deepEqual([back.top3, back.n, back.last_merchants, back.hist, back.means], values);
  }
});
