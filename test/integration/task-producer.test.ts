/**
 * The per-task producer against the real broker: a commit is one transaction (read_committed
 * readers see all of it or none), a newer holder of the transactional id fences the older one
 * with TaskFencedError, and a large batch of small records with headers is split under the
 * broker's per-batch limit (before, headers were not counted and such a batch was refused
 * with MESSAGE_TOO_LARGE). The high watermark counts the records of a transaction not yet
 * decided, where the read_committed end stops at its first record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { TaskFencedError, TaskProducer, type TaskRecord } from '../../src/io/kafka/task-producer.js';
import { deleteTopics, ensureTopic, fetchHighWatermarks, fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { readTopicRanges } from '../../src/io/kafka/topic-reader.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const run = randomUUID().slice(0, 8);
const topic = `task-producer-${run}`;
const conn = await KafkaConnection.open({ brokers: stack.brokers });
await ensureTopic(conn, topic, 2);

test.after(async () => {
  await deleteTopics(conn, [topic]);
  await conn.close();
});

async function committed(): Promise<number> {
  let n = 0;
  const ranges = (await fetchOffsets(conn, topic)).map((p) => ({ topic, partition: p.partition, start: p.low, end: p.high }));
  for await (const b of readTopicRanges(conn, ranges)) n += b.records.length;
  return n;
}

/**
 * committed() once the latest commit's transaction markers have landed, or at the deadline: the
 * coordinator writes the markers to the partitions after EndTxn has answered, so a read right
 * after a commit can still stop before that commit's records (seen once in CI: 12,010 of 12,015).
 * Never waits past `expected`: more would mean a fenced commit showed, which the caller's
 * equality then reports.
 */
async function committedOnceDecided(expected: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let n = await committed();
  while (n < expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    n = await committed();
  }
  return n;
}

const records = (n: number, partition: number, headerBytes = 0): TaskRecord[] =>
  Array.from({ length: n }, (_, i) => ({ topic, message: { key: `k${i}`, value: Buffer.from(`v${i}`), partition, headers: headerBytes > 0 ? { 'skewless-version': 'x'.repeat(headerBytes) } : undefined } }));

test('a large batch of small records with headers is split under the broker limit and committed in one transaction', { timeout: 60_000 }, async () => {
  const p = await TaskProducer.open(conn, { transactionalId: `tp-${run}-big` });
  try {
    // 12,000 records × ~130 bytes of headers ≈ 1.6 MB for one partition: more than one record batch may hold.
    const last = await p.commit(records(12_000, 0, 120), undefined);
    assert.ok((last.get(`${topic}:0`) ?? -1) >= 11_999);
  } finally {
    await p.close();
  }
  assert.equal(await committedOnceDecided(12_000), 12_000);
});

test('a newer holder of the transactional id fences the older producer; nothing of the fenced commit is visible', { timeout: 60_000 }, async () => {
  const before = await committed();
  const old = await TaskProducer.open(conn, { transactionalId: `tp-${run}-fence` });
  await old.commit(records(10, 1), undefined);
  const newer = await TaskProducer.open(conn, { transactionalId: `tp-${run}-fence` });
  await assert.rejects(old.commit(records(10, 1), undefined), TaskFencedError);
  await newer.commit(records(5, 1), undefined);
  await old.close();
  await newer.close();
  assert.equal(await committedOnceDecided(before + 15), before + 15);
});

test('the high watermark counts the records of an undecided transaction; the read_committed end stops at its first', { timeout: 60_000 }, async () => {
  const open = `task-producer-${run}-open`;
  await ensureTopic(conn, open, 1);
  const producer = conn.kafka.producer({ transactionalId: `tp-${run}-open`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const ends = async (): Promise<[number, number]> => [(await fetchOffsets(conn, open))[0].high, (await fetchHighWatermarks(conn, open, [0])).get(0)!];
    const txn = await producer.transaction();
    await txn.send({ topic: open, messages: [{ key: 'a', value: '1', partition: 0 }, { key: 'b', value: '2', partition: 0 }] });
    assert.deepEqual(await ends(), [0, 2]);
    await txn.commit();
    // The commit marker takes an offset too. The coordinator writes it after EndTxn has
    // answered, so both ends get there a moment after the commit returns (on a loaded machine
    // the read_committed end was still 0 when asked at once).
    let after = await ends();
    for (let i = 0; i < 100 && (after[0] !== 3 || after[1] !== 3); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await ends();
    }
    assert.deepEqual(after, [3, 3]);
  } finally {
    await producer.disconnect();
    await deleteTopics(conn, [open]);
  }
});
