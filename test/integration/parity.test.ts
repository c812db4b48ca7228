/**
 * Online/offline parity end to end on the local stack: `skewless run --parity-rate 0.3` writes
 * the served vectors of sampled keys to a parity log, killed with SIGKILL twice mid-stream and
 * restarted; `skewless parity` replays the source topics, pairs every sampled vector with its
 * recomputation and must find parity (exit 0, no mismatch; vectors served again after a crash
 * are identical duplicates). Then a simulated serving bug — a parity log whose txn_count_24h is one too high on
 * half the rows — must alert (exit 1) and name that feature.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SchemaRegistryClient } from '../../src/io/avro/registry-client.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { ensureTopic, fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { TopicProducer } from '../../src/io/kafka/topic-producer.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { ParityLogEncoder, readParityLog, type ParityEntry } from '../../src/parity/parity-log.js';
import type { ParityRunResult } from '../../src/parity/parity-run.js';
import { KeySampler } from '../../src/parity/sampler.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const PARTITIONS = 4;
const EVENTS = 6_000;
const RATE = 0.3;
const run = randomUUID().slice(0, 8);
const topics = {
  transactions: `parity-tx-${run}`,
  chargebacks: `parity-cb-${run}`,
  features: `parity-features-${run}`,
  daily: `parity-daily-${run}`,
  side: `parity-${run}`,
  parity: `parity-log-${run}`,
  skewed: `parity-log-skewed-${run}`,
  tiers: `parity-tiers-${run}`,
};
const dir = mkdtempSync(join(tmpdir(), 'skewless-parity-test-'));
const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
const parityFile = join(dir, 'parity', 'card-fraud.ndjson');

test.after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, [topics.transactions, topics.chargebacks, topics.features, topics.daily, `${topics.side}-late`, `${topics.side}-dead-letters`, topics.parity, topics.skewed, topics.tiers, `parity-${run}-${plan.version}-regroup`, `parity-${run}-${plan.version}-regroup-answers`]);
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function spawnCli(args: readonly string[]): { child: ChildProcess; done: Promise<Finished> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: stack.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<Finished>((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

async function parity(sampleTopic: string, extra: readonly string[] = []): Promise<{ code: number | null; result: ParityRunResult; stderr: string }> {
  const args = ['parity', 'topologies/card-fraud.ts', '--sample', sampleTopic, '--topic', `transactions=${topics.transactions}`, '--topic', `chargebacks=${topics.chargebacks}`, '--topic', `merchant_tiers=${topics.tiers}`, '--json', ...extra];
  const { done } = spawnCli(args);
  const f = await done;
  let result: ParityRunResult;
  try {
    result = JSON.parse(f.stdout) as ParityRunResult;
  } catch {
    assert.fail(`parity printed no JSON (exit ${f.code}): ${f.stderr}\n${f.stdout.slice(0, 2000)}`);
  }
  return { code: f.code, result, stderr: f.stderr };
}

async function outputCount(topic: string): Promise<number> {
  const c = await KafkaConnection.open({ brokers: stack.brokers });
  try {
    return (await fetchOffsets(c, topic).catch(() => [])).reduce((n, p) => n + p.high, 0);
  } finally {
    await c.close();
  }
}

test('sampled live vectors match their replay; a skewed serving path alerts and names the feature', { timeout: 240_000 }, async () => {
  const t0 = Date.now();
  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: EVENTS, seed: 11, format: 'ndjson' });
  const common = { plan, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl };
  await produceFile({ ...common, source: 'merchant_tiers', input: data.merchantTiersPath, topic: topics.tiers });
  await produceFile({ ...common, source: 'chargebacks', input: data.chargebacksPath, topic: topics.chargebacks });
  await produceFile({ ...common, source: 'transactions', input: data.transactionsPath, topic: topics.transactions });

  const workerArgs = [
    'run', 'topologies/card-fraud.ts', '--state', join(dir, 'state'), '--group', `parity-${run}`,
    '--topic', `transactions=${topics.transactions}`, '--topic', `merchant_tiers=${topics.tiers}`, '--output-topic', `card_features=${topics.features}`, '--output-topic', `card_daily_spend=${topics.daily}`,
    '--side-prefix', topics.side, '--parity-rate', String(RATE), '--parity-topic', topics.parity, '--parity-file', parityFile,
  ];
  // Two kill -9s mid-stream (small engine steps, so the kills land mid-backlog), then a clean stop.
  let kills = 0;
  for (const killAt of [EVENTS * 0.25, EVENTS * 0.6]) {
    const victim = spawnCli([...workerArgs, '--max-batch', '97']);
    const until = Date.now() + 90_000;
    while ((await outputCount(topics.features)) < killAt && Date.now() < until) await sleep(100);
    victim.child.kill('SIGKILL');
    const killed = await victim.done;
    if (killed.code === null) kills++;
  }
  assert.equal(kills, 2, 'both workers died by SIGKILL (not finished before)');
  const worker = spawnCli(workerArgs);
  // Caught up: the feature topic holds a vector for (nearly) every input and stops growing.
  const deadline = Date.now() + 120_000;
  let previous = -1;
  for (;;) {
    await sleep(1500);
    const n = await outputCount(topics.features);
    if ((n === previous && n >= EVENTS * 0.97) || Date.now() > deadline) break;
    previous = n;
  }
  worker.child.kill('SIGTERM');
  const stopped = await worker.done;
  assert.equal(stopped.code, 0, `worker exits cleanly on SIGTERM: ${stopped.stderr}`);
  const tLive = Date.now();

  // The log holds exactly the vectors of sampled keys, roughly RATE of them.
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  const registry = await SchemaRegistryClient.open(stack.registryUrl);
  const log = await readParityLog(conn, registry, topics.parity);
  const sampler = new KeySampler(RATE);
  assert.ok(log.entries.length > 0, 'non-empty sample');
  assert.equal(log.undecodable, 0);
  for (const e of log.entries) {
    assert.ok(sampler.selects(e.key), `${e.key} was sampled`);
    assert.equal(e.version, plan.version);
    assert.equal(e.topic, topics.transactions);
  }
  // Late records of sampled keys are marked in the log (the generator makes some hours late).
  assert.ok(log.late.length > 0, 'late markers for sampled keys');
  for (const l of log.late) assert.ok(sampler.selects(l.key), `late marker of sampled key ${l.key}`);
  const share = log.entries.length / (await outputCount(topics.features));
  assert.ok(share > RATE / 2 && share < Math.min(1, RATE * 2), `sampled share ${share}`);

  // Parity holds: every sampled vector paired, no mismatch, exit 0; the HTML report is self-contained.
  const html = join(dir, 'parity.html');
  const ok = await parity(topics.parity, ['--html', html]);
  assert.equal(ok.code, 0, `parity holds: ${JSON.stringify(ok.result.reasons)} ${ok.stderr}`);
  assert.equal(ok.result.alert, false);
  assert.equal(ok.result.sample.records, log.entries.length);
  assert.equal(ok.result.sample.matched, log.entries.length);
  assert.equal(ok.result.mismatchCount, 0);
  // Live and replay agree on which records were late. The merchant tiers are a second input of
  // each task, quiet once produced: transactions after its last version are released by merge
  // skips (afterMergeSkips counts them), which change nothing here since no version comes later.
  assert.equal(ok.result.sample.lateLive, log.late.length);
  assert.equal(ok.result.sample.lateLiveOnly, 0);
  assert.equal(ok.result.sample.lateOfflineOnly, 0);
  assert.ok(ok.result.report.features.some((f) => f.name === 'txn_count_24h'));
  for (const f of ok.result.report.features) assert.equal(f.rows.mismatchedRows, 0, f.name);
  assert.ok(existsSync(html));
  const page = readFileSync(html, 'utf8');
  assert.match(page, /<svg/);
  assert.doesNotMatch(page, /<script|<link|src="http|href="http/);

  // The local copy of the log gives the same sample (repeats after the kills dropped alike).
  const fromFile = await parity(parityFile);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  assert.equal(fromFile.result.sample.records, log.entries.length);
  assert.equal(fromFile.result.sample.lateLive, log.late.length);
  assert.equal(fromFile.result.mismatchCount, 0);

  // --since/--until select sampled vectors by event time.
  const times = log.entries.map((e) => e.eventTime).sort((a, b) => a - b);
  const since = times[Math.floor(times.length / 3)];
  const until = times[Math.floor((2 * times.length) / 3)];
  const windowed = await parity(topics.parity, ['--since', new Date(since).toISOString(), '--until', new Date(until).toISOString()]);
  assert.equal(windowed.code, 0, windowed.stderr);
  assert.equal(windowed.result.sample.records, log.entries.filter((e) => e.eventTime >= since && e.eventTime < until).length);
  const tParity = Date.now();

  // A serving bug: txn_count_24h one too high on every other sampled row, written with the same schema.
  await ensureTopic(conn, topics.skewed, PARTITIONS);
  const encoder = await ParityLogEncoder.open(registry, topics.skewed, plan.version, plan.topology.name);
  const producer = await TopicProducer.open(conn);
  let altered = 0;
  const skewedAt = new Set<number>();
  for (const [i, e] of log.entries.entries()) {
    const count = e.values.txn_count_24h;
    const skew = i % 2 === 0 && typeof count === 'number';
    if (skew) {
      altered++;
      skewedAt.add(i);
    }
    // Explanations: the first altered vector says it was served after merge skips. The live run
    // made merge skips of its own (the quiet tiers input): cleared here, so this one is the only one.
    const mergeSkips = i === 0 ? 2 : 0;
    await producer.add(topics.skewed, encoder.message(skew ? { ...e, values: { ...e.values, txn_count_24h: (count as number) + 1 }, mergeSkips } : { ...e, mergeSkips }));
  }
  const first = log.entries[0];
  assert.ok(skewedAt.has(0));
  // And a later altered vector gets a marker saying an earlier record of its key (one replay
  // processed normally) was late live.
  const before = (x: ParityEntry, e: ParityEntry): boolean => x.key === e.key && x.partition === e.partition && x.offset < e.offset && x.eventTime <= e.eventTime;
  const target = log.entries.find((e, i) => skewedAt.has(i) && i > 0 && log.entries.some((x) => before(x, e)));
  assert.ok(target, 'a skewed vector with an earlier vector of the same key');
  const earlier = log.entries.find((x) => before(x, target))!;
  for (const l of log.late) await producer.add(topics.skewed, encoder.lateMessage(l));
  await producer.add(topics.skewed, encoder.lateMessage({ topic: earlier.topic, partition: earlier.partition, offset: earlier.offset, eventTime: earlier.eventTime, version: earlier.version, key: earlier.key, reason: 'test marker' }));
  await producer.close();
  await conn.close();

  const bad = await parity(topics.skewed);
  assert.equal(bad.code, 1, `parity alerts: ${bad.stderr}`);
  assert.equal(bad.result.alert, true);
  assert.deepEqual(bad.result.report.summary.differingFeatures, ['txn_count_24h']);
  assert.ok(bad.result.reasons.some((r) => r.includes('txn_count_24h')), bad.result.reasons.join('\n'));
  assert.equal(bad.result.mismatchCount, altered);
  assert.ok(bad.result.mismatches.every((m) => m.feature === 'txn_count_24h'));
  assert.equal(bad.result.sample.afterMergeSkips, 1);
  assert.equal(bad.result.sample.lateLiveOnly, 1, 'only the test marker is late live but not in replay');
  const explained = (e: { partition: number; offset: number }): string | null => bad.result.mismatches.find((m) => m.partition === e.partition && m.offset === e.offset)?.explanation ?? null;
  assert.match(explained(first) ?? '', /served after live skipped an idle input .*\(2 merge skips on partition \d+\)/);
  assert.match(explained(target) ?? '', new RegExp(`late live but not in replay \\(1 record, first ${earlier.topic}/${earlier.partition}@${earlier.offset}\\)`));
  // Each cause is one group per feature, listed with its count and a few examples.
  const groups = bad.result.mismatchGroups;
  assert.equal(groups.reduce((n, g) => n + g.count, 0), altered);
  assert.ok(groups.every((g) => g.feature === 'txn_count_24h' && g.examples <= 5 && g.examples === Math.min(5, g.count)), JSON.stringify(groups));
  assert.ok(bad.result.explanations.some((x) => x.includes('merge skip')), bad.result.explanations.join('\n'));
  process.stderr.write(`parity test: data+live ${((tLive - t0) / 1000).toFixed(1)} s, parity ${((tParity - tLive) / 1000).toFixed(1)} s, skewed ${((Date.now() - tParity) / 1000).toFixed(1)} s, ${log.entries.length} sampled vectors\n`);
});
