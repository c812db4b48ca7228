/**
 * The determinism contract end to end on the local stack: `skewless run` consumes card
 * transactions while they are still being produced, with small random engine batches, and is
 * killed with SIGKILL at random points and restarted; finally stopped with SIGTERM. Replaying
 * the same topic offline must give, for every (partition, offset), exactly the vector live
 * served: none missing, none duplicated (exactly-once delivery, read_committed), and the
 * checkpointed state must have applied every input record exactly once. card-fraud's merchant
 * features and risk tier come through a regrouping (repartition and answers topics), so this
 * covers the regrouped path's exactly-once too.
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
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { compareVectors, exited, readLiveVectors, readReplayVectors, ROOT, sleep, spawnSkewless, stopLeftoverWorkers, waitForTopic, type Worker } from '../helpers/live-run.js';
import { mulberry32 } from '../helpers/prng.js';
import { cardTopicArgs, liveInternalTopics, merchantCoverage, produceCardInputs, produceCardInSlices } from '../helpers/card-inputs.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { servedAll } from '../helpers/live-served.js';
import { stackForTests } from '../helpers/stack.js';
import { readTaskCheckpoints } from '../helpers/task-checkpoints.js';

const stack = await stackForTests();
const PARTITIONS = 4;
const EVENTS = 24_000;
const run = randomUUID().slice(0, 8);
const topics = {
  transactions: `live-tx-${run}`,
  chargebacks: `live-cb-${run}`,
  merchant_tiers: `live-tiers-${run}`,
  features: `live-features-${run}`,
  daily: `live-daily-${run}`,
  side: `live-${run}`,
};
const dir = mkdtempSync(join(tmpdir(), 'skewless-live-'));
const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
const output = buildProgram(plan).outputs[0];
const group = `live-${run}`;
/** Every worker this file started: one still running when the test fails is killed on the way out. */
const workers: Worker[] = [];

test.after(async () => {
  await stopLeftoverWorkers(workers);
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(
    stack.brokers,
    [topics.transactions, topics.chargebacks, topics.merchant_tiers, topics.features, topics.daily, `${topics.side}-late`, `${topics.side}-dead-letters`, ...liveInternalTopics(group, plan)],
    [group],
  );
});

function startWorker(maxBatch: number): Worker {
  const args = ['run', 'topologies/card-fraud.ts', '--state', join(dir, 'state'), '--group', group, '--max-batch', String(maxBatch)];
  args.push(...cardTopicArgs({ transactions: topics.transactions, merchant_tiers: topics.merchant_tiers }), '--output-topic', `card_features=${topics.features}`, '--output-topic', `card_daily_spend=${topics.daily}`);
  args.push('--side-prefix', topics.side);
  // A state cache far smaller than the number of cards: keys are evicted at checkpoints and read back from LevelDB.
  args.push('--cache-keys', '25');
  // Small fetches: many batches, each its own engine step and commit; the output may not depend on them.
  args.push('--fetch-bytes', '16384');
  const w = spawnSkewless(args, stack.env);
  workers.push(w);
  return w;
}

