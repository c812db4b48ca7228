/**
 * As-of lookups in the card-limits table (docs/examples/card-limits.ts) end to end on the local
 * stack: file replay with 1, 3 and 8 partitions gives bit-identical values per transaction
 * (lookups everywhere; card features where lateness, decided per task, agrees), equal to a brute force over the limits file; replay from Kafka equals the file
 * replay byte for byte; and a live worker serves exactly the vectors the Kafka replay computes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import type { CardLimit } from '../../src/gen/card-limits.js';
import type { CardTransaction } from '../../src/gen/card-transactions.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { kafkaPartition } from '../../src/io/partitioning.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { compareVectors, exited, readLiveVectors, readReplayVectors, ROOT, sleep, spawnSkewless } from '../helpers/live-run.js';
import { stackForTests } from '../helpers/stack.js';
import { assertSameTraining } from '../helpers/training-files.js';

const stack = await stackForTests();
const EVENTS = 8000;
const DAY = 86_400_000;
const run = randomUUID().slice(0, 8);
const topics = { transactions: `limits-tx-${run}`, card_limits: `limits-table-${run}`, features: `limits-features-${run}`, side: `limits-${run}` };
const dir = mkdtempSync(join(tmpdir(), 'skewless-limits-'));
const plan = await loadTopology(join(ROOT, 'docs/examples/card-limits.ts'));
const output = buildProgram(plan).outputs[0];

test.after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, [topics.transactions, topics.card_limits, topics.features, `${topics.side}-late`, `${topics.side}-dead-letters`], [`limits-${run}`]);
});

const readNdjson = <T>(path: string): T[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);

const data = await writeCardDataset({ outDir: join(dir, 'data'), events: EVENTS, seed: 11, format: 'ndjson' });
const txns = readNdjson<CardTransaction>(data.transactionsPath);
const limits = readNdjson<CardLimit>(data.cardLimitsPath);
const inputs = { transactions: data.transactionsPath, card_limits: data.cardLimitsPath };

/** Each transaction's (partition, offset) when the file is split into n partitions by card, as a keyed topic would be. */
function positions(n: number): string[] {
  const next = new Array<number>(n).fill(0);
  return txns.map((x) => {
    const p = kafkaPartition(x.card_id, n);
    return `${p}/${next[p]++}`;
  });
}

test('file replay with 1, 3 and 8 partitions: the lookups equal a brute force over the limits file, bit for bit the same per transaction', { timeout: 180_000 }, async () => {
  const brute = (card: string, qt: number): number | null => {
    let best: CardLimit | null = null;
    for (const l of limits) if (l.card_id === card && l.valid_from <= qt && (best === null || l.valid_from >= best.valid_from)) best = l;
    return best?.limit_usd ?? null;
  };
  const byTxn: Array<Map<number, Record<string, unknown>>> = [];
  for (const n of [1, 3, 8]) {
    const out = join(dir, `files-${n}`);
    const summary = await replayFiles({ plan, inputs, partitions: n, out, workers: 1 });
    assert.equal(summary.deadLetters.count, 0);
    const rows = await readReplayVectors(out, output.name);
    const where = positions(n);
    const m = new Map<number, Record<string, unknown>>();
    where.forEach((id, i) => {
      const r = rows.get(id);
      if (r) m.set(i, r);
    });
    assert.ok(m.size > EVENTS * 0.99, `${n} partitions: ${m.size} rows`);
    byTxn.push(m);
  }
  // A transaction late with one partitioning but not another (stream time is per task) changes its
  // card's window features: those cards' own features are compared only where no run dropped one.
  const cardsWithLate = new Set(txns.filter((_, i) => byTxn.some((m) => !m.has(i))).map((x) => x.card_id));
  const lookupColumns = new Set(['credit_limit', 'credit_limit_1d_ago', 'amount_to_limit']);
  let compared = 0;
  let changedWithinData = 0;
  for (const [i, row] of byTxn[0]) {
    const x = txns[i];
    const limit = brute(x.card_id, x.event_time);
    assert.equal(row.credit_limit, limit, `txn ${i}`);
    assert.equal(row.credit_limit_1d_ago, brute(x.card_id, x.event_time - DAY), `txn ${i}, a day earlier`);
    assert.equal(row.amount_to_limit, limit === null ? null : x.amount_usd / limit, `txn ${i}, amount / limit`);
    if (row.credit_limit !== row.credit_limit_1d_ago) changedWithinData++;
    for (const other of byTxn.slice(1)) {
      const r = other.get(i);
      if (r === undefined) continue; // late with this partitioning (stream time is per task)
      for (const c of output.columns) {
        if (!lookupColumns.has(c.name) && cardsWithLate.has(x.card_id)) continue;
        assert.ok(Object.is(r[c.name], row[c.name]), `txn ${i}, ${c.name}: ${String(r[c.name])} vs ${String(row[c.name])}`);
      }
      compared++;
    }
  }
  assert.ok(compared > 2 * EVENTS * 0.98, `compared ${compared} rows`);
  assert.ok(cardsWithLate.size < 40, `cards with a transaction late in some partitioning: ${cardsWithLate.size}`);
  assert.ok(changedWithinData > 20, `limits that changed within a day of a transaction: ${changedWithinData}`);
});

