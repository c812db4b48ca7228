/**
 * The range reader against the real broker. It joins no consumer group: the group of its own it
 * used to join waited out the broker's group.initial.rebalance.delay.ms (3 s by default; this
 * stack sets 0) before its first fetch, in every task restore and standby round. It reads
 * read_committed (an aborted transaction's records and the transaction markers are skipped, and
 * the read still ends), reads on from the log start when the range begins below it, can be left
 * after any batch, and rides out a broker killed and restarted in the middle of a read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import kafkajs from '../../src/io/kafka/kafkajs-runtime.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { deleteRecordsBefore, deleteTopics, ensureTopic, fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { readTopicRanges, type KafkaRecord } from '../../src/io/kafka/topic-reader.js';
import { restartKafka, stackPid } from '../../scripts/stack/stack.mjs';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const run = randomUUID().slice(0, 8);
const conn = await KafkaConnection.open({ brokers: stack.brokers });
const topics: string[] = [];

test.after(async () => {
  await deleteTopics(conn, topics);
  await conn.close();
});

async function freshTopic(name: string, partitions: number): Promise<string> {
  const topic = `topic-reader-${name}-${run}`;
  await ensureTopic(conn, topic, partitions);
  topics.push(topic);
  return topic;
}

async function produce(topic: string, messages: Array<{ partition: number; value: string }>): Promise<void> {
  const p = conn.kafka.producer();
  await p.connect();
  try {
    await p.send({ topic, messages });
  } finally {
    await p.disconnect();
  }
}

async function readAll(topic: string, batchSize?: number): Promise<Map<number, KafkaRecord[]>> {
  const ranges = (await fetchOffsets(conn, topic)).map((o) => ({ topic, partition: o.partition, start: 0, end: o.high }));
  const out = new Map<number, KafkaRecord[]>();
  for await (const b of readTopicRanges(conn, ranges, { batchSize })) out.set(b.partition, [...(out.get(b.partition) ?? []), ...b.records]);
  return out;
}

/** Groups whose members are assigned `topic`. */
async function groupsReading(topic: string): Promise<string[]> {
  const ids = (await conn.admin.listGroups()).groups.map((g) => g.groupId);
  if (ids.length === 0) return [];
  const { groups } = await conn.admin.describeGroups(ids);
  return groups
    .filter((g) =>
      g.members.some((m) => {
        if (m.memberAssignment.length === 0) return false;
        const decoded = kafkajs.AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
        return decoded !== null && topic in decoded.assignment;
      }),
    )
    .map((g) => g.groupId);
}

test('reading ranges joins no consumer group, and reads every record of every range in offset order', { timeout: 60_000 }, async () => {
  const topic = await freshTopic('groups', 2);
  await produce(
    topic,
    Array.from({ length: 300 }, (_, i) => ({ partition: i % 2, value: `v${i}` })),
  );
  const ranges = (await fetchOffsets(conn, topic)).map((o) => ({ topic, partition: o.partition, start: 0, end: o.high }));
  const seen = new Map<number, KafkaRecord[]>();
  let checked = false;
  for await (const b of readTopicRanges(conn, ranges, { batchSize: 10 })) {
    seen.set(b.partition, [...(seen.get(b.partition) ?? []), ...b.records]);
    if (!checked) {
      // Mid-read: the old reader's throwaway group held the topic right now.
      assert.deepEqual(await groupsReading(topic), []);
      checked = true;
    }
  }
  assert.ok(checked);
  for (const p of [0, 1]) {
    const records = seen.get(p) ?? [];
    assert.deepEqual(
      records.map((r) => r.offset),
      Array.from({ length: 150 }, (_, i) => i),
    );
    assert.deepEqual(
      records.map((r) => r.value?.toString()),
      Array.from({ length: 150 }, (_, i) => `v${2 * i + p}`),
    );
  }
});

