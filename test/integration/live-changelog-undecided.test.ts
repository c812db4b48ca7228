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
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { changelogTopic } from '../../src/modes/live/changelog.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cardRunTopics, liveInternalTopics, writeNdjsonParts } from '../helpers/card-inputs.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { compareVectors, exited, inputCommitted, readLiveVectors, readReplayVectors, ROOT, sleep, spawnSkewless, stopLeftoverWorkers, until, type Worker } from '../helpers/live-run.js';
import { servedAll } from '../helpers/live-served.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const TOPOLOGY = 'test/fixtures/card-only.ts';
const plan = await loadTopology(join(ROOT, TOPOLOGY));
const output = buildProgram(plan).outputs.find((o) => o.name === 'card_features')!;
const run = randomUUID().slice(0, 8);
const t = cardRunTopics('undecided', run);
const changelog = changelogTopic(t.group, plan.version);
const dir = mkdtempSync(join(tmpdir(), 'skewless-undecided-'));
const state = join(dir, 'state');
const workers: Worker[] = [];

test.after(async () => {
  await stopLeftoverWorkers(workers);
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, [t.transactions, t.chargebacks, t.features, t.daily, `${t.side}-late`, `${t.side}-dead-letters`, ...liveInternalTopics(t.group, plan)], [t.group]);
});

function startWorker(): Worker {
  const w = spawnSkewless(
    [
      'run', TOPOLOGY, '--state', state, '--group', t.group, '--idle-ms', '1000', '--max-batch', '50',
      '--topic', `transactions=${t.transactions}`, '--topic', `chargebacks=${t.chargebacks}`,
      '--output-topic', `card_features=${t.features}`, '--output-topic', `card_daily_spend=${t.daily}`, '--side-prefix', t.side,
    ],
    stack.env,
  );
  workers.push(w);
  return w;
}

test('live: a task reopened under an undecided changelog transaction waits for it and keeps its state (no rebuild, no vector served twice)', { timeout: 300_000 }, async () => {
  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: 1500, seed: 41, format: 'ndjson' });
  const parts = writeNdjsonParts(data.transactionsPath, [500, 1000], dir, 'transactions');
  const produce = (input: string, source = 'transactions', topic = t.transactions): Promise<unknown> => produceFile({ plan, source, input, topic, partitions: 2, brokers: stack.brokers, registryUrl: stack.registryUrl });
  await produce(data.chargebacksPath, 'chargebacks', t.chargebacks);
  await produce(parts[0]);

  const first = startWorker();
  await inputCommitted(stack.brokers, t.group, t.transactions, [first]);

  // A transaction that stays undecided on changelog partition 0 while the worker commits more batches on top of it.
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  const stray = conn.kafka.producer({ transactionalId: `undecided-stray-${run}`, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 120_000 });
  await stray.connect();
  try {
    const txn = await stray.transaction();
    await txn.send({ topic: changelog, messages: [{ key: 'stray', value: 'not state', partition: 0 }] });

    await produce(parts[1]);
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

    await produce(parts[2]);
    await inputCommitted(stack.brokers, t.group, t.transactions, [second]);
    const out = join(dir, 'replay');
    await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: { transactions: t.transactions, chargebacks: t.chargebacks }, out, workers: 1 });
    const replayed = await readReplayVectors(out, output.name);
    await servedAll({ brokers: stack.brokers, registryUrl: stack.registryUrl, output, topic: t.features, expected: replayed.keys(), workers: [second] });
    second.kill('SIGTERM');
    assert.equal(await exited(second), 0, second.log);
    assert.doesNotMatch(second.log, /rebuilding local state/, second.log);
    // Opened on the local copy: no changelog record applied (the stray one was aborted).
    assert.match(second.log, /task 0 ready at \{[^}]*\}$/m, second.log);
    if (process.env.SHOW_LOG) console.log(second.log);

    const cmp = compareVectors(await readLiveVectors(stack.brokers, stack.registryUrl, output, t.features), replayed, output);
    assert.ok(cmp.expected > 1400, `replay computed ${cmp.expected}`);
    assert.deepEqual({ lost: cmp.lost, duplicates: cmp.duplicates, divergent: cmp.divergent }, { lost: 0, duplicates: 0, divergent: 0 }, `${cmp.examples.join('\n')}\n${second.log}`);
  } finally {
    await stray.disconnect().catch(() => undefined);
    await conn.close();
  }
});
