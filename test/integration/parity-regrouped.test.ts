/**
 * Parity of a regrouped topology end to end on the stack: test/fixtures/card-merchants.ts (a
 * card's own 1 h count and, through regroupBy('merchant'), its merchant's count and mean amount
 * as of 1 minute before). `skewless run --parity-rate` is killed with SIGKILL mid-stream and
 * restarted. The regrouped rows leave the row assembler in an answers batch, not in the input
 * batch that computed the card's part, so the parity log must still hold exactly the committed
 * vectors of the sampled keys, each once, with the merchant features the worker served. Then
 * `skewless parity` (rows for the sampled cards only, while every card's transactions still feed
 * the merchants' state: a sampled card's merchant features count other cards' transactions)
 * must pair every sampled vector with tolerance 0. And it must fail when it should: one tampered merchant value is the one mismatch, and
 * the same log checked against the topology with a 30-minute merchant lag
 * (test/fixtures/card-merchants-stale.ts) differs in the merchant features only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { SchemaRegistryClient } from '../../src/io/avro/registry-client.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { ensureTopic } from '../../src/io/kafka/topic-admin.js';
import { TopicProducer } from '../../src/io/kafka/topic-producer.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { ParityLogEncoder, readParityFile, readParityLog, type ParityEntry, type ParityLogContents } from '../../src/parity/parity-log.js';
import { KeySampler } from '../../src/parity/sampler.js';
import { formatParityTerminal } from '../../src/parity/terminal-report.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { exited, readLiveVectors, readReplayVectors, ROOT, spawnSkewless, stopLeftoverWorkers, topicEndOffsets, until, type Worker } from '../helpers/live-run.js';
import { servedAll as servedEvery } from '../helpers/live-served.js';
import { runParityCli, type ParityCliRun } from '../helpers/parity-cli.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const TOPOLOGY = 'test/fixtures/card-merchants.ts';
const STALE = 'test/fixtures/card-merchants-stale.ts';
const PARTITIONS = 3;
const EVENTS = 6_000;
const RATE = 0.3;
/** The merchant features: what the regrouping computes. */
const REGROUPED = ['merchant_txns_1h', 'merchant_amount_mean_24h'];
const FEATURES = ['txn_count_1h', ...REGROUPED];

const plan = await loadTopology(join(ROOT, TOPOLOGY));
const output = buildProgram(plan).outputs.find((o) => o.name === 'card_features')!;
const run = randomUUID().slice(0, 8);
const t = {
  transactions: `pregroup-tx-${run}`,
  features: `pregroup-features-${run}`,
  side: `pregroup-${run}`,
  parity: `pregroup-log-${run}`,
  tampered: `pregroup-log-tampered-${run}`,
  group: `pregroup-${run}`,
};
const dir = mkdtempSync(join(tmpdir(), 'skewless-parity-regrouped-'));
const parityFile = join(dir, 'parity.ndjson');
const workers: Worker[] = [];

test.after(async () => {
  await stopLeftoverWorkers(workers);
  rmSync(dir, { recursive: true, force: true });
  const internal = [`${t.group}-${plan.version}-changelog`, `${t.group}-${plan.version}-regroup`, `${t.group}-${plan.version}-regroup-answers`];
  await cleanUpKafka(stack.brokers, [t.transactions, t.features, `${t.side}-late`, `${t.side}-dead-letters`, t.parity, t.tampered, ...internal], [t.group]);
});

function worker(extra: readonly string[] = []): Worker {
  const w = spawnSkewless(
    [
      'run', TOPOLOGY, '--state', join(dir, 'state'), '--group', t.group,
      '--topic', `transactions=${t.transactions}`, '--output-topic', `card_features=${t.features}`, '--side-prefix', t.side,
      '--parity-rate', String(RATE), '--parity-topic', t.parity, '--parity-file', parityFile,
      // The last rows wait for every task to be caught up and quiet this long; failover within seconds of the kill.
      '--idle-ms', '1000', '--session-timeout-ms', '6000', '--metrics-port', '0',
      ...extra,
    ],
    stack.env,
  );
  workers.push(w);
  return w;
}

/**
 * Every row the offline replay of the same topic computes has a committed vector. Neither
 * committed input offsets nor the worker's waiting-rows gauge say so: after a kill, the dead
 * worker may have committed every input offset with rows still waiting for their merchant
 * features, and a restarted worker's gauge reads 0 until it has restored the task holding them.
 */
