/**
 * Live workers purge their internal topics (repartition, answers) below what every task has
 * applied. kafkajs' deleteTopicRecords looks up partition leaders before it adds the topic to
 * the client's metadata, so on a client that had not touched the topic yet (a worker that only
 * produced through its transactional producer) it failed with "Could not find the leader for the
 * partition". deleteRecordsBefore loads the topic's metadata first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { TaskProducer, type TaskRecord } from '../../src/io/kafka/task-producer.js';
import { deleteRecordsBefore, deleteTopics, ensureTopic, fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const topic = `purge-${randomUUID().slice(0, 8)}`;
const conn = await KafkaConnection.open({ brokers: stack.brokers });
await ensureTopic(conn, topic, 2);

test.after(async () => {
  await deleteTopics(conn, [topic]);
  await conn.close();
});

test('a client that never touched the topic deletes its records below given offsets', { timeout: 60_000 }, async () => {
  const producer = await TaskProducer.open(conn, { transactionalId: `${topic}-p` });
  const records: TaskRecord[] = [0, 1].flatMap((partition) => Array.from({ length: 4 }, (_, i) => ({ topic, message: { key: null, value: Buffer.from(`v${i}`), partition } })));
  await producer.commit(records, undefined);
  await producer.close();

  const fresh = await KafkaConnection.open({ brokers: stack.brokers });
  try {
    await deleteRecordsBefore(fresh, topic, [
      { partition: 0, offset: 3 },
      { partition: 1, offset: 1 },
    ]);
  } finally {
    await fresh.close();
  }
  const offsets = (await fetchOffsets(conn, topic)).sort((a, b) => a.partition - b.partition);
  assert.deepEqual(
    offsets.map((o) => [o.partition, o.low]),
    [
      [0, 3],
      [1, 1],
    ],
  );
});
