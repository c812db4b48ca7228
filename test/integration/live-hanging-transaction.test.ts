/**
 * A hanging transaction on a task's changelog partition: records of the task's own
 * transactional id that no transaction coordinator knows any more, so nothing in Kafka will
 * ever decide them. A lone broker killed and restarted lost such a decision in CI (its
 * coordinator reloaded a transaction log cut short). The worker cannot write the markers itself
 * (kafkajs has no WriteTxnMarkers); before, it waited out its retry deadline (5 minutes) and
 * stopped with a generic message. Now it stops once the same records stay undecided over the
 * transaction timeout across its producer's re-initializations, with the abort to run; the test
 * then does what the message says with Kafka's own kafka-transactions.sh (that abort, find-hanging
 * for the same transaction elsewhere, its abort) and checks that the task continues from its last
 * commit and serves every vector once, equal to replay.
 *
 * The lost decision is made deterministic: a producer with the task's transactional id (a worker
 * killed mid-transaction) writes one record to changelog partition 0 and one to the output's
 * partition 0 and leaves its transaction open; the broker is killed and restarted without the
 * transaction log partition that held that transaction, as a coordinator that lost those records
 * would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { committedOffsets } from '../../src/io/kafka/topic-admin.js';
import { kafkaDataDir, restartKafka, stackPid } from '../../scripts/stack/stack.mjs';
import { CardOnlyRun } from '../helpers/card-only-run.js';
import { findHanging, resolveHang } from '../helpers/hanging-transactions.js';
import { exited, inputCommitted, sleep } from '../helpers/live-run.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const kafkaPid = stackPid('kafka');
const r = await CardOnlyRun.create(stack, 'hanging');
const { t, plan, changelog } = r;
/** The stack's transaction.state.log.num.partitions (scripts/stack/stack.mjs). */
const TRANSACTION_LOG_PARTITIONS = 8;

test.after(() => r.close());

const startWorker = (): ReturnType<CardOnlyRun['startWorker']> => r.startWorker(['--max-batch', '50']);

/** The __transaction_state partition of a transactional id: Kafka's Utils.abs(String.hashCode) % partitions. */
function transactionLogPartition(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) | 0;
  return (h === -(2 ** 31) ? 0 : Math.abs(h)) % TRANSACTION_LOG_PARTITIONS;
}