test('replay from Kafka equals the file replay byte for byte, and a live worker serves exactly those vectors', { timeout: 240_000 }, async () => {
  const PARTITIONS = 3;
  // The table first: live then has every version before the transactions come (an idle table is skipped only once caught up).
  await produceFile({ plan, source: 'card_limits', input: data.cardLimitsPath, topic: topics.card_limits, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });
  await produceFile({ plan, source: 'transactions', input: data.transactionsPath, topic: topics.transactions, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });

  const files = join(dir, 'files-kafka-ref');
  await replayFiles({ plan, inputs, partitions: PARTITIONS, out: files, workers: 1 });
  const fromKafka = join(dir, 'kafka');
  const summary = await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: { transactions: topics.transactions, card_limits: topics.card_limits }, out: fromKafka, workers: 1 });
  assert.equal(summary.counters.processed, EVENTS + limits.length);
  await assertSameTraining(files, fromKafka, PARTITIONS);

  const args = ['run', 'docs/examples/card-limits.ts', '--state', join(dir, 'state'), '--group', `limits-${run}`, '--max-batch', '37'];
  args.push('--topic', `transactions=${topics.transactions}`, '--topic', `card_limits=${topics.card_limits}`, '--output-topic', `card_limit_features=${topics.features}`, '--side-prefix', topics.side);
  const worker = spawnSkewless(args, stack.env);
  const expected = summary.counters.emitted;
  const deadline = Date.now() + 150_000;
  // Not the topic's end offsets: they count transaction markers too, so they reach `expected`
  // while a task whose transactions wait in the merge for the idle table's skip (about 5 s of
  // idleness) has yet to commit them. Wait for the committed vectors themselves.
  const committed = async (): Promise<number> => new Set((await readLiveVectors(stack.brokers, stack.registryUrl, output, topics.features)).map((v) => v.id)).size;
  while ((await committed().catch(() => 0)) < expected && Date.now() < deadline) await sleep(1000);
  worker.kill('SIGTERM');
  assert.equal(await exited(worker), 0, `worker exits cleanly on SIGTERM: ${worker.log}`);

  const live = await readLiveVectors(stack.brokers, stack.registryUrl, output, topics.features);
  const c = compareVectors(live, await readReplayVectors(fromKafka, output.name), output);
  assert.equal(c.liveDistinct, c.expected, `live vectors ${c.liveDistinct} vs replayed ${c.expected}\n${worker.log}`);
  assert.deepEqual({ lost: c.lost, unexpected: c.unexpected, divergent: c.divergent, duplicatesDiffering: c.duplicatesDiffering }, { lost: 0, unexpected: 0, divergent: 0, duplicatesDiffering: 0 }, c.examples.join('\n'));
  assert.ok(c.valuesCompared > EVENTS * output.columns.length * 0.9, `compared ${c.valuesCompared} values`);
});
