/**
 * The consumer Batch that kafkajs-runtime installs (src/io/kafka/fetched-batch.ts) against
 * kafkajs' own, on random fetches: offsets before and after the fetched one, control records,
 * aborted transactions, empty fetches, and offsets that are not safe integers. Every field and
 * every method's answer must be the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { kafkajsBatch } from '../../src/io/kafka/kafkajs-runtime.js';
import type { BatchClass } from '../../src/io/kafka/fetched-batch.js';

const require = createRequire(import.meta.url);
const Installed = require('kafkajs/src/consumer/batch.js') as BatchClass;
const METHODS = ['isEmpty', 'isEmptyIncludingFiltered', 'isEmptyDueToFiltering', 'isEmptyControlRecord', 'isEmptyDueToLogCompactedMessages', 'firstOffset', 'lastOffset', 'offsetLag', 'offsetLagLow'] as const;

/** A deterministic generator (no Math.random: a failure must replay). */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

function fetch(r: () => number, big: boolean) {
  const start = big ? 2 ** 53 - 5 : Math.floor(r() * 1000);
  const n = Math.floor(r() * 12);
  const producerId = String(Math.floor(r() * 3));
  const messages = Array.from({ length: n }, (_, i) => {
    const control = r() < 0.15;
    const offset = big ? (BigInt(start) + BigInt(i)).toString() : String(start + i);
    return {
      offset,
      key: control ? Buffer.from([0, 0, 0, r() < 0.5 ? 0 : 1]) : Buffer.from('k'),
      value: Buffer.from('v'),
      isControlRecord: control,
      batchContext: { producerId, inTransaction: r() < 0.6 },
    };
  });
  const aborted = r() < 0.3 && n > 0 ? [{ producerId, firstOffset: messages[Math.floor(r() * n)].offset }] : r() < 0.5 ? [] : undefined;
  const fetchedOffset = big ? String(BigInt(start) + BigInt(Math.floor(r() * (n + 2)))) : String(start + Math.floor(r() * (n + 2)) - 1);
  const highWatermark = big ? String(BigInt(start) + BigInt(n)) : String(start + n + Math.floor(r() * 5));
  return { fetchedOffset, partitionData: { partition: 3, highWatermark, messages, abortedTransactions: aborted } };
}

function answers(b: object): Record<string, unknown> {
  const out: Record<string, unknown> = { fields: { ...b } };
  for (const m of METHODS) out[m] = (b as Record<string, () => unknown>)[m]();
  return out;
}

test('the installed consumer Batch keeps the same messages and answers as kafkajs', () => {
  assert.ok(kafkajsBatch !== undefined, 'kafkajs-runtime replaced the Batch');
  assert.notEqual(Installed, kafkajsBatch);
  const r = rng(7);
  let filtered = 0;
  let controls = 0;
  for (let k = 0; k < 3000; k++) {
    const { fetchedOffset, partitionData } = fetch(r, k % 50 === 0);
    const ours: object = new Installed('t', fetchedOffset, partitionData);
    const theirs: object = new kafkajsBatch!('t', fetchedOffset, partitionData);
    assert.deepStrictEqual(answers(ours), answers(theirs), `fetch ${k}`);
    assert.deepStrictEqual(Object.keys(ours), Object.keys(theirs));
    assert.ok(ours instanceof kafkajsBatch!);
    const f = ours as { rawMessages: unknown[]; messagesWithinOffset: unknown[]; messages: unknown[] };
    if (f.messagesWithinOffset.length < f.rawMessages.length) filtered++;
    if (f.messages.length < f.messagesWithinOffset.length) controls++;
  }
  // Beyond 2^53 a number cannot tell 2^53 from 2^53 + 1: kafkajs' Long decides those fetches.
  const messages = [0n, 1n, 2n, 3n].map((d) => ({ offset: (2n ** 53n + d).toString(), key: null, value: null, isControlRecord: false, batchContext: { producerId: '1', inTransaction: false } }));
  for (const fetchedOffset of ['9007199254740993', '9007199254740994', '9007199254740992']) {
    const partitionData = { partition: 0, highWatermark: '9007199254740996', messages, abortedTransactions: [] };
    assert.deepStrictEqual(answers(new Installed('t', fetchedOffset, partitionData)), answers(new kafkajsBatch!('t', fetchedOffset, partitionData)), `fetched at ${fetchedOffset}`);
  }
  // The cases the comparison must have met.
  assert.ok(filtered > 100 && controls > 100, `offsets filtered in ${filtered} fetches, control or aborted records in ${controls}`);
});