test('live: a hanging transaction on a task\'s changelog stops the worker with the abort to run; after that abort the task continues and serves every vector once', { timeout: 420_000, skip: kafkaPid === null ? 'needs the local stack of this checkout (scripts/stack)' : false }, async (tc) => {
  const parts = await r.prepare(1500, 43, [500, 1000]);
  const first = startWorker();
  await inputCommitted(stack.brokers, t.group, t.transactions, [first]);
  first.kill('SIGTERM');
  assert.equal(await exited(first), 0, first.log);

  // Task 0's transactional id, as a worker killed mid-transaction would leave it: one record on
  // the changelog in a transaction that never ends.
  const id = `${t.group}-${plan.version}-task-0`;
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  const orphan = conn.kafka.producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1 });
  await orphan.connect();
  const txn = await orphan.transaction();
  const [sent] = await txn.send({ topic: changelog, messages: [{ key: 'orphan', value: 'never decided', partition: 0 }] });
  const start = Number(sent.baseOffset);
  // And, as a batch would, on the task's partition of an output topic, and with the group's offsets (unchanged).
  const [output] = await txn.send({ topic: t.features, messages: [{ key: 'orphan', value: 'never served', partition: 0 }] });
  const committed = (await committedOffsets(conn, t.group, t.transactions)).find((o) => o.partition === 0)!.offset;
  await txn.sendOffsets({ consumerGroupId: t.group, topics: [{ topic: t.transactions, partitions: [{ partition: 0, offset: String(committed) }] }] });
  await orphan.disconnect().catch(() => undefined);
  await conn.close().catch(() => undefined);

  // The coordinator loses it: the broker restarts without the transaction log partition that held it.
  const pid = stackPid('kafka')!;
  process.kill(pid, 'SIGKILL');
  while (stackPid('kafka') === pid) await sleep(100);
  await sleep(3000); // its listeners closed
  rmSync(join(kafkaDataDir(), `__transaction_state-${transactionLogPartition(id)}`), { recursive: true, force: true });
  await restartKafka({ log: () => undefined });

  // Inputs keep coming: each fetched batch of partition 0 tries to open the task again.
  await r.produce(parts[1]);
  const second = startWorker();
  const t0 = Date.now();
  let waiting = true;
  const opened = (async (): Promise<string> => {
    while (waiting && !/task 0 ready/.test(second.log)) await sleep(200);
    return 'task 0 opened';
  })();
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited(second), opened, new Promise<string>((r) => (timer = setTimeout(() => r('running'), 240_000)))]);
  waiting = false;
  clearTimeout(timer);
  assert.notEqual(code, 'task 0 opened', `the orphan transaction was decided after all:\n${second.log}`);
  const stoppedAfterS = (Date.now() - t0) / 1000;
  assert.notEqual(code, 'running', `the worker still waits after 240 s:\n${second.log}`);
  assert.notEqual(code, 0, second.log);
  const line = /task 0: a hanging transaction on changelog (\S+) partition 0: its records from offset (\d+) to (\d+) .*$/m.exec(second.log);
  assert.ok(line !== null, `the worker names the hanging transaction:\n${second.log}`);
  assert.equal(line[1], changelog);
  assert.equal(Number(line[2]), start, 'from the orphan record on');
  assert.match(line[0], new RegExp(`transactional id ${id}\\)`));
  assert.match(line[0], /records after this task's last committed batch are undecided/);
  assert.match(line[0], /nothing of the transaction was decided: abort each of them the same way, then start the worker again \(the task continues from its last commit\)/);
  // Long before the retry deadline (300 s), not before the transaction timeout (60 s).
  assert.ok(stoppedAfterS > 60 && stoppedAfterS < 200, `stopped after ${stoppedAfterS} s`);
  assert.doesNotMatch(second.log, /task 0: rebuilding local state/, second.log);

  // The abort it names, run as an operator would, with Kafka's own tool.
  const abort = /kafka-transactions\.sh --bootstrap-server <brokers> abort (--topic \S+ --partition \d+ --start-offset \d+);/.exec(line[0]);
  assert.ok(abort !== null, line[0]);
  const listed = await findHanging();
  const onChangelog = listed.find((h) => h.topic === changelog);
  const ours = listed.filter((h) => h.producerId === onChangelog?.producerId);
  tc.diagnostic(`find-hanging: ${JSON.stringify(ours)}`);
  assert.deepEqual(
    ours.map((h) => [h.topic, h.topic === '__consumer_offsets' ? -1 : h.partition, h.topic === '__consumer_offsets' ? -1 : h.startOffset]).sort(),
    [[changelog, 0, start], [t.features, 0, Number(output.baseOffset)], ['__consumer_offsets', -1, -1]].sort(),
    'find-hanging lists the transaction on its three partitions, one producer id',
  );
  assert.equal(abort[1], `--topic ${changelog} --partition 0 --start-offset ${start}`);
  // Those aborts: of the named one, and of every other find-hanging lists for its producer id.
  const resolved = await resolveHang(second.log, (topic) => topic === changelog);
  assert.ok(resolved?.endsWith(line[0]), `resolved ${resolved}`);
  assert.deepEqual((await findHanging()).filter((h) => h.producerId === onChangelog?.producerId), [], 'nothing hangs after the aborts');

  await r.produce(parts[2]);
  const third = startWorker();
  await inputCommitted(stack.brokers, t.group, t.transactions, [third]);
  const replayed = await r.servedAsReplayed(third);
  third.kill('SIGTERM');
  assert.equal(await exited(third), 0, third.log);
  // Opened on its local copy (the aborted record applies nothing), not rebuilt.
  assert.doesNotMatch(third.log, /rebuilding local state/, third.log);
  assert.match(third.log, /task 0 ready at /, third.log);
  tc.diagnostic(`stopped ${stoppedAfterS.toFixed(0)} s after the worker started`);

  await r.assertServedOnce(replayed, 1400, third.log);
});
