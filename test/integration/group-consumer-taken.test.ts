/**
 * The idle rule takes an input that its consumer has fetched up to the end offset as caught up.
 * A batch the task did not take (it sought back because its state stands earlier, or it failed)
 * used to move the fetched position anyway when kafkajs finished the batch, so between the seek
 * and the batch coming again the input looked read to its end while the task had applied none of
 * it. The member now moves the position only for batches whose records a task took (done()).
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
const topic = `taken-${run}`;
const group = `taken-${run}`;
const conn = await KafkaConnection.open({ brokers: stack.brokers });
await ensureTopic(conn, topic, 1);

test.after(async () => {
  await deleteGroup(conn, group).catch(() => undefined);
  await deleteTopics(conn, [topic]);
  await conn.close();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const records = (n: number): TaskRecord[] => Array.from({ length: n }, (_, i) => ({ topic, message: { key: null, value: Buffer.from(`v${i}`), partition: 0 } }));

test('a batch the task sought away from does not count as fetched until it is taken', { timeout: 90_000 }, async () => {
  const producer = await TaskProducer.open(conn, { transactionalId: `taken-${run}` });
  // Offsets 0..4, marker at 5.
  await producer.commit(records(5), undefined);
  const seen: Array<{ batch: ConsumedBatch; fetchedBefore: number }> = [];
  let member: GroupConsumer | undefined;
  member = await GroupConsumer.start(conn, {
    groupId: group,
    topics: [topic],
    maxWaitMs: 100,
    onBatch: async (b, ctl) => {
      seen.push({ batch: b, fetchedBefore: member!.fetchedUpTo(topic, 0) });
      // The first delivery: the task's state "stands at 0", so it seeks instead of taking the batch.
      if (seen.length === 1) member!.seek(topic, 0, 0);
      else ctl.done();
    },
  });
  try {
    for (let i = 0; i < 300 && seen.length < 2; i++) await sleep(100);
    assert.equal(seen.length, 2, 'the batch came again after the seek');
    assert.deepEqual(
      seen.map((s) => s.batch.messages.map((m) => m.offset)),
      [
        [0, 1, 2, 3, 4],
        [0, 1, 2, 3, 4],
      ],
    );
    assert.equal(seen[1].fetchedBefore, 0, 'nothing counts as fetched while the sought-away batch was not taken');
    for (let i = 0; i < 100 && member.fetchedUpTo(topic, 0) < 6; i++) await sleep(100);
    assert.equal(member.fetchedUpTo(topic, 0), 6, 'the taken batch moves the position past its marker');
  } finally {
    await member.stop();
    await producer.close();
  }
});
