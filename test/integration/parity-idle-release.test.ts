/**
 * The one place a live regrouped value may differ from replay, explained row by row by parity
 * (DESIGN.md, "Regrouping and features across entities": an upstream that stays idle is
 * handled by the idle rule, each release counted and explained by parity).
 *
 * test/fixtures/card-merchants.ts on two partitions, every card sampled, one merchant:
 *  1. both partitions send an hour of transactions, then go quiet;
 *  2. partition 0 alone sends two more hours: with partition 1 idle, the merchant's task
 *     releases past it and every row of partition 0 is served;
 *  3. partition 1 then sends one transaction inside those two hours (not late for its own
 *     task: its stream time is an hour behind). Replay counts it in the merchant features of
 *     every partition-0 row whose window holds it; live had answered those rows already.
 * Parity must find exactly those rows different (by a brute force over the transactions, not
 * the engine: one transaction fewer in live's merchant count) and explain every one of them by
 * the idle release, and nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import { kafkaPartition } from '../../src/io/partitioning.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { readLiveVectors, ROOT, spawnSkewless, stopLeftoverWorkers, until, type Worker } from '../helpers/live-run.js';
import { runParityCli } from '../helpers/parity-cli.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const TOPOLOGY = 'test/fixtures/card-merchants.ts';
const M = 60_000;
const T0 = Date.UTC(2026, 0, 5);
const LAG = M;
const HOUR = 60 * M;

const plan = await loadTopology(join(ROOT, TOPOLOGY));
const output = buildProgram(plan).outputs.find((o) => o.name === 'card_features')!;
const run = randomUUID().slice(0, 8);
const t = { transactions: `pidle-tx-${run}`, features: `pidle-features-${run}`, side: `pidle-${run}`, parity: `pidle-log-${run}`, group: `pidle-${run}` };
const dir = mkdtempSync(join(tmpdir(), 'skewless-parity-idle-'));
const workers: Worker[] = [];

test.after(async () => {
  await stopLeftoverWorkers(workers);
  rmSync(dir, { recursive: true, force: true });
  const internal = [`${t.group}-${plan.version}-changelog`, `${t.group}-${plan.version}-regroup`, `${t.group}-${plan.version}-regroup-answers`];
  await cleanUpKafka(stack.brokers, [t.transactions, t.features, `${t.side}-late`, `${t.side}-dead-letters`, t.parity, ...internal], [t.group]);
});

interface Txn {
  readonly txn_id: string;
  readonly card_id: string;
  readonly merchant_id: string;
  readonly amount: number;
  readonly currency: string;
  readonly amount_usd: number;
  readonly event_time: number;
  readonly country: string;
}

/** Three cards whose records land on `partition` of 2 (Kafka's default partitioner, as produce routes them). */
const cardsOn = (partition: number): string[] => {
  const cards: string[] = [];
  for (let i = 0; cards.length < 3; i++) if (kafkaPartition(`card-${i}`, 2) === partition) cards.push(`card-${i}`);
  return cards;
};
const cards = [cardsOn(0), cardsOn(1)];
let n = 0;
const txn = (partition: number, time: number, amount: number): Txn => {
  n++;
  return { txn_id: `t${n}`, card_id: cards[partition][n % 3], merchant_id: 'merchant-1', amount, currency: 'USD', amount_usd: amount, event_time: time, country: 'US' };
};

async function produce(name: string, txns: readonly Txn[]): Promise<void> {
  const input = join(dir, `${name}.ndjson`);
  writeFileSync(input, txns.map((x) => JSON.stringify(x)).join('\n') + '\n');
  await produceFile({ plan, partitions: 2, brokers: stack.brokers, registryUrl: stack.registryUrl, source: 'transactions', input, topic: t.transactions });
}

async function servedVectors(count: number, w: Worker): Promise<void> {
  await until(`${count} committed vectors`, [w], async () => new Set((await readLiveVectors(stack.brokers, stack.registryUrl, output, t.features)).map((v) => v.id)).size >= count, 120_000, 500);
}

