/**
 * A live worker whose keys outgrow its heap keeps serving, exactly as replay computes. Its key
 * cache bound is lowered when the heap runs short (heap-pressure.ts) and each commit evicts down
 * to it. Before, a commit evicted only keys its batch had not used, and a fetched batch of card
 * transactions (2 MiB per partition, ~20,000 records, nearly as many cards) used most of them:
 * every task kept its last batch's keys whatever the bound, and this worker died with
 * "JavaScript heap out of memory" within seconds, then again at every restart. Now a commit
 * evicts the batch's own keys too when they alone exceed the bound, and a heap found short in
 * the middle of a fetched batch ends the engine step there, so the commit evicts before the rest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cardRunTopicNames, cardRunTopics, cardTopicArgs, liveInternalTopics, produceCardInputs } from '../helpers/card-inputs.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { compareVectors, exited, inputCommitted, readLiveVectors, readReplayVectors, ROOT, spawnSkewless, stopLeftoverWorkers, summedMetric, type Worker } from '../helpers/live-run.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const TOPOLOGY = 'test/fixtures/card-only.ts';
const plan = await loadTopology(join(ROOT, TOPOLOGY));
const output = buildProgram(plan).outputs.find((o) => o.name === 'card_features')!;
const run = randomUUID().slice(0, 8);
const t = cardRunTopics('heap', run);
const dir = mkdtempSync(join(tmpdir(), 'skewless-heap-'));
const workers: Worker[] = [];
/** 100,000 cards with three transactions each over about two days: every card's state stays in its 7-day windows. */
const EVENTS = 300_000;
const CARDS = 100_000;
/** MiB of old generation: the worker dies in it without the bound (measured: 4 s), and holds 170–205 MiB in it with. */
const HEAP_MIB = 256;

test.after(async () => {
  await stopLeftoverWorkers(workers);
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, [...cardRunTopicNames(t), ...liveInternalTopics(t.group, plan)], [t.group]);
});

test('live: a worker whose keys outgrow its heap evicts down to its lowered bound, survives, and serves what replay computes', { timeout: 300_000 }, async () => {
  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: EVENTS, cards: CARDS, seed: 5, format: 'ndjson' });
  const topics = { transactions: t.transactions, chargebacks: t.chargebacks };
  await produceCardInputs({ plan, data, topics, partitions: 4, brokers: stack.brokers, registryUrl: stack.registryUrl });

  const w = spawnSkewless(
    ['run', TOPOLOGY, '--state', join(dir, 'state'), '--group', t.group, '--idle-ms', '1000', '--metrics-port', '0', ...cardTopicArgs(topics), '--output-topic', `card_features=${t.features}`, '--output-topic', `card_daily_spend=${t.daily}`, '--side-prefix', t.side],
    { ...stack.env, NODE_OPTIONS: `--max-old-space-size=${HEAP_MIB}` },
  );
  workers.push(w);
  // Fails at once, with the worker's log, if it dies (out of memory) on the way.
  await inputCommitted(stack.brokers, t.group, t.transactions, [w]);
  const evictions = await summedMetric(w, 'skewless_state_cache_evictions_total');
  const cached = await summedMetric(w, 'skewless_state_cached_keys');
  const shortTimes = await summedMetric(w, 'skewless_heap_short_total');
  w.kill('SIGTERM');
  assert.equal(await exited(w), 0, w.log);
  // The default bound is 250,000 keys per group and task: only the heap's lowered it.
  assert.ok(evictions !== undefined && evictions > CARDS / 2, `keys evicted: ${evictions}`);
  assert.ok(cached !== undefined && cached < CARDS / 2, `keys cached at the end: ${cached}`);
  // Said once, with what to do; counted every time.
  const said = w.log.split('\n').filter((l) => l.includes('the heap is short'));
  assert.equal(said.length, 1, w.log);
  assert.match(said[0], /MiB of old generation in use\): .*--max-old-space-size.*--fetch-bytes/);
  assert.ok(shortTimes !== undefined && shortTimes >= 1, `heap short: ${shortTimes}`);

  const out = join(dir, 'replay');
  await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics, out, workers: 1 });
  const replayed = await readReplayVectors(out, output.name);
  assert.ok(replayed.size > EVENTS * 0.95, `replayed vectors: ${replayed.size}`);
  const c = compareVectors(await readLiveVectors(stack.brokers, stack.registryUrl, output, t.features), replayed, output);
  assert.deepEqual({ lost: c.lost, duplicates: c.duplicates, divergent: c.divergent, unexpected: c.unexpected, misplaced: c.misplaced }, { lost: 0, duplicates: 0, divergent: 0, unexpected: 0, misplaced: 0 }, c.examples.join('\n'));
  assert.equal(c.liveDistinct, replayed.size);
});
