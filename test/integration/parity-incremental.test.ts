/**
 * `skewless parity --state` as an hourly job (issue: bounded parity): the first run replays the
 * history once, later runs only what is new, and every sampled vector is checked exactly as a
 * full replay would check it (tolerance 0: the recomputation equals what live served, bit for
 * bit). The input runs ahead of the live worker when the first check runs, so the check must
 * not move its state past what the parity log holds, or the vectors served later would be
 * taken as checked without ever being compared.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { SchemaRegistryClient } from '../../src/io/avro/registry-client.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { readParityLog } from '../../src/parity/parity-log.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { exited, ROOT, sleep, spawnSkewless, topicEndOffsets } from '../helpers/live-run.js';
import { runParityCli, type ParityCliRun } from '../helpers/parity-cli.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const PARTITIONS = 3;
const RATE = 0.3;
const run = randomUUID().slice(0, 8);
const topics = { transactions: `pinc-tx-${run}`, chargebacks: `pinc-cb-${run}`, features: `pinc-features-${run}`, daily: `pinc-daily-${run}`, side: `pinc-${run}`, parity: `pinc-log-${run}` };
const dir = mkdtempSync(join(tmpdir(), 'skewless-parity-inc-'));
// --state is for topologies without a regrouping (a regrouped one is refused: parity-regrouped.test.ts):
// card-fraud's card features alone.
const TOPOLOGY = 'test/fixtures/card-only.ts';
const plan = await loadTopology(join(ROOT, TOPOLOGY));

test.after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, [topics.transactions, topics.chargebacks, topics.features, topics.daily, `${topics.side}-late`, `${topics.side}-dead-letters`, topics.parity]);
});

function parity(extra: readonly string[]): Promise<ParityCliRun> {
  const args = [TOPOLOGY, '--sample', topics.parity, '--topic', `transactions=${topics.transactions}`, '--topic', `chargebacks=${topics.chargebacks}`, '--tolerance', '0', '--json', ...extra];
  return runParityCli(args, stack.env);
}

/** Runs the live worker until it has served every vector it will for the produced input, then stops it. */
async function serve(produced: number): Promise<void> {
  const worker = spawnSkewless(
    [
      'run', TOPOLOGY, '--state', join(dir, 'live-state'), '--group', `pinc-${run}`,
      '--topic', `transactions=${topics.transactions}`, '--output-topic', `card_features=${topics.features}`, '--output-topic', `card_daily_spend=${topics.daily}`,
      '--side-prefix', topics.side, '--parity-rate', String(RATE), '--parity-topic', topics.parity,
    ],
    stack.env,
  );
  const deadline = Date.now() + 120_000;
  let previous = -1;
  for (;;) {
    await sleep(1500);
    const n = await topicEndOffsets(stack.brokers, topics.features);
    if ((n === previous && n >= produced * 0.97) || Date.now() > deadline) break;
    previous = n;
  }
  worker.kill('SIGTERM');
  assert.equal(await exited(worker), 0, worker.log);
}

function split(file: string): [string, string] {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const half = Math.floor(lines.length / 2);
  const a = join(dir, 'tx-a.ndjson');
  const b = join(dir, 'tx-b.ndjson');
  writeFileSync(a, `${lines.slice(0, half).join('\n')}\n`);
  writeFileSync(b, `${lines.slice(half).join('\n')}\n`);
  return [a, b];
}

test('parity --state checks every sampled vector once, replaying only new input, exactly as a full replay', { timeout: 300_000 }, async () => {
  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: 4000, seed: 23, format: 'ndjson' });
  const common = { plan, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl };
  await produceFile({ ...common, source: 'chargebacks', input: data.chargebacksPath, topic: topics.chargebacks });
  const [a, b] = split(data.transactionsPath);
  const first = (await produceFile({ ...common, source: 'transactions', input: a, topic: topics.transactions })).produced;
  await serve(first);
  // The input runs ahead of live: the second half is in the topic, not yet served.
  const second = (await produceFile({ ...common, source: 'transactions', input: b, topic: topics.transactions })).produced;

  const state = join(dir, 'parity-state');
  const r1 = await parity(['--state', state, '--parity-rate', String(RATE)]);
  assert.equal(r1.code, 0, `${r1.stderr} ${JSON.stringify(r1.result?.reasons)}`);
  assert.equal(r1.result!.mismatchCount, 0);
  assert.equal(r1.result!.sample.matched, r1.result!.sample.records);

  await serve(first + second);
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  const log = await readParityLog(conn, await SchemaRegistryClient.open(stack.registryUrl), topics.parity);
  await conn.close();

  const r2 = await parity(['--state', state, '--parity-rate', String(RATE)]);
  assert.equal(r2.code, 0, `${r2.stderr} ${JSON.stringify(r2.result?.reasons)}`);
  const s2 = r2.result!.sample;
  assert.equal(r2.result!.mismatchCount, 0);
  assert.equal(s2.matched, s2.records);
  assert.equal(s2.lateLiveOnly, 0);
  assert.equal(s2.lateOfflineOnly, 0);
  // No vector fell between the runs: together they checked every one the log holds.
  assert.ok(r1.result!.sample.records + s2.records >= log.entries.length, `${r1.result!.sample.records} + ${s2.records} of ${log.entries.length}`);
  assert.ok(s2.records < log.entries.length, 'the second run does not check the first run’s vectors again');
  assert.ok(r2.result!.explanations.some((x) => x.includes('checked by an earlier run')), r2.result!.explanations.join('\n'));
  // ... and read only the input after the first run's frontier.
  assert.ok(r2.result!.replayedRecords! <= second + first * 0.1, `second run replayed ${r2.result!.replayedRecords} records (${second} new)`);

  // A full check of the whole log agrees, and reads all history.
  const full = await parity([]);
  assert.equal(full.code, 0, full.stderr);
  assert.equal(full.result!.sample.matched, log.entries.length);
  assert.equal(full.result!.mismatchCount, 0);
  assert.equal(full.result!.replayedRecords, first + second);

  // The state is only continued with the rate it was built for.
  const other = await parity(['--state', state, '--parity-rate', '0.5']);
  assert.equal(other.code, 2);
  assert.match(other.stderr, /was computed for .*--parity-rate 0\.3.*pass a new --state/);
  const tooLow = await parity(['--state', join(dir, 'other-state'), '--parity-rate', '0.1']);
  assert.equal(tooLow.code, 2);
  assert.match(tooLow.stderr, /is not selected at --parity-rate 0\.1/);
});
