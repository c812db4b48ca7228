/**
 * A state directory whose last checkpoint was cut short between two of its writes (a replay or
 * bootstrap killed while writing a checkpoint too large for one batch: Task.checkpoint) holds the
 * entries of a newer checkpoint beside the record of an older one. A live worker given it stops at
 * once with one line saying so and what to do, and publishes nothing of it: before the mark,
 * such a store was read as if whole (its older checkpoint record with the newer timelines) and
 * published to the new group's changelog with the first commit; a refusal taken for an unreadable
 * local copy would instead have deleted it and rebuilt an empty state from the empty changelog.
 *
 * The cut is made by the engine itself: the task's store fails its third write, as a killed
 * process leaves it (the writes before it landed, the checkpoint record did not).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InputRecord } from '../../src/engine/input.js';
import { buildProgram } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { changelogTopic } from '../../src/modes/live/changelog.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { LevelBackend } from '../../src/state/state-backend.js';
import { taskStateDir } from '../../src/state/task-state-dir.js';
import { metaKey, partialCheckpointKey } from '../../src/state/task-state-keys.js';
import { collectingSinks } from '../helpers/engine.js';
import { RecordingBackend } from '../helpers/recording-backend.js';
import { cardRunTopicNames, cardRunTopics, liveInternalTopics } from '../helpers/card-inputs.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { refusal, ROOT, stopLeftoverWorkers, topicEndOffsets, type Worker } from '../helpers/live-run.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const TOPOLOGY = 'test/fixtures/card-only.ts';
const plan = await loadTopology(join(ROOT, TOPOLOGY));
const run = randomUUID().slice(0, 8);
const t = cardRunTopics('partial', run);
const dir = mkdtempSync(join(tmpdir(), 'skewless-partial-'));
const state = join(dir, 'state');
const workers: Worker[] = [];

test.after(async () => {
  await stopLeftoverWorkers(workers);
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, [...cardRunTopicNames(t), ...liveInternalTopics(t.group, plan)], [t.group]);
});

test('live: a state directory holding a checkpoint cut short is refused at once, and nothing of it is published', { timeout: 180_000 }, async () => {
  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: 3000, seed: 17, format: 'ndjson' });
  // One partition: task 0 is the worker's only task, so nothing another task commits meanwhile blurs what task 0 published.
  const produce = (input: string, source: string, topic: string): Promise<unknown> => produceFile({ plan, source, input, topic, partitions: 1, brokers: stack.brokers, registryUrl: stack.registryUrl });
  await produce(data.chargebacksPath, 'chargebacks', t.chargebacks);
  await produce(data.transactionsPath, 'transactions', t.transactions);

  // Task 0's state as a replay leaves it when killed: a whole checkpoint after the first half of
  // the transactions, then the next one cut after its second write.
  const records: InputRecord[] = readFileSync(data.transactionsPath, 'utf8').trim().split('\n').map((line, offset) => ({ offset, value: JSON.parse(line) as Record<string, unknown> }));
  // Its third write fails: the second checkpoint's first write lands, its record never does.
  const backend = new RecordingBackend(await LevelBackend.open(taskStateDir(state, 0)), 3);
  try {
    const task = await Task.open(buildProgram(plan), 0, backend, collectingSinks().sinks);
    await task.process({ source: 'transactions', partition: 0, records: records.slice(0, 1500) });
    await task.checkpoint();
    await task.process({ source: 'transactions', partition: 0, records: records.slice(1500) });
    await assert.rejects(task.checkpoint(64), /the disk went away/);
  } finally {
    await backend.close();
  }
  const check = await LevelBackend.open(taskStateDir(state, 0));
  try {
    const [meta, partial] = await check.getMany([metaKey(0), partialCheckpointKey(0)]);
    assert.ok(meta !== undefined && partial !== undefined, 'an older checkpoint record beside a newer checkpoint cut short');
  } finally {
    await check.close();
  }

  const { line, log, ms } = await refusal(
    ['run', TOPOLOGY, '--state', state, '--group', t.group, '--idle-ms', '1000', '--topic', `transactions=${t.transactions}`, '--topic', `chargebacks=${t.chargebacks}`, '--output-topic', `card_features=${t.features}`, '--output-topic', `card_daily_spend=${t.daily}`, '--side-prefix', t.side],
    stack.env,
    workers,
    'checkpoint whose writing stopped part way',
  );
  assert.ok(ms < 30_000, `stopped after ${ms} ms:\n${log}`);
  assert.match(line, /partition 0 .*Remove the state directory and run the command that wrote it \(backfill, bootstrap or parity\) again/);
  assert.doesNotMatch(log, /rebuilding local state|publishing it with the first commit/, 'neither rebuilt nor published');
  assert.equal(await topicEndOffsets(stack.brokers, changelogTopic(t.group, plan.version)), 0, 'the changelog holds nothing');
  assert.equal(await topicEndOffsets(stack.brokers, t.features), 0, 'no vector was served');
  assert.ok(existsSync(taskStateDir(state, 0)), 'the state directory is kept');
});
