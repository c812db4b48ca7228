/**
 * A live worker given a group whose changelog holds state of an older state format (an older
 * build wrote it) stops at once with one line that names the group, the changelog topic and
 * partition, both formats and the ways forward (a new group, or `skewless bootstrap`), and a
 * non-zero exit code. Restoring again cannot help: the changelog holds the same records on every
 * attempt. Before, the worker took this for a transient failure and retried it under the failure
 * back-off until --retry-deadline-ms (default 5 minutes) had passed.
 *
 * The old format is simulated: after a worker of this build has run on a fresh group, the
 * changelog gets one more checkpoint record for task 0 claiming STATE_FORMAT - 1, as the last
 * checkpoint of an older build would. Both ways a worker meets it are covered: catching a kept
 * local copy up from the changelog, and rebuilding a deleted one from it. The `skewless
 * bootstrap` command the refusal proposes is then run as written (with the run's --topic flags).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { TopicProducer } from '../../src/io/kafka/topic-producer.js';
import { metaKey, STATE_FORMAT } from '../../src/state/task-state-keys.js';
import { cardTopicArgs } from '../helpers/card-inputs.js';
import { CARD_ONLY as TOPOLOGY, CardOnlyRun } from '../helpers/card-only-run.js';
import { exited, inputCommitted, spawnSkewless } from '../helpers/live-run.js';
import { stackForTests } from '../helpers/stack.js';
import { readTaskCheckpoints } from '../helpers/task-checkpoints.js';

const stack = await stackForTests();
// The live driver's mechanics only: card features without card-fraud's regrouping.
const card = await CardOnlyRun.create(stack, 'oldfmt');
const { t, changelog, state, workers } = card;
const OLD_FORMAT = STATE_FORMAT - 1;
/** The group the refusal proposes: this build's own, with its own changelog. */
const newGroup = `${t.group}-format${STATE_FORMAT}`;
card.otherGroups.push(newGroup);

test.after(() => card.close());

/** The default retry deadline is 5 minutes: a worker still running after this is retrying, and is killed so the test fails on it. */
const KILL_AFTER_MS = 60_000;
/** A refusal comes at once: start-up, joining the group, opening the task. */
const EXIT_WITHIN_MS = 20_000;

const topicFlags = cardTopicArgs({ transactions: t.transactions, chargebacks: t.chargebacks });

const startWorker = (): ReturnType<CardOnlyRun['startWorker']> => card.startWorker();

/** Start a worker on the changed changelog; resolves with its exit code (null: killed, still retrying) and how long it ran. */
async function refusedRun(): Promise<{ code: number | null; ms: number; log: string }> {
  const started = Date.now();
  const w = startWorker();
  const timer = setTimeout(() => w.kill('SIGKILL'), KILL_AFTER_MS);
  const code = await exited(w);
  clearTimeout(timer);
  return { code, ms: Date.now() - started, log: w.log };
}

/** Checks the refusal; returns its line. */
function assertRefusal(r: { code: number | null; ms: number; log: string }): string {
  assert.notEqual(r.code, null, `the worker was still running (retrying) after ${KILL_AFTER_MS} ms:\n${r.log}`);
  assert.notEqual(r.code, 0, r.log);
  assert.ok(r.ms < EXIT_WITHIN_MS, `stopped after ${r.ms} ms, not at once:\n${r.log}`);
  assert.doesNotMatch(r.log, /task 0: batch not committed|retrying from the last commit|kept failing/, 'no retries');
  // One line says it all: group, changelog topic and partition, the formats, and the ways forward.
  const lines = r.log.split('\n').filter((l) => l.includes(`state format ${OLD_FORMAT}`));
  assert.equal(lines.length, 1, r.log);
  const [line] = lines;
  for (const part of [`this build reads ${STATE_FORMAT}`, `group ${t.group}`, `changelog ${changelog} partition 0`, 'skewless bootstrap', '--group']) {
    assert.ok(line.includes(part), `the error line names ${JSON.stringify(part)}: ${line}`);
  }
  return line;
}

test('live: a changelog of an older state format stops the worker at once, saying how to go forward', { timeout: 300_000 }, async (ctx) => {
  // The first part now, more later: the refused workers have input to fetch, as a worker in production would.
  const parts = await card.prepare(1200, 31, [600, 900]);

  // This build on a fresh group: state and changelog of STATE_FORMAT, every input committed.
  const first = startWorker();
  await inputCommitted(stack.brokers, t.group, t.transactions, [first]);
  first.kill('SIGTERM');
  assert.equal(await exited(first), 0, first.log);
  const checkpoint = (await readTaskCheckpoints(state)).find((m) => m.partition === 0);
  assert.ok(checkpoint, 'task 0 checkpointed');
  assert.equal(checkpoint.format, STATE_FORMAT);

  // An older build's last checkpoint of task 0: the same record, of the format before.
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  try {
    const producer = await TopicProducer.open(conn);
    await producer.add(changelog, { key: metaKey(0), value: new TextEncoder().encode(JSON.stringify({ ...checkpoint, format: OLD_FORMAT })), partition: 0 });
    await producer.close();
  } finally {
    await conn.close();
  }

  await ctx.test('the local copy kept: caught up from the changelog', async () => {
    await card.produce(parts[1]);
    const r = await refusedRun();
    ctx.diagnostic(`kept local copy: exit ${r.code} after ${r.ms} ms`);
    ctx.diagnostic(assertRefusal(r));
  });

  let refusal = '';
  await ctx.test('the local copy deleted: rebuilt from the changelog', async () => {
    rmSync(state, { recursive: true, force: true });
    await card.produce(parts[2]);
    const r = await refusedRun();
    ctx.diagnostic(`deleted local copy: exit ${r.code} after ${r.ms} ms`);
    refusal = assertRefusal(r);
    ctx.diagnostic(refusal);
  });

  await ctx.test('the bootstrap command it proposes works as written', async () => {
    const command = /`skewless (bootstrap [^`]+)`/.exec(refusal)?.[1];
    assert.ok(command, refusal);
    const args = command.split(' ');
    assert.deepEqual(args.slice(0, 6), ['bootstrap', TOPOLOGY, '--state', `${state}-format${STATE_FORMAT}`, '--group', newGroup]);
    // With the run's --topic flags, as the refusal says.
    const boot = spawnSkewless([...args, ...topicFlags, '--no-run'], stack.env);
    workers.push(boot);
    assert.equal(await exited(boot), 0, boot.log);
    const checkpoints = await readTaskCheckpoints(`${state}-format${STATE_FORMAT}`);
    assert.equal(checkpoints.length, 2);
    for (const m of checkpoints) assert.equal(m.format, STATE_FORMAT);
  });
});
