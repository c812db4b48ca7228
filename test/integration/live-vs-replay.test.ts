/**
 * The determinism contract end to end on the local stack: `skewless run` consumes card
 * transactions while they are still being produced, with small random engine batches, and is
 * killed with SIGKILL at random points and restarted; finally stopped with SIGTERM. Replaying
 * the same topic offline must give, for every (partition, offset), exactly the vector live
 * served: none missing, none duplicated (exactly-once delivery, read_committed), and the
 * checkpointed state must have applied every input record exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { compareVectors, exited, produceInSlices, readLiveVectors, readReplayVectors, ROOT, sleep, spawnSkewless, topicEndOffsets, waitForTopic, type Worker } from '../helpers/live-run.js';
import { mulberry32 } from '../helpers/prng.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { stackForTests } from '../helpers/stack.js';
import { readTaskCheckpoints } from '../helpers/task-checkpoints.js';

const stack = await stackForTests();
const PARTITIONS = 4;
const EVENTS = 24_000;
const run = randomUUID().slice(0, 8);
const topics = {
  transactions: `live-tx-${run}`,
  chargebacks: `live-cb-${run}`,
  features: `live-features-${run}`,
  daily: `live-daily-${run}`,
  side: `live-${run}`,
};
const dir = mkdtempSync(join(tmpdir(), 'skewless-live-'));
const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
const output = buildProgram(plan).outputs[0];

test.after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, [topics.transactions, topics.chargebacks, topics.features, topics.daily, `${topics.side}-late`, `${topics.side}-dead-letters`]);
});

function startWorker(maxBatch: number): Worker {
  const args = ['run', 'topologies/card-fraud.ts', '--state', join(dir, 'state'), '--group', `live-${run}`, '--max-batch', String(maxBatch)];
  args.push('--topic', `transactions=${topics.transactions}`, '--output-topic', `card_features=${topics.features}`, '--output-topic', `card_daily_spend=${topics.daily}`);
  args.push('--side-prefix', topics.side);
  // A state cache far smaller than the number of cards: keys are evicted at checkpoints and read back from LevelDB.
  args.push('--cache-keys', '25');
  return spawnSkewless(args, stack.env);
}

test('live == replay for every (partition, offset), across SIGKILL restarts while the producer is still writing', { timeout: 240_000 }, async () => {
  const rng = mulberry32(20261126);
  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: EVENTS, seed: 5, format: 'ndjson' });
  await produceFile({ plan, source: 'chargebacks', input: data.chargebacksPath, topic: topics.chargebacks, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });

  // The producer writes in slices with pauses, so the worker consumes while it is still writing.
  const producing = produceInSlices({ plan, source: 'transactions', input: data.transactionsPath, topic: topics.transactions, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl, dir, slices: 6, pauseMs: 700 });
  // The worker needs the topic; the first slice creates it.
  await waitForTopic(stack.brokers, topics.transactions);

  let kills = 0;
  for (; kills < 3; kills++) {
    const w = startWorker(1 + Math.floor(rng() * 60));
    await sleep(2500 + Math.floor(rng() * 3000));
    w.kill('SIGKILL');
    await exited(w);
  }
  await producing;

  // The last incarnation runs until the checkpoints cover every input record, then stops on SIGTERM.
  const last = startWorker(1 + Math.floor(rng() * 60));
  // Caught up: this incarnation is running, and afterwards the output topic holds at least one
  // vector per input record but the few late ones (side output) and stops growing. The
  // checkpoint assertions below check completeness exactly.
  const log = (): string => last.log;
  const deadline = Date.now() + 120_000;
  while (!/skewless: running/.test(log()) && Date.now() < deadline) await sleep(200);
  let previous = -1;
  for (;;) {
    await sleep(2000);
    const outCount = await topicEndOffsets(stack.brokers, topics.features);
    if ((outCount === previous && outCount >= EVENTS * 0.97) || Date.now() > deadline) break;
    previous = outCount;
  }
  await sleep(3000);
  last.kill('SIGTERM');
  assert.equal(await exited(last), 0, `worker exits cleanly on SIGTERM: ${last.log}`);

  // State: every input record applied exactly once (processed = partition length).
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  const ends = new Map((await fetchOffsets(conn, topics.transactions)).map((p) => [p.partition, p.high]));
  const metas = await readTaskCheckpoints(join(dir, 'state'));
  assert.equal(metas.length, PARTITIONS);
  for (const m of metas) {
    assert.equal(m.positions.transactions, ends.get(m.partition), `partition ${m.partition}: checkpoint at the end of the topic`);
    assert.equal(m.counters.processed, ends.get(m.partition), `partition ${m.partition}: each record applied once`);
  }
  // Topics skewless created hold event-time timestamps of any age: no time-based retention may delete them.
  const outputs = [topics.features, topics.daily, `${topics.side}-late`, `${topics.side}-dead-letters`, topics.transactions];
  // (set on the topic itself, not inherited: the local stack's broker default is unlimited too, a production cluster's is 7 days)
  const described = await conn.admin.describeConfigs({ resources: outputs.map((name) => ({ type: 2, name })), includeSynonyms: false });
  for (const r of described.resources) {
    const entry = r.configEntries.find((e) => e.configName === 'retention.ms');
    assert.equal(entry?.configValue, '-1', `${r.resourceName}: retention.ms`);
    assert.equal(entry?.isDefault, false, `${r.resourceName}: retention.ms set on the topic`);
  }
  assert.equal(described.resources.length, outputs.length);

  await conn.close();

  // Live vectors from the output topic; duplicates after a kill must be byte-identical.
  const live = await readLiveVectors(stack.brokers, stack.registryUrl, output, topics.features);
  for (const v of live) assert.ok(v.value, `decodable live vector: ${v.error}`);

  // The offline path over the same topic.
  const out = join(dir, 'replay');
  const summary = await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: { transactions: topics.transactions, chargebacks: topics.chargebacks }, out, workers: 1 });
  assert.equal(summary.counters.processed, EVENTS);
  const c = compareVectors(live, await readReplayVectors(out, output.name), output);
  assert.equal(c.misplaced, 0, 'vectors go to the partition of their input');
  assert.equal(c.duplicatesDiffering, 0, 'duplicates are byte-identical');
  assert.equal(c.liveDistinct, c.expected, `live vectors ${c.liveDistinct} (+${c.duplicateRecords} duplicates) vs replayed ${c.expected}`);
  assert.deepEqual({ lost: c.lost, unexpected: c.unexpected, divergent: c.divergent }, { lost: 0, unexpected: 0, divergent: 0 }, c.examples.join('\n'));
  const served = output.columns.filter((col) => col.role !== 'label');
  assert.ok(c.valuesCompared > EVENTS * served.length * 0.9, `compared ${c.valuesCompared} values`);
  assert.ok(kills === 3);
});
