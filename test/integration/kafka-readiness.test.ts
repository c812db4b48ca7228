/**
 * Kafka readiness right after creation, on the local broker: 20 times in a row a fresh topic
 * is created and at once produced to, its partitions checked for leaders from a client that
 * never saw it, read back with readTopicRanges, and the offsets of a brand-new consumer group
 * set on it as bootstrap hands over to live. Races between those steps ("This server does not
 * host this topic-partition", "Consumer group was not initialized", "This is not the correct
 * coordinator for this group") must be waited out, never surface.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { commitGroupOffsets, deleteTopics, ensureTopic, fetchOffsets, type GroupOffsetsCommit } from '../../src/io/kafka/topic-admin.js';
import { readTopicRanges } from '../../src/io/kafka/topic-reader.js';
import { TopicProducer } from '../../src/io/kafka/topic-producer.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const run = randomUUID().slice(0, 8);
const ROUNDS = 20;
const PARTITIONS = 4;
const RECORDS = 40;
const topics = Array.from({ length: ROUNDS }, (_, i) => `readiness-${run}-${i}`);
const groups = topics.map((t) => `${t}-group`);

test.after(() => cleanUpKafka(stack.brokers, topics, groups));

test(`${ROUNDS} fresh topics: create, produce at once, read back, set a new group's offsets`, async () => {
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  // A second client, whose metadata has never seen the new topics, checks what ensureTopic promised.
  const observer = await KafkaConnection.open({ brokers: stack.brokers });
  const commits: Array<Promise<{ topic: string; wanted: Array<{ partition: number; offset: number }>; commit: GroupOffsetsCommit; after: GroupOffsetsCommit }>> = [];
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const topic = topics[i];
      const ensured = await ensureTopic(conn, topic, PARTITIONS);
      assert.deepEqual(ensured, { topic, partitions: PARTITIONS, created: true });
      const meta = await observer.admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = meta.topics[0].partitions;
      assert.equal(partitions.length, PARTITIONS, `${topic}: partitions in the metadata`);
      for (const p of partitions) assert.ok(p.leader >= 0 && p.partitionErrorCode === 0, `${topic} p${p.partitionId}: leader ${p.leader}, error ${p.partitionErrorCode}`);

      const producer = await TopicProducer.open(conn);
      try {
        for (let k = 0; k < RECORDS; k++) producer.buffer(topic, { key: `key-${k}`, value: Buffer.from(`value-${i}-${k}`) });
        await producer.flush();
      } finally {
        await producer.close();
      }

      const offsets = await fetchOffsets(conn, topic);
      assert.equal(offsets.reduce((n, o) => n + o.high - o.low, 0), RECORDS);
      const read: string[] = [];
      for await (const batch of readTopicRanges(conn, offsets.map((o) => ({ topic, partition: o.partition, start: o.low, end: o.high })))) {
        for (const r of batch.records) read.push(r.value!.toString());
      }
      assert.deepEqual(read.sort(), Array.from({ length: RECORDS }, (_, k) => `value-${i}-${k}`).sort(), `${topic}: read back`);

      // As bootstrap does: check the brand-new group has no offsets, then hand over at the end offsets.
      // (setOffsets waits about 5 s for its throwaway member's first fetch, so the groups overlap.)
      const group = groups[i];
      const wanted = offsets.map((o) => ({ partition: o.partition, offset: o.high }));
      commits.push(
        (async () => {
          const before = await commitGroupOffsets(conn, group, topic, []);
          assert.deepEqual(before, { previous: [], written: false }, `${group}: offsets before`);
          const commit = await commitGroupOffsets(conn, group, topic, wanted, { onlyIfNone: true });
          const after = await commitGroupOffsets(conn, group, topic, []);
          return { topic, wanted, commit, after };
        })(),
      );
    }
    for (const { topic, wanted, commit, after } of await Promise.all(commits)) {
      assert.deepEqual(commit, { previous: [], written: true }, `${topic}: commit`);
      assert.deepEqual(after.previous, wanted, `${topic}: offsets read back`);
    }
  } finally {
    await Promise.allSettled(commits);
    await observer.close();
    await conn.close();
  }
});

test('deleting topics is best effort: a cluster that stops answering does not fail the clean-up', async () => {
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  try {
    assert.equal(await deleteTopics(conn, [`readiness-${run}-never-created`]), true);
  } finally {
    await conn.close();
  }
  // Kafka gone altogether: a loopback port nothing listens on.
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  const started = Date.now();
  await cleanUpKafka([`127.0.0.1:${port}`], ['some-topic'], ['some-group']);
  assert.ok(Date.now() - started < 10_000, `clean-up took ${Date.now() - started} ms`);
});
