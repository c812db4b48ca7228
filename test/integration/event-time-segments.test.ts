/**
 * Topics skewless creates for event-time records (produced inputs, features, window records,
 * late records, dead letters, parity samples) against the broker. Their records carry event
 * times, of any age, and Kafka rolls a segment once a segment's record timestamps span
 * `segment.ms` (7 days by default): history produced with its event times was cut into one
 * segment per week of event time. A fetch never reads past the end of a segment, so a worker
 * catching up on that history got one week per fetch and partition (13,889 flights per batch
 * in `bench:live`, whatever the fetch size), and each batch paid a commit. These topics roll
 * by size only now.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { GroupConsumer, type ConsumedBatch } from '../../src/io/kafka/group-consumer.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { TaskProducer } from '../../src/io/kafka/task-producer.js';
import { EVENT_TIME_TOPIC_CONFIGS } from '../../src/io/kafka/topic-limits.js';
import { deleteGroup, deleteTopics, ensureTopic } from '../../src/io/kafka/topic-admin.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const conn = await KafkaConnection.open({ brokers: stack.brokers });
const name = `event-time-segments-${randomUUID().slice(0, 8)}`;

test.after(async () => {
  await deleteGroup(conn, name).catch(() => undefined);
  await deleteTopics(conn, [name]);
  await conn.close();
});

const HOUR = 3_600_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('twelve weeks of old event times written in 20 requests are read back in one fetch', { timeout: 90_000 }, async () => {
  await ensureTopic(conn, name, 1, EVENT_TIME_TOPIC_CONFIGS);
  const producer = await TaskProducer.open(conn);
  const t0 = Date.UTC(2024, 0, 1);
  const requests = 20;
  const perRequest = 100;
  try {
    // One record an hour: each request is about four days of event time, the whole 83 days.
    for (let r = 0; r < requests; r++) {
      const records = Array.from({ length: perRequest }, (_, i) => {
        const n = r * perRequest + i;
        return { topic: name, message: { key: `k${n % 7}`, value: Buffer.from(`v${n}`), partition: 0, timestamp: t0 + n * HOUR } };
      });
      await producer.commit(records, undefined);
    }
  } finally {
    await producer.close();
  }
  const batches: ConsumedBatch[] = [];
  const member = await GroupConsumer.start(conn, {
    groupId: name,
    topics: [name],
    maxWaitMs: 100,
    onBatch: async (b, ctl) => {
      batches.push(b);
      ctl.done();
    },
  });
  try {
    for (let i = 0; i < 300 && batches.reduce((n, b) => n + b.messages.length, 0) < requests * perRequest; i++) await sleep(100);
  } finally {
    await member.stop();
  }
  // Each segment would hold at most 7 days = 168 records: the first batch would end there.
  assert.deepEqual(
    batches.map((b) => b.messages.length),
    [requests * perRequest],
    'one batch with every record (about 40 KB, far below the 1 MiB fetched per partition)',
  );
  assert.equal(batches[0].messages[requests * perRequest - 1].timestamp, t0 + (requests * perRequest - 1) * HOUR);
});
