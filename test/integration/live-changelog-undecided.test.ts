/**
 * A task reopened while a transaction on its changelog partition is still undecided keeps its
 * local copy and waits for the transaction to end; it does not rebuild from the shorter
 * changelog that read_committed readers see meanwhile.
 *
 * A read_committed end offset stops at the first record of a transaction that has not ended, so
 * it can be below a batch whose commit this task already had acknowledged: after a broker
 * restart the commit markers of transactions decided before the crash are written only once the
 * coordinator has reloaded them (seen in CI: "the local copy (changelog offset 69) is ahead of
 * the committed changelog (end 5)" right after a broker kill -9). Before, the task took the
 * local copy for a stale one and rebuilt its state from [0, end): a state several batches old,
 * whose inputs it then served again (duplicates) while the group's offsets were further on.
 *
 * The undecided transaction is made deterministic here: a second transactional producer writes
 * one record to changelog partition 0 and leaves its transaction open while the worker commits
 * more batches on top of it; the worker is killed and restarted, and only then is the stray
 * transaction aborted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { CardOnlyRun } from '../helpers/card-only-run.js';
import { exited, inputCommitted, sleep, until } from '../helpers/live-run.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const r = await CardOnlyRun.create(stack, 'undecided');
const { t, changelog } = r;

test.after(() => r.close());

const startWorker = (): ReturnType<CardOnlyRun['startWorker']> => r.startWorker(['--max-batch', '50']);

test('live: a task reopened under an undecided changelog transaction waits for it and keeps its state (no rebuild, no vector served twice)', { timeout: 300_000 }, async () => {
  const parts = await r.prepare(1500, 41, [500, 1000]);
  const first = startWorker();
  await inputCommitted(stack.brokers, t.group, t.transactions, [first]);

  // A transaction that stays undecided on changelog partition 0 while the worker commits more batches on top of it.
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  const stray = conn.kafka.producer({ transactionalId: `undecided-stray-${t.group}`, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 120_000 });
  await stray.connect();
  try {
    const txn = await stray.transaction();
    await txn.send({ topic: changelog, messages: [{ key: 'stray', value: 'not state', partition: 0 }] });

    await r.produce(parts[1]);
    await inputCommitted(stack.brokers, t.group, t.transactions, [first]);
    first.kill('SIGKILL');
    await exited(first);

    // Restarted on the kept local copy: task 0's committed end is below it until the stray transaction ends.
    const second = startWorker();
    await until('task 0 waiting for the undecided transaction', [second], () => /task 0: .*undecided/.test(second.log), 60_000);
    await sleep(3000);
    assert.doesNotMatch(second.log, /task 0: rebuilding local state/, second.log);
    assert.doesNotMatch(second.log, /task 0 ready/, `task 0 opened before the transaction ended:\n${second.log}`);
    await txn.abort();

    await r.produce(parts[2]);
    await inputCommitted(stack.brokers, t.group, t.transactions, [second]);
    const replayed = await r.servedAsReplayed(second);
    second.kill('SIGTERM');
    assert.equal(await exited(second), 0, second.log);
    assert.doesNotMatch(second.log, /rebuilding local state/, second.log);
    // Opened on the local copy: no changelog record applied (the stray one was aborted).
    assert.match(second.log, /task 0 ready at \{[^}]*\}$/m, second.log);
    if (process.env.SHOW_LOG) console.log(second.log);

    await r.assertServedOnce(replayed, 1400, second.log);
  } finally {
    await stray.disconnect().catch(() => undefined);
    await conn.close();
  }
});
