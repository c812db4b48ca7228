/**
 * The direct feature-record encoder writes exactly the bytes avsc writes for the same record
 * (avsc is the independent reference here: it is what the registry-compatible readers use),
 * over random vectors with the edge values of every column type. One deliberate difference: a
 * lone UTF-16 surrogate (only a user function can make one; inputs are decoded strictly) is
 * written as U+FFFD, valid UTF-8, where avsc writes bytes no strict reader accepts.
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
  { name: 'count_1h', type: 'int64', role: 'feature' },
  { name: 'mean_24h', type: 'double', role: 'feature' },
  { name: 'last_city', type: 'string', role: 'feature' },
  { name: 'is_weekend', type: 'boolean', role: 'feature' },
  { name: 'ratio', type: 'double', role: 'derived' },
  { name: 'is_fraud', type: 'boolean', role: 'label' },
];
const schemaId = 1234567;
const type = avsc.Type.forSchema(featureRecordSchema('card_features', columns) as avsc.Schema);

/** What avsc writes for the record the collector used to build per vector. */
function reference(head: { key: string; eventTime: number; partition: number; offset: number }, values: readonly AggValue[]): Buffer {
  const value: Record<string, unknown> = { key: head.key, event_time: head.eventTime, partition: head.partition, offset: head.offset };
  columns.forEach((c, i) => {
    if (c.role === 'label') return;
    const v = values[i];
    value[c.name] = v === null ? null : c.type === 'boolean' ? v === 1 : v;
  });
  const payload = type.toBuffer(value);
  const out = Buffer.alloc(5 + payload.length);
  out.writeInt32BE(schemaId, 1);
  payload.copy(out, 5);
  return out;
}

const LONGS = [0, 1, -1, 63, 64, -64, -65, 2 ** 30 - 1, 2 ** 30, -(2 ** 30), -(2 ** 30) - 1, 2 ** 31, -(2 ** 31), 2 ** 32 + 7, 1_735_689_600_000, -1_735_689_600_000, 9007199254740990, -9007199254740990];
const DOUBLES = [0, -0, 1.5, -2.25, Math.PI, 1e-310, Number.MAX_VALUE, -Number.MIN_VALUE, Number.NaN, Infinity, -Infinity];
const STRINGS = ['', 'a', 'Zürich', '東京', '🛫 JFK', 'x'.repeat(300)];

test('direct encoding equals avsc for random vectors with edge values', () => {
  const rng = new Rng(7);
  const encoder = new FeatureRecordEncoder('card_features', columns, schemaId);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)];
  for (let i = 0; i < 5000; i++) {
    const nul = (): boolean => rng.next() < 0.15;
    const head = { key: pick(STRINGS), eventTime: pick(LONGS), partition: pick([0, 1, 7, 2147483647, -1]), offset: pick(LONGS.filter((n) => n >= 0)) };
    const values: AggValue[] = [nul() ? null : pick(LONGS), nul() ? null : pick(DOUBLES), nul() ? null : pick(STRINGS), nul() ? null : pick([0, 1]), nul() ? null : pick(DOUBLES), pick([0, 1, null])];
    const got = encoder.encode(head, values);
    assert.equal(got.error, undefined);
    assert.deepEqual(got.bytes, reference(head, values), `vector ${i}: ${JSON.stringify({ head, values })}`);
  }
});

test('encoded vectors stay intact while later ones fill new arenas, with refused vectors between them', () => {
  const rng = new Rng(11);
  const encoder = new FeatureRecordEncoder('card_features', columns, schemaId);
  const kept: Array<{ got: Buffer; want: Buffer }> = [];
  // About 150 KB of records (long strings cross arena ends), every 7th refused half way through.
  for (let i = 0; i < 3000; i++) {
    const head = { key: `card-${i}`, eventTime: 1_735_689_600_000 + i, partition: i % 8, offset: i };
    if (i % 7 === 3) {
      assert.ok(encoder.encode(head, [1.5, 0, 'x', 1, 0, 0]).error !== undefined);
      continue;
    }
    const values: AggValue[] = [i, rng.next(), 'x'.repeat(Math.floor(rng.next() * 120)), i % 2, null, 0];
    kept.push({ got: encoder.encode(head, values).bytes!, want: reference(head, values) });
  }
  kept.forEach(({ got, want }, i) => assert.deepEqual(got, want, `vector ${i}`));
});

test('values avsc must judge go to avsc: a fraction in a long column is refused naming the field', () => {
  const encoder = new FeatureRecordEncoder('card_features', columns, schemaId);
  const bad = encoder.encode({ key: 'k', eventTime: 1, partition: 0, offset: 0 }, [1.5, 0, 'x', 1, 0, 0]);
  assert.match(bad.error ?? '', /count_1h/);
  assert.match(encoder.encode({ key: 'k', eventTime: 1, partition: 0, offset: 0 }, [Number.MAX_SAFE_INTEGER, 0, 'x', 1, 0, 0]).error ?? '', /count_1h/);
  // A boolean column holding another number is written as avsc would write `false`.
  const odd = encoder.encode({ key: 'k', eventTime: 1, partition: 0, offset: 0 }, [1, 0, 'x', 2, 0, 0]);
  assert.deepEqual(odd.bytes, reference({ key: 'k', eventTime: 1, partition: 0, offset: 0 }, [1, 0, 'x', 2, 0, 0]));
});

test('a lone surrogate is written as valid UTF-8 (U+FFFD), where avsc would write invalid bytes', () => {
  const encoder = new FeatureRecordEncoder('card_features', columns, schemaId);
  const head = { key: 'k', eventTime: 1, partition: 0, offset: 0 };
  const bytes = encoder.encode(head, [1, 0, 'a\ud800b', 1, 0, 0]).bytes!;
  const decoded = type.fromBuffer(bytes.subarray(5)) as { last_city: string };
  assert.equal(decoded.last_city, 'a\ufffdb');
  assert.equal(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(5)).includes('a\ufffdb'), true);
});
