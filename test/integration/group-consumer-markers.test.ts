/**
 * A live task reads its internal topics (and any input written by transactions) with
 * read_committed. kafkajs counts the marker that ends a transaction in the batch's last offset
 * and fetches on after it (and passes over fetches that hold only markers by itself), so the
 * next batch used to report its fetch as starting after the marker: a task whose state ended
 * right before the marker saw a gap and sought back onto it, on the regroup topics of a live run
 * again and again ("fetched from offset 771 but the state needs 770; seeking back") until the
 * worker gave up. The member now reports such a batch as starting at the marker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { GroupConsumer, type ConsumedBatch } from '../../src/io/kafka/group-consumer.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { TaskProducer, type TaskRecord } from '../../src/io/kafka/task-producer.js';
import { deleteGroup, deleteTopics, ensureTopic } from '../../src/io/kafka/topic-admin.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const run = randomUUID().slice(0, 8);
const topic = `markers-${run}`;
const group = `markers-${run}`;
const conn = await KafkaConnection.open({ brokers: stack.brokers });
await ensureTopic(conn, topic, 1);

test.after(async () => {
  await deleteGroup(conn, group).catch(() => undefined);
  await deleteTopics(conn, [topic]);
  await conn.close();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const records = (n: number, from: number): TaskRecord[] => Array.from({ length: n }, (_, i) => ({ topic, message: { key: null, value: Buffer.from(`v${from + i}`), partition: 0 } }));

test('a batch after a marker-only fetch starts at the marker for a read_committed reader', { timeout: 90_000 }, async () => {
  const producer = await TaskProducer.open(conn, { transactionalId: `markers-${run}` });
  const batches: ConsumedBatch[] = [];
  const member = await GroupConsumer.start(conn, {
    groupId: group,
    topics: [topic],
    maxWaitMs: 100,
    onBatch: async (b, ctl) => {
      batches.push(b);
      ctl.done();
    },
  });
  try {
    // Offsets 0..2, marker at 3.
    await producer.commit(records(3, 0), undefined);
    for (let i = 0; i < 200 && batches.length === 0; i++) await sleep(100);
    assert.equal(batches.length, 1, 'the first transaction arrived');
    for (let i = 0; i < 100 && member.fetchedUpTo(topic, 0) < 4; i++) await sleep(100);
    assert.equal(member.fetchedUpTo(topic, 0), 4, 'kafkajs fetches on after the marker');
    // Offsets 4..5, marker at 6.
    await producer.commit(records(2, 3), undefined);
    for (let i = 0; i < 200 && batches.length === 1; i++) await sleep(100);
    assert.equal(batches.length, 2, 'the second transaction arrived');
    assert.deepEqual(
      batches.map((b) => [b.fetchedOffset, b.messages.map((m) => m.offset)]),
      [
        [0, [0, 1, 2]],
        [3, [4, 5]],
      ],
    );
  } finally {
    await member.stop();
    await producer.close();
  }
});