test('parity explains each row that live answered before a quiet upstream sent an event inside its window, by the idle release, and only those', { timeout: 300_000 }, async () => {
  const phase1 = Array.from({ length: 60 }, (_, i) => txn(i % 2, T0 + i * M, 10 + (i % 7)));
  const phase2 = Array.from({ length: 120 }, (_, j) => txn(0, T0 + HOUR + j * M, 20 + (j % 5)));
  const quiet = txn(1, T0 + 100 * M, 1000);
  const all = [...phase1, ...phase2, quiet];

  await produce('phase1', phase1);
  const w = spawnSkewless(
    [
      'run', TOPOLOGY, '--state', join(dir, 'state'), '--group', t.group,
      '--topic', `transactions=${t.transactions}`, '--output-topic', `card_features=${t.features}`, '--side-prefix', t.side,
      '--parity-rate', '1', '--parity-topic', t.parity, '--idle-ms', '1000',
    ],
    stack.env,
  );
  workers.push(w);
  await servedVectors(phase1.length, w);
  await produce('phase2', phase2);
  // Every row of partition 0 served: the merchant's task released past partition 1, quiet since phase 1.
  await servedVectors(phase1.length + phase2.length, w);
  await produce('quiet', [quiet]);
  await servedVectors(all.length, w);
  w.kill('SIGTERM');

  const r = await runParityCli([TOPOLOGY, '--sample', t.parity, '--topic', `transactions=${t.transactions}`, '--tolerance', '0', '--json'], stack.env);
  assert.ok(r.result !== undefined, `${r.code} ${r.stderr}`);
  const res = r.result;
  assert.deepEqual({ records: res.sample.records, matched: res.sample.matched, mergeSkips: res.sample.afterMergeSkips }, { records: all.length, matched: all.length, mergeSkips: 0 });

  // Brute force: replay counts every transaction of the merchant in (qt − 1 h, qt]; live missed
  // the quiet one in the rows of phase 2 it had answered before that transaction came.
  const replayCount = (x: Txn): number => all.filter((y) => y.event_time > x.event_time - LAG - HOUR && y.event_time <= x.event_time - LAG).length;
  const missed = phase2.filter((x) => quiet.event_time > x.event_time - LAG - HOUR && quiet.event_time <= x.event_time - LAG);
  assert.ok(missed.length >= 50, `${missed.length} rows`);
  const groups = res.mismatchGroups.filter((g) => g.feature === 'merchant_txns_1h');
  assert.equal(groups.length, 1, JSON.stringify(res.mismatchGroups));
  assert.equal(groups[0].count, missed.length, 'exactly the rows whose window holds the quiet transaction');
  assert.match(groups[0].cause ?? 'unexplained', /^its regrouped features were answered after live released past a quiet upstream/);
  for (const m of res.mismatches.filter((x) => x.feature === 'merchant_txns_1h')) {
    const x = phase2.find((y) => y.event_time === m.eventTime)!;
    assert.deepEqual({ online: m.online, offline: m.offline }, { online: replayCount(x) - 1, offline: replayCount(x) }, `row at ${new Date(m.eventTime).toISOString()}`);
  }
  // The mean over 24 h moved in every row whose 24 h window holds it, for the same reason; the card's own count did not.
  const missedMean = phase2.filter((x) => quiet.event_time > x.event_time - LAG - 24 * HOUR && quiet.event_time <= x.event_time - LAG);
  const mean = res.mismatchGroups.filter((g) => g.feature === 'merchant_amount_mean_24h');
  assert.deepEqual(mean.map((g) => [g.count, /idle release/.test(g.cause ?? '')]), [[missedMean.length, true]]);
  assert.equal(res.mismatchGroups.filter((g) => g.feature === 'txn_count_1h').length, 0);
  assert.ok(res.sample.afterIdleReleases >= missed.length, `${res.sample.afterIdleReleases} vectors answered after idle releases`);
  assert.ok(res.explanations.some((e) => /answered after live released past a quiet upstream/.test(e)), JSON.stringify(res.explanations));
});