test('live == replay for every (partition, offset), across SIGKILL restarts while the producer is still writing', { timeout: 240_000 }, async () => {
  const rng = mulberry32(20261126);
  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: EVENTS, seed: 5, format: 'ndjson' });
  await produceCardInputs({ plan, data, topics: { chargebacks: topics.chargebacks }, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });

  // The producer writes in slices with pauses, so the worker consumes while it is still writing;
  // the merchants' tier versions arrive in step with the transactions, as a feed of them would.
  const producing = produceCardInSlices({ plan, data, topics: { transactions: topics.transactions, merchant_tiers: topics.merchant_tiers }, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl, dir, slices: 6, pauseMs: 700 });
  // The worker needs the topic; the first slice creates it.
  await waitForTopic(stack.brokers, topics.transactions);

  let kills = 0;
  for (; kills < 3; kills++) {
    const w = startWorker(1 + Math.floor(rng() * 60));
    await sleep(2500 + Math.floor(rng() * 3000));
    w.kill('SIGKILL');
    await exited(w);
  }
  assert.deepEqual(await producing, { transactions: EVENTS, merchant_tiers: data.merchantTiers });

  // The offline path over the same topics, now complete: the rows live must serve.
  const out = join(dir, 'replay');
  const summary = await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: { transactions: topics.transactions, chargebacks: topics.chargebacks, merchant_tiers: topics.merchant_tiers }, out, workers: 1 });
  // Every record of the input topics is applied once: the transactions and the tier versions (a table is an input of its task).
  assert.equal(summary.counters.processed, EVENTS + data.merchantTiers);
  const replayed = await readReplayVectors(out, output.name);

  // The last incarnation runs until it has served every replayed row, then stops on SIGTERM.
  // Committed input offsets or a feature topic that stopped growing are not enough: the merchant
  // columns of the last rows wait for every partition's watermark, i.e. for the idle rule
  // (--idle-ms, default 5 s) once the input has ended.
  const last = startWorker(1 + Math.floor(rng() * 60));
  await servedAll({ brokers: stack.brokers, registryUrl: stack.registryUrl, output, topic: topics.features, expected: replayed.keys(), workers: [last], timeoutMs: 150_000 });
  last.kill('SIGTERM');
  assert.equal(await exited(last), 0, `worker exits cleanly on SIGTERM: ${last.log}`);

  // State: every input record applied exactly once (processed = the partition lengths of both inputs).
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  const ends = new Map((await fetchOffsets(conn, topics.transactions)).map((p) => [p.partition, p.high]));
  const tierEnds = new Map((await fetchOffsets(conn, topics.merchant_tiers)).map((p) => [p.partition, p.high]));
  const metas = await readTaskCheckpoints(join(dir, 'state'));
  assert.equal(metas.length, PARTITIONS);
  for (const m of metas) {
    assert.equal(m.positions.transactions, ends.get(m.partition), `partition ${m.partition}: checkpoint at the end of the topic`);
    assert.equal(m.positions.merchant_tiers, tierEnds.get(m.partition), `partition ${m.partition}: checkpoint at the end of the tiers topic`);
    assert.equal(m.counters.processed, ends.get(m.partition)! + tierEnds.get(m.partition)!, `partition ${m.partition}: each record applied once`);
  }
  // Topics skewless created hold event-time timestamps of any age: no time-based retention may delete them.
  const outputs = [topics.features, topics.daily, `${topics.side}-late`, `${topics.side}-dead-letters`, topics.transactions, topics.merchant_tiers];
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

  const c = compareVectors(live, replayed, output);
  assert.equal(c.misplaced, 0, 'vectors go to the partition of their input');
  assert.equal(c.duplicatesDiffering, 0, 'duplicates are byte-identical');
  assert.equal(c.liveDistinct, c.expected, `live vectors ${c.liveDistinct} (+${c.duplicateRecords} duplicates) vs replayed ${c.expected}`);
  assert.deepEqual({ lost: c.lost, unexpected: c.unexpected, divergent: c.divergent }, { lost: 0, unexpected: 0, divergent: 0 }, c.examples.join('\n'));
  const served = output.columns.filter((col) => col.role !== 'label');
  assert.ok(c.valuesCompared > EVENTS * served.length * 0.9, `compared ${c.valuesCompared} values`);
  // The merchant columns (regrouped) take part in the comparison with real values, not nulls on both sides.
  const merchants = merchantCoverage(replayed.values());
  assert.ok(merchants.withTier > merchants.rows * 0.9 && merchants.withMerchantHistory > merchants.rows * 0.5, `merchant values in the rows compared: ${JSON.stringify(merchants)}`);
  assert.ok(kills === 3);
});
