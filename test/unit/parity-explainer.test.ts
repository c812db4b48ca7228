import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareLate, MismatchExplainer, type LateOfflineRecord } from '../../src/parity/mismatch-explainer.js';
import { positionId, type LateLiveEntry, type ParityEntry } from '../../src/parity/parity-log.js';

const live = (partition: number, offset: number, key: string, eventTime: number): LateLiveEntry => ({ topic: 'tx-topic', partition, offset, eventTime, version: 'v1', key, reason: 'late' });
const offline = (partition: number, offset: number, key: string, eventTime: number): LateOfflineRecord => ({ source: 'transactions', partition, offset, key, eventTime });
const vector = (over: Partial<ParityEntry>): ParityEntry => ({ topic: 'tx-topic', partition: 1, offset: 100, eventTime: 10_000, version: 'v1', key: 'k1', output: 'card_features', values: {}, mergeSkips: 0, idleReleases: 0, ...over });
const topics = new Map([['tx-topic', 'transactions']]);
/** The positions of the vectors a sampling run served, as the parity log's reader collects them. */
const served = (...at: Array<[partition: number, offset: number]>): Set<string> => new Set(at.map(([p, o]) => positionId('tx-topic', p, o)));

test('late records pair by source, partition and offset; offline-only needs a vector live served for the record', () => {
  const c = compareLate(
    [live(1, 5, 'k1', 1_000), live(1, 9, 'k1', 2_000)],
    [offline(1, 5, 'k1', 1_000), offline(1, 12, 'k2', 3_000), offline(2, 3, 'k9', 500)],
    topics,
    served([1, 12]),
  );
  assert.equal(c.both, 1);
  assert.deepEqual(c.liveOnly.map((l) => l.offset), [9]);
  assert.deepEqual(c.offlineOnly.map((r) => r.offset), [12], 'k9 at 2@3 was never served by a sampling worker');
});

test('a log without late markers still proves offline-only lateness by its vectors, and nothing else', () => {
  const c = compareLate([], [offline(1, 12, 'k2', 3_000), offline(1, 13, 'k2', 3_100)], topics, served([1, 12]));
  assert.deepEqual(c.offlineOnly.map((r) => r.offset), [12]);
  assert.equal(c.liveOnly.length, 0);
});

test('after a restart with --parity-rate, records an earlier non-sampling run processed explain nothing', () => {
  // Partition 0: a run without --parity-rate processed offsets 0..99; the sampling run took over
  // at offset 100 and served k1's vectors at 100, 120 and 160, and found 140 late (a marker).
  // Replay finds k1's records at 30 and 50 late (processed by the earlier run: live's view of
  // them is unknown), 120 (served live as a vector: late only in replay) and 140 (late on both).
  const log = served([0, 100], [0, 120], [0, 160]);
  const c = compareLate([live(0, 140, 'k1', 9_000)], [offline(0, 30, 'k1', 500), offline(0, 50, 'k1', 1_000), offline(0, 120, 'k1', 5_000), offline(0, 140, 'k1', 9_000)], topics, log);
  assert.deepEqual(c.offlineOnly.map((r) => r.offset), [120]);
  assert.equal(c.both, 1);
  assert.equal(c.liveOnly.length, 0);
  const why = new MismatchExplainer('v1', c).explain(vector({ partition: 0, offset: 160, eventTime: 12_000 }));
  assert.deepEqual(why, {
    cause: 'an earlier record of its key was late in replay but not live',
    detail: '1 record, first transactions/0@120',
    explanation: 'an earlier record of its key was late in replay but not live (1 record, first transactions/0@120)',
  });

  // The same between two sampling runs: a non-sampling run in between processed 200..299.
  const gap = compareLate([], [offline(0, 250, 'k1', 20_000), offline(0, 320, 'k1', 30_000)], topics, served([0, 180], [0, 320]));
  assert.deepEqual(gap.offlineOnly.map((r) => r.offset), [320]);
});

test('explanations: version, merge skips, and earlier late records of the same key and partition only', () => {
  const late = compareLate([live(1, 9, 'k1', 2_000), live(1, 50, 'k1', 20_000), live(2, 7, 'k1', 1_000)], [offline(1, 12, 'k1', 3_000)], topics, served([1, 12]));
  const x = new MismatchExplainer('v1', late);
  assert.equal(x.explain(vector({ key: 'k2' })), null, 'another key: nothing known');
  // k1 on partition 1 at t=10,000: offset 9 (t=2,000) is earlier and late only live; offset 50 (t=20,000) is later; partition 2 is another task.
  assert.deepEqual(x.explain(vector({})), {
    cause: 'an earlier record of its key was late live but not in replay; an earlier record of its key was late in replay but not live',
    detail: '1 record, first tx-topic/1@9; 1 record, first transactions/1@12',
    explanation: 'an earlier record of its key was late live but not in replay (1 record, first tx-topic/1@9); an earlier record of its key was late in replay but not live (1 record, first transactions/1@12)',
  });
  assert.deepEqual(x.explain(vector({ key: 'k2', version: 'v0' })), { cause: 'served by version v0, checked against v1', detail: null, explanation: 'served by version v0, checked against v1' });
  // The cause is worded alike for every vector, so a report can group by it; the detail is this vector's.
  const skips = (n: number, partition: number) => x.explain(vector({ key: 'k2', mergeSkips: n, partition }))!;
  assert.equal(skips(3, 1).cause, skips(1, 2).cause);
  assert.match(skips(3, 1).explanation, /^served after live skipped an idle input .* \(3 merge skips on partition 1\)$/);
  assert.match(skips(1, 2).explanation, /\(1 merge skip on partition 2\)$/);
  assert.equal(skips(1, 2).detail, '1 merge skip on partition 2');
  // Regrouped features answered after a release past a quiet upstream: worded alike, counted in the detail.
  const released = (n: number) => x.explain(vector({ key: 'k2', idleReleases: n }))!;
  assert.equal(released(2).cause, released(1).cause);
  assert.match(released(2).explanation, /^its regrouped features were answered after live released past a quiet upstream .* \(2 idle releases on the regroup partition that answered\)$/);
  assert.equal(released(1).detail, '1 idle release on the regroup partition that answered');
  assert.equal(x.explain(vector({ key: 'k2', idleReleases: 0 })), null, 'no release: nothing known');
});
