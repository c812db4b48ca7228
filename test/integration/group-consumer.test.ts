/**
 * The group member (src/io/kafka/group-consumer.ts) against the broker, each test on a fresh
 * one-partition topic written by transactions and read with read_committed.
 *
 * Markers: kafkajs counts the marker that ends a transaction in the batch's last offset and
 * fetches on after it (and passes over fetches that hold only markers by itself), so the next
 * batch used to report its fetch as starting after the marker: a task whose state ended right
 * before the marker saw a gap and sought back onto it, on the regroup topics of a live run again
 * and again ("fetched from offset 771 but the state needs 770; seeking back") until the worker
 * gave up. The member now reports such a batch as starting at the marker.
 *
 * Taken batches: the idle rule takes an input that its consumer has fetched up to the end offset
 * as caught up. A batch the task did not take (it sought back because its state stands earlier,
 * or it failed) used to move the fetched position anyway when kafkajs finished the batch, so
 * between the seek and the batch coming again the input looked read to its end while the task
 * had applied none of it. The member now moves the position only for batches whose records a
 * task took (done()).
 *
 * Pauses: kafkajs keeps paused partitions across rebalances but restarts a member that crashed
 * (retries of a fetch or batch used up) as a new one with nothing paused. A regrouped worker's
 * partitions held back for running ahead (regroup-backpressure.ts) then came back while the
 * worker still counted them as paused. The member now applies its pauses again at each join.
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
const conn = await KafkaConnection.open({ brokers: stack.brokers });
const made: Array<{ topic: string; group: string }> = [];

test.after(async () => {
  for (const { group } of made) await deleteGroup(conn, group).catch(() => undefined);
  await deleteTopics(conn, made.map((m) => m.topic));
  await conn.close();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fresh one-partition topic with a group and a transactional producer for one test. */
async function fixture(name: string): Promise<{ topic: string; group: string; producer: TaskProducer; records: (n: number, from: number) => TaskRecord[] }> {
  const topic = `${name}-${run}`;
  const group = `${name}-${run}`;
  await ensureTopic(conn, topic, 1);
  made.push({ topic, group });
  const producer = await TaskProducer.open(conn, { transactionalId: `${name}-${run}` });
  const records = (n: number, from: number): TaskRecord[] => Array.from({ length: n }, (_, i) => ({ topic, message: { key: null, value: Buffer.from(`v${from + i}`), partition: 0 } }));
  return { topic, group, producer, records };
}

test('a batch after a marker-only fetch starts at the marker for a read_committed reader', { timeout: 90_000 }, async () => {
  const { topic, group, producer, records } = await fixture('markers');
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

test('a batch the task sought away from does not count as fetched until it is taken', { timeout: 90_000 }, async () => {
  const { topic, group, producer, records } = await fixture('taken');
  // Offsets 0..4, marker at 5.
  await producer.commit(records(5, 0), undefined);
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

test('a paused partition stays paused when kafkajs restarts the member after a crash, and resumes when asked', { timeout: 90_000 }, async () => {
  const topic = `pauses-${run}`;
  const group = `pauses-${run}`;
  await ensureTopic(conn, topic, 2);
  made.push({ topic, group });
  const producer = await TaskProducer.open(conn, { transactionalId: `pauses-${run}` });
  const records = (partition: number, n: number, from: number): TaskRecord[] => Array.from({ length: n }, (_, i) => ({ topic, message: { key: null, value: Buffer.from(`v${from + i}`), partition } }));
  await producer.commit([...records(0, 3, 0), ...records(1, 3, 0)], undefined);
  const taken: Array<{ partition: number; offsets: number[] }> = [];
  const logs: string[] = [];
  let crashes = 0;
  let crashing = false;
  let refused: string | undefined;
  // Declared before start: the log callback uses it (it only runs after start has returned).
  let member: GroupConsumer;
  member = await GroupConsumer.start(conn, {
    groupId: group,
    topics: [topic],
    maxWaitMs: 100,
    // One retry: the second failure of a batch makes kafkajs restart the member.
    retries: 1,
    log: (l) => {
      logs.push(l);
      // Between the crash and the restart kafkajs has no member: pausing again then must not throw.
      if (/consumer restarting/.test(l)) {
        try {
          member.pause(topic, [1]);
        } catch (e) {
          refused = e instanceof Error ? e.message : String(e);
        }
      }
    },
    onBatch: async (b, ctl) => {
      if (crashing && b.partition === 0 && crashes < 2) {
        crashes++;
        throw new Error('the batch failed');
      }
      taken.push({ partition: b.partition, offsets: b.messages.map((m) => m.offset) });
      ctl.done();
    },
  });
  const took = (partition: number, offset: number): boolean => taken.some((t) => t.partition === partition && t.offsets.includes(offset));
  try {
    for (let i = 0; i < 300 && !(took(0, 2) && took(1, 2)); i++) await sleep(100);
    assert.ok(took(0, 2) && took(1, 2), `both partitions read: ${JSON.stringify(taken)}`);
    member.pause(topic, [1]);
    const before = taken.length;
    crashing = true;
    await producer.commit([...records(0, 2, 3), ...records(1, 2, 3)], undefined);
    for (let i = 0; i < 300 && !logs.some((l) => /consumer restarting/.test(l)); i++) await sleep(100);
    assert.ok(logs.some((l) => /consumer restarting/.test(l)), `the member crashed and restarts: ${logs.join('\n')}`);
    assert.equal(refused, undefined, 'a pause while the member restarts is kept, not refused');
    // The restarted member reads partition 0 again from the start (nothing was committed), and not partition 1.
    for (let i = 0; i < 300 && !took(0, 4); i++) await sleep(100);
    assert.ok(took(0, 4), `partition 0 read on after the restart: ${JSON.stringify(taken)}`);
    await sleep(2000);
    assert.deepEqual(taken.slice(before).filter((t) => t.partition === 1), [], 'nothing of the paused partition after the restart');
    member.resume(topic, [1]);
    for (let i = 0; i < 300 && !took(1, 4); i++) await sleep(100);
    assert.ok(took(1, 4), `partition 1 read on once resumed: ${JSON.stringify(taken)}`);
  } finally {
    await member.stop();
    await producer.close();
  }
});