test('an aborted transaction is skipped, markers and all, and the read still ends', { timeout: 60_000 }, async () => {
  const topic = await freshTopic('aborted', 1);
  const producer = conn.kafka.producer({ transactionalId: `topic-reader-${run}`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const send = async (values: string[], commit: boolean): Promise<void> => {
      const tx = await producer.transaction();
      await tx.send({ topic, messages: values.map((value) => ({ partition: 0, value })) });
      await (commit ? tx.commit() : tx.abort());
    };
    await send(['a1', 'a2'], true);
    await send(['x1', 'x2', 'x3'], false);
    await send(['b1'], true);
    await send(['y1'], false);
  } finally {
    await producer.disconnect();
  }
  // 2 + marker + 3 + marker + 1 + marker + 1 + marker: the range runs to offset 11, the last a
  // marker. The coordinator writes markers after the commit or abort returns: wait for them.
  const deadline = Date.now() + 20_000;
  while ((await fetchOffsets(conn, topic))[0].high < 11 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal((await fetchOffsets(conn, topic))[0].high, 11);
  for (const batchSize of [1, 4096]) {
    const records = (await readAll(topic, batchSize)).get(0) ?? [];
    assert.deepEqual(
      records.map((r) => [r.offset, r.value?.toString()]),
      [
        [0, 'a1'],
        [1, 'a2'],
        [7, 'b1'],
      ],
    );
  }
});

test('a range that begins below the log start reads on from the log start', { timeout: 60_000 }, async () => {
  const topic = await freshTopic('log-start', 1);
  await produce(
    topic,
    Array.from({ length: 20 }, (_, i) => ({ partition: 0, value: `v${i}` })),
  );
  await deleteRecordsBefore(conn, topic, [{ partition: 0, offset: 12 }]);
  const records = (await readAll(topic)).get(0) ?? [];
  assert.deepEqual(
    records.map((r) => r.offset),
    [12, 13, 14, 15, 16, 17, 18, 19],
  );
});

test('a caller may leave after the first batch: the read stops and a new one starts over', { timeout: 60_000 }, async () => {
  const topic = await freshTopic('early-exit', 1);
  await produce(
    topic,
    Array.from({ length: 50 }, (_, i) => ({ partition: 0, value: `v${i}` })),
  );
  const ranges = [{ topic, partition: 0, start: 0, end: 50 }];
  for await (const b of readTopicRanges(conn, ranges, { batchSize: 5 })) {
    assert.deepEqual(
      b.records.map((r) => r.offset),
      [0, 1, 2, 3, 4],
    );
    break;
  }
  assert.equal((await readAll(topic)).get(0)?.length, 50);
});

const kafkaPid = stackPid('kafka');

test('a read rides out a broker kill -9 and restart: every record once, in order', { timeout: 180_000, skip: kafkaPid === null ? 'needs the local stack of this checkout (scripts/stack)' : false }, async () => {
  const topic = await freshTopic('broker-restart', 2);
  await produce(
    topic,
    // 200 bytes a record: a partition takes several 64 KiB fetches, so fetches are left to fail.
    Array.from({ length: 4000 }, (_, i) => ({ partition: i % 2, value: `v${i}`.padEnd(200, '.') })),
  );
  const ranges = (await fetchOffsets(conn, topic)).map((o) => ({ topic, partition: o.partition, start: 0, end: o.high }));
  const seen = new Map<number, number[]>();
  let killed = false;
  let fetchesAfterKill = 0;
  for await (const b of readTopicRanges(conn, ranges, { batchSize: 50 })) {
    seen.set(b.partition, [...(seen.get(b.partition) ?? []), ...b.records.map((r) => r.offset)]);
    if (killed) fetchesAfterKill++;
    if (!killed) {
      // The next fetch is in flight or about to be: it fails, and is retried until the broker is back.
      killed = true;
      process.kill(kafkaPid!, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 3000));
      await restartKafka({ log: () => undefined });
    }
  }
  assert.ok(killed);
  for (const p of [0, 1]) assert.deepEqual(seen.get(p), Array.from({ length: 2000 }, (_, i) => i));
  assert.ok(fetchesAfterKill > 0, 'the read went on after the broker came back');
});
