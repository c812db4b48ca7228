/**
 * A broker that stops answering without closing its connections (SIGSTOP: a long GC pause, a
 * frozen VM, a network partition that drops packets) while an exactly-once worker is in its
 * backlog. Unlike a crash (live-outage.test.ts), nothing fails fast: every request in flight,
 * the open transaction's included, waits for its timeout, and the hang outlasts the
 * transaction timeout (60 s) and the group session, so on resume the broker aborts the open
 * transactions and has forgotten the member. The worker must keep running, rejoin, redo the
 * aborted batches from the last commit and in the end serve every vector once, equal to the
 * replay. A client that meets the hung broker first (KafkaConnection's probe) says so within
 * 10 s; one connected before the hang gives up on its request at its deadline and says which
 * request timed out.
 *
 * The broker is this checkout's local stack (scripts/stack): the test needs its process id, so
 * against a stack it did not start it is skipped. The suite runs test files one at a time, so
 * no other test sees the hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stackPid } from '../../scripts/stack/stack.mjs';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { topicPartitionCount } from '../../src/io/kafka/topic-admin.js';
import { sleep } from '../helpers/live-run.js';
import { stackForTests } from '../helpers/stack.js';
import { awaitCaughtUp, commitProgress, Timeline } from '../helpers/fault-timeline.js';
import { CardFaultRun } from '../helpers/card-fault-run.js';
import { awaitBrokerSilent, brokerAnswer } from '../helpers/broker-silence.js';

const stack = await stackForTests();
/** Longer than the worker's transaction timeout (60 s) and its group session. */
const HANG_MS = 70_000;
const run = await CardFaultRun.create(stack, 'hang');
const kafkaPid = stackPid('kafka');

/** The error `p` fails with, or a line saying what it gave instead, when, and what the broker looked like then. */
async function outcome(p: Promise<unknown>, since: number): Promise<Error | string> {
  return p.then(
    async (v) => `${JSON.stringify(v) ?? 'nothing'} after ${Date.now() - since} ms; a raw request now: ${await brokerAnswer(stack.brokers[0], 1000)}; broker process ${processState(kafkaPid!)}`,
    (e: Error) => e,
  );
}

function processState(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('State:'))?.replace(/\s+/g, ' ') ?? 'state unknown';
  } catch (e) {
    return `unreadable (${(e as Error).message})`;
  }
}

test.after(async () => {
  // A failure during the hang must not leave the broker stopped for the files after this one.
  if (kafkaPid !== null) process.kill(kafkaPid, 'SIGCONT');
  await run.close();
});

test('a worker rides out a broker that hangs (SIGSTOP) past its transaction timeout mid-backlog, and serves every vector once', { timeout: 300_000, skip: kafkaPid === null ? 'needs the local stack of this checkout (scripts/stack)' : false }, async (tc) => {
  const timeline = new Timeline();
  const t = run.topics;
  // Before the worker starts, and after the broker is back.
  await run.prepare(23, [8000]);
  await run.producePart(0);
  const w = run.startWorker(join(run.dir, 'state'), timeline);
  // Hang the broker while the worker is in the middle of the backlog, transactions open.
  while (((await commitProgress(stack.brokers, t.group, t.transactions))?.committed ?? 0) < 400 && w.exitCode === null) await sleep(100);
  // A client connected before the hang, its metadata fresh.
  const connected = await KafkaConnection.open({ brokers: stack.brokers });
  process.kill(kafkaPid!, 'SIGSTOP');
  timeline.mark('test: broker stopped (SIGSTOP)');
  try {
    const hangEnds = Date.now() + HANG_MS;
    // kill() only queues the signal: measure clients against a broker that has gone silent.
    const silentAfterMs = await awaitBrokerSilent(stack.brokers[0], 20_000);
    timeline.mark(`test: the broker answers nothing (${silentAfterMs} ms after SIGSTOP)`);
    // A client's first contact with the hung broker says so within its probe's 10 s (before: 30 s, then "Broker not connected").
    const probing = Date.now();
    const probed = await outcome(KafkaConnection.open({ brokers: stack.brokers }).then((c) => c.close()), probing);
    assert.ok(probed instanceof Error, `a client connected to the paused broker: ${probed}\n${timeline.report()}`);
    assert.match(probed.message, /^Kafka at \S+ took the connection but answered nothing within 10 s \(.*\): the broker is paused, overloaded or still starting; check its process and log, then retry$/);
    assert.ok(Date.now() - probing < 25_000, `the probe took ${Date.now() - probing} ms`);
    // A command's request to the hung broker ends at its deadline and says what it was doing, instead of waiting for the broker.
    const asking = Date.now();
    const asked = await outcome(topicPartitionCount(connected, t.transactions), asking);
    assert.ok(asked instanceof Error, `a topic lookup on the paused broker answered: ${asked}\n${timeline.report()}`);
    assert.match(asked.message, /^listing Kafka topics failed after retrying for [\d.]+s \(\d+ attempts?\): Request Metadata\(key: 3, version: \d+\) timed out$/);
    assert.ok(Date.now() - asking < 45_000, `the topic lookup took ${Date.now() - asking} ms`);
    await sleep(Math.max(0, hangEnds - Date.now()));
    assert.equal(w.exitCode, null, `the worker is still running while the broker hangs:\n${timeline.report()}`);
  } finally {
    process.kill(kafkaPid!, 'SIGCONT');
    timeline.mark('test: broker resumed (SIGCONT)');
    await connected.close();
  }
  // The broker's first answers after a long stop can be stale metadata: give it a moment before producing.
  await sleep(5000);
  await run.producePart(1);
  timeline.mark('test: every input produced');
  // About 10 s here.
  await awaitCaughtUp(tc, { brokers: stack.brokers, group: t.group, topic: t.transactions, worker: w, timeline, limitMs: 120_000, slowMs: 30_000 });
  assert.match(w.log, /batch not committed/, 'the hang made at least one batch fail (else the test did not test it)');
  await run.assertServedOnceAsReplay(w);
});