async function servedAll(w: Worker, replayed: Iterable<string>): Promise<void> {
  await servedEvery({ brokers: stack.brokers, registryUrl: stack.registryUrl, output, topic: t.features, expected: replayed, workers: [w] });
}

const parity = (topology: string, sample: string, extra: readonly string[] = []): Promise<ParityCliRun> =>
  runParityCli([topology, '--sample', sample, '--topic', `transactions=${t.transactions}`, '--tolerance', '0', '--json', ...extra], stack.env);

const positionOf = (e: { partition: number; offset: number }): string => `${e.partition}/${e.offset}`;

/** A value as the feature record and the parity log both carry it (a long may come back as a bigint). */
const plain = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : (v ?? null));

/** Write `log` to `topic` as a live worker would, with `change` applied to each entry. */
async function writeLog(conn: KafkaConnection, registry: SchemaRegistryClient, topic: string, log: ParityLogContents, change: (e: ParityEntry) => ParityEntry): Promise<void> {
  await ensureTopic(conn, topic, PARTITIONS);
  const encoder = await ParityLogEncoder.open(registry, topic, plan.version, plan.topology.name);
  const producer = await TopicProducer.open(conn);
  for (const e of log.entries) await producer.add(topic, encoder.message(change(e)));
  for (const l of log.late) await producer.add(topic, encoder.lateMessage(l));
  await producer.close();
}

