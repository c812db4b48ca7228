import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareLate, MismatchExplainer, type LateOfflineRecord } from '../../src/parity/mismatch-explainer.js';
import type { LateLiveEntry, ParityEntry } from '../../src/parity/parity-log.js';

const live = (partition: number, offset: number, key: string, eventTime: number): LateLiveEntry => ({ topic: 'tx-topic', partition, offset, eventTime, version: 'v1', key, reason: 'late' });
const offline = (partition: number, offset: number, key: string, eventTime: number): LateOfflineRecord => ({ source: 'transactions', partition, offset, key, eventTime });
const vector = (over: Partial<ParityEntry>): ParityEntry => ({ topic: 'tx-topic', partition: 1, offset: 100, eventTime: 10_000, version: 'v1', key: 'k1', output: 'card_features', values: {}, mergeSkips: 0, ...over });
const topics = new Map([['tx-topic', 'transactions']]);

test('late records pair by source, partition and offset; offline-only counts sampled keys only', () => {
  const c = compareLate(
    [live(1, 5, 'k1', 1_000), live(1, 9, 'k1', 2_000)],
    [offline(1, 5, 'k1', 1_000), offline(1, 12, 'k2', 3_000), offline(2, 3, 'k9', 500)],
    topics,
    new Set(['k1', 'k2']),
  );
  assert.equal(c.both, 1);
  assert.deepEqual(c.liveOnly.map((l) => l.offset), [9]);
  assert.deepEqual(c.offlineOnly.map((r) => r.offset), [12], 'k9 is not a sampled key');
});

test('a log without late markers claims nothing about offline-only lateness', () => {
  const c = compareLate([], [offline(1, 12, 'k2', 3_000)], topics, new Set(['k2']));
  assert.equal(c.offlineOnly.length, 0);
  assert.equal(c.liveOnly.length, 0);
});

test('explanations: version, merge skips, and earlier late records of the same key and partition only', () => {
  const late = compareLate([live(1, 9, 'k1', 2_000), live(1, 50, 'k1', 20_000), live(2, 7, 'k1', 1_000)], [offline(1, 12, 'k1', 3_000)], topics, new Set(['k1']));
  const x = new MismatchExplainer('v1', late);
  const plain = x.explain(vector({ key: 'k2' }));
  assert.equal(plain, null, 'another key: nothing known');
  const own = x.explain(vector({}))!;
  // k1 on partition 1 at t=10,000: offset 9 (t=2,000) is earlier and late only live; offset 50 (t=20,000) is later; partition 2 is another task.
  assert.match(own, /^1 earlier record of key k1 late live but not in replay \(first tx-topic\/1@9\); 1 earlier record of key k1 late in replay but not live \(first transactions\/1@12\)$/);
  assert.match(x.explain(vector({ key: 'k2', version: 'v0' }))!, /^served by version v0, checked against v1$/);
  assert.match(x.explain(vector({ key: 'k2', mergeSkips: 3 }))!, /^served after 3 merge skips on partition 1/);
});
