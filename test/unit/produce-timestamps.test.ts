/**
 * The record timestamp `produce` gives a record (src/modes/produce-timestamps.ts): its event
 * time, unless the topic would refuse it or delete it at once; then the load time, counted
 * with the reason. Limits and times below are written out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TopicLimits } from '../../src/io/kafka/topic-limits.js';
import { RecordTimestamps } from '../../src/modes/produce-timestamps.js';

const NOW = Date.UTC(2026, 11, 3, 12);
const DAY = 86_400_000;
const open: TopicLimits = { maxMessageBytes: 1_048_588, timestampType: 'CreateTime', timestampAfterMaxMs: Number.MAX_SAFE_INTEGER, timestampBeforeMaxMs: Number.MAX_SAFE_INTEGER, retentionMs: Number.POSITIVE_INFINITY };

test('a topic produce created (no bounds, kept for good): every usable event time is the timestamp', () => {
  const ts = new RecordTimestamps('t', open, () => NOW);
  assert.equal(ts.stamp(Date.UTC(2026, 1, 1)), Date.UTC(2026, 1, 1));
  assert.equal(ts.stamp(0), 0);
  assert.equal(ts.stamp(NOW + 365 * DAY), NOW + 365 * DAY);
  assert.equal(ts.stamp('missing event time'), undefined);
  assert.equal(ts.stamp(-1), undefined, 'Kafka timestamps cannot be negative');
  const s = ts.summary();
  assert.equal(s.eventTime, 3);
  assert.equal(s.loadTime, 2);
  assert.deepEqual(s.loadTimeReasons.map((r) => r.records), [1, 1]);
});

test("a topic with Kafka 4's default after.max.ms (1 h), a 7-day before.max.ms and 30-day retention: the event time only inside all three", () => {
  const limits: TopicLimits = { ...open, timestampAfterMaxMs: 3_600_000, timestampBeforeMaxMs: 7 * DAY, retentionMs: 30 * DAY };
  const ts = new RecordTimestamps('orders', limits, () => NOW);
  assert.equal(ts.stamp(NOW - DAY), NOW - DAY);
  assert.equal(ts.stamp(NOW + 30 * 60_000), NOW + 30 * 60_000, 'half an hour ahead: accepted');
  assert.equal(ts.stamp(NOW + 2 * 3_600_000), undefined, 'two hours ahead: refused by after.max.ms');
  assert.equal(ts.stamp(NOW - 8 * DAY), undefined, 'eight days old: refused by before.max.ms');
  const reasons = ts.summary().loadTimeReasons.map((r) => r.reason).sort();
  assert.match(reasons[0], /further ahead than topic orders accepts \(message\.timestamp\.after\.max\.ms 1h\)/);
  assert.match(reasons[1], /older than topic orders accepts \(message\.timestamp\.before\.max\.ms 7d\)/);

  const kept = new RecordTimestamps('orders', { ...open, retentionMs: 30 * DAY }, () => NOW);
  assert.equal(kept.stamp(NOW - 20 * DAY), NOW - 20 * DAY);
  assert.equal(kept.stamp(NOW - 31 * DAY), undefined, 'older than retention: the broker would delete it');
  assert.match(kept.summary().loadTimeReasons[0].reason, /retention\.ms 30d/);
});

test('LogAppendTime: the broker stamps every record, so every record counts as load time', () => {
  const ts = new RecordTimestamps('t', { ...open, timestampType: 'LogAppendTime' }, () => NOW);
  assert.equal(ts.stamp(NOW - DAY), undefined);
  assert.deepEqual(ts.summary(), { eventTime: 0, loadTime: 1, loadTimeReasons: [{ reason: 'topic t has message.timestamp.type=LogAppendTime: the broker stamps every record', records: 1 }] });
});
