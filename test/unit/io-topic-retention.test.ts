/**
 * Output topics that delete by record age lose skewless' outputs of older events (records
 * carry event time): the live worker warns once per such topic at start, naming the topic and
 * its retention; topics kept for good (retention.ms -1, as skewless creates them) stay quiet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retentionWarnings, type TopicLimits } from '../../src/io/kafka/topic-limits.js';

const kept: TopicLimits = { maxMessageBytes: 1_048_588, timestampType: 'CreateTime', timestampAfterMaxMs: Number.MAX_SAFE_INTEGER, timestampBeforeMaxMs: Number.MAX_SAFE_INTEGER, retentionMs: Number.POSITIVE_INFINITY };

test('one warning per output topic with time-based retention, none for topics kept for good', () => {
  const limits = new Map<string, TopicLimits>([
    ['features', kept],
    ['scores', { ...kept, retentionMs: 7 * 86_400_000 }],
    ['audit', { ...kept, retentionMs: 90 * 60_000 }],
  ]);
  const warnings = retentionWarnings(limits);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /output topic audit deletes records older than retention\.ms 90m/);
  assert.match(warnings[1], /output topic scores deletes records older than retention\.ms 7d/);
  for (const w of warnings) assert.match(w, /set retention\.ms=-1 on the topic/);
  assert.deepEqual(retentionWarnings(new Map([['features', kept]])), []);
});