test('parity of a regrouped topology: every sampled vector, merchant features included, equals its sampled replay; a tampered value and another lag are caught', { timeout: 420_000 }, async () => {
  // About 20 transactions per card a day over 60 cards and 50 merchants: a merchant's 1 h count is often above 0.
  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: EVENTS, seed: 29, format: 'ndjson', txnsPerCardPerDay: 20 });
  await produceFile({ plan, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl, source: 'transactions', input: data.transactionsPath, topic: t.transactions });
  // The rows to serve: a vector for every transaction but those late for their partition.
  await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: { transactions: t.transactions }, out: join(dir, 'replay'), workers: 1 });
  const replayed = [...(await readReplayVectors(join(dir, 'replay'), output.name)).keys()];

  // A SIGKILL mid-stream (small steps, so it lands mid-backlog): its open transactions, with
  // their vectors and parity samples, must vanish as a whole; the restart serves them again.
  const victim = worker(['--max-batch', '97']);
  await until('the first vectors', [victim], async () => (await topicEndOffsets(stack.brokers, t.features)) > EVENTS * 0.3, 120_000);
  victim.kill('SIGKILL');
  assert.equal(await exited(victim), null, 'the first worker died by the SIGKILL, not before');
  const survivor = worker();
  await servedAll(survivor, replayed);
  survivor.kill('SIGTERM');
  assert.equal(await exited(survivor), 0, survivor.log);

  // The log holds exactly the committed vectors of sampled keys, each once, as served.
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  const registry = await SchemaRegistryClient.open(stack.registryUrl);
  const log = await readParityLog(conn, registry, t.parity);
  const sampler = new KeySampler(RATE);
  const live = await readLiveVectors(stack.brokers, stack.registryUrl, output, t.features);
  assert.ok(live.every((v) => v.value !== undefined), 'every vector decodes');
  assert.equal(new Set(live.map((v) => v.id)).size, live.length, 'one committed vector per input record');
  assert.deepEqual(live.map((v) => v.id).sort(), replayed.sort(), 'a vector for every row the replay computes, no other');
  const sampled = new Map(live.filter((v) => sampler.selects(String(v.value!.key))).map((v) => [v.id, v.value!]));
  assert.deepEqual({ undecodable: log.undecodable, duplicates: log.duplicates }, { undecodable: 0, duplicates: 0 });
  assert.ok(log.entries.length > 500, `${log.entries.length} sampled vectors`);
  assert.deepEqual(log.entries.map(positionOf).sort(), [...sampled.keys()].sort(), 'the log holds the vectors of sampled keys, no more, no less');
  for (const e of log.entries) {
    assert.equal(e.version, plan.version);
    const served = sampled.get(positionOf(e))!;
    for (const f of FEATURES) assert.deepEqual(plain(e.values[f]), plain(served[f]), `${f} at ${positionOf(e)}`);
  }
  // The regrouped columns carry values, not nulls.
  const merchantCounted = log.entries.filter((e) => typeof e.values.merchant_txns_1h === 'number' && e.values.merchant_txns_1h > 0).length;
  const merchantMean = log.entries.filter((e) => typeof e.values.merchant_amount_mean_24h === 'number').length;
  assert.ok(merchantCounted > log.entries.length / 4, `${merchantCounted} of ${log.entries.length} sampled vectors count merchant transactions`);
  assert.ok(merchantMean > log.entries.length / 2, `${merchantMean} of ${log.entries.length} sampled vectors have a merchant mean`);
  // The local copy holds the same vectors (lines of a killed batch written again are dropped as repeats).
  assert.deepEqual(readParityFile(parityFile).entries.map(positionOf).sort(), log.entries.map(positionOf).sort());

  // Parity holds bit for bit.
  const html = join(dir, 'parity.html');
  const ok = await parity(TOPOLOGY, t.parity, ['--html', html]);
  assert.equal(ok.code, 0, `parity holds: ${ok.stderr} ${JSON.stringify(ok.result?.reasons)} ${JSON.stringify(ok.result?.mismatches.slice(0, 3))}`);
  const r = ok.result!;
  assert.deepEqual(
    { records: r.sample.records, matched: r.sample.matched, missingOffline: r.sample.missingOffline, mismatches: r.mismatchCount, lateLiveOnly: r.sample.lateLiveOnly, lateOfflineOnly: r.sample.lateOfflineOnly },
    { records: log.entries.length, matched: log.entries.length, missingOffline: 0, mismatches: 0, lateLiveOnly: 0, lateOfflineOnly: 0 },
  );
  assert.equal(r.replayedRecords, EVENTS, 'every input record replayed');
  for (const f of FEATURES) {
    const report = r.report.features.find((x) => x.name === f);
    assert.deepEqual({ total: report?.rows.total, mismatched: report?.rows.mismatchedRows }, { total: log.entries.length, mismatched: 0 }, f);
  }
  assert.doesNotMatch(formatParityTerminal(r), /full replay/);
  assert.match(readFileSync(html, 'utf8'), /merchant_txns_1h/);

  // An incremental check cannot keep regrouped state: refused in one line, saying what to do.
  const incremental = await parity(TOPOLOGY, t.parity, ['--state', join(dir, 'parity-state'), '--parity-rate', String(RATE)]);
  assert.equal(incremental.code, 2);
  assert.match(incremental.stderr.trim(), /^skewless: topology card-merchants regroups by another entity \(group merchant\), and parity --state cannot keep regrouped state between runs: drop --state and --parity-rate/);

  // One merchant count off by one in the log is the one mismatch, found where it was made.
  const target = log.entries.find((e) => typeof e.values.merchant_txns_1h === 'number' && e.values.merchant_txns_1h > 0)!;
  const served = target.values.merchant_txns_1h as number;
  await writeLog(conn, registry, t.tampered, log, (e) => (e === target ? { ...e, values: { ...e.values, merchant_txns_1h: served + 1 } } : e));
  await conn.close();
  const tampered = await parity(TOPOLOGY, t.tampered);
  assert.equal(tampered.result?.mismatchCount, 1, `${tampered.stderr} ${JSON.stringify(tampered.result?.mismatches)}`);
  const [m] = tampered.result!.mismatches;
  assert.deepEqual(
    { feature: m.feature, partition: m.partition, offset: m.offset, online: m.online, offline: m.offline },
    { feature: 'merchant_txns_1h', partition: target.partition, offset: target.offset, online: served + 1, offline: served },
  );

  // The topology with merchant features as of 30 minutes instead of 1: the merchant features
  // differ, the card's own count does not.
  const stale = await parity(STALE, t.parity);
  assert.equal(stale.code, 1, `${stale.stderr} ${JSON.stringify(stale.result?.reasons)}`);
  const s = stale.result!;
  assert.equal(s.sample.otherVersion, log.entries.length, 'every vector was served by the 1-minute version');
  const mismatched = (f: string): number => s.report.features.find((x) => x.name === f)!.rows.mismatchedRows;
  assert.equal(mismatched('txn_count_1h'), 0);
  for (const f of REGROUPED) assert.ok(mismatched(f) > 0, `${f}: ${mismatched(f)} mismatches`);
  assert.ok(s.report.summary.differingFeatures.includes('merchant_txns_1h'), JSON.stringify(s.report.summary.differingFeatures));
  process.stderr.write(
    `parity-regrouped: ${log.entries.length} sampled vectors of ${EVENTS} events; parity ${r.seconds.toFixed(1)} s in the command, ${ok.seconds.toFixed(1)} s wall; ` +
      `tampered ${tampered.seconds.toFixed(1)} s, stale ${stale.seconds.toFixed(1)} s wall; ${merchantCounted} with merchant_txns_1h > 0\n`,
  );
});
