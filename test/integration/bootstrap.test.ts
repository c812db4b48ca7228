/**
 * Bootstrap end to end on the local stack: `skewless bootstrap --no-run` replays the history
 * of a topic into fresh state and sets the consumer group's offsets to the end of that
 * history; `skewless run` on the same state and group then starts at exactly the next
 * offsets. Its output topic must hold vectors for the new records only (none re-emitted for
 * the history) and each must equal, bit for bit, what a full replay of the whole topic
 * computes for that (partition, offset): the bootstrapped state is the replayed state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetReadObjects } from 'hyparquet';
import { buildProgram } from '../../src/engine/program.js';
import { featureRecordSchema } from '../../src/io/avro/feature-record-schema.js';
import { SchemaRegistryClient } from '../../src/io/avro/registry-client.js';
import { WireDecoder } from '../../src/io/avro/wire-decoder.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { commitGroupOffsets, fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { readTopicRanges } from '../../src/io/kafka/topic-reader.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { readCheckpoints } from '../../src/modes/bootstrap.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const PARTITIONS = 4;
const HISTORY = 8_000;
const NEW = 2_000;
const run = randomUUID().slice(0, 8);
const topics = {
  transactions: `boot-tx-${run}`,
  chargebacks: `boot-cb-${run}`,
  features: `boot-features-${run}`,
  daily: `boot-daily-${run}`,
  side: `boot-${run}`,
};
const group = `boot-${run}`;
const dir = mkdtempSync(join(tmpdir(), 'skewless-bootstrap-'));
const state = join(dir, 'state');
const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
const output = buildProgram(plan).outputs[0];
const topicFlags = ['--topic', `transactions=${topics.transactions}`, '--topic', `chargebacks=${topics.chargebacks}`];

test.after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, [topics.transactions, topics.chargebacks, topics.features, topics.daily, `${topics.side}-late`, `${topics.side}-dead-letters`], [group]);
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function skewless(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: stack.env, timeout: 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const exited = (c: ChildProcess): Promise<number | null> => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve(c.exitCode) : new Promise((r) => c.once('exit', (code) => r(code))));

async function withKafka<T>(fn: (conn: KafkaConnection) => Promise<T>): Promise<T> {
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

const topicEnds = (): Promise<Map<number, number>> => withKafka(async (c) => new Map((await fetchOffsets(c, topics.transactions)).map((p) => [p.partition, p.high])));
const groupOffsets = (): Promise<Map<number, number>> =>
  withKafka(async (c) => new Map((await commitGroupOffsets(c, group, topics.transactions, [])).previous.map((p) => [p.partition, p.offset])));

test('bootstrap hands off to live at the exact next offsets; live vectors for new records equal a full replay', { timeout: 300_000 }, async () => {
  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: HISTORY + NEW, seed: 11, format: 'ndjson' });
  const lines = readFileSync(data.transactionsPath, 'utf8').split('\n').filter((l) => l !== '');
  assert.equal(lines.length, HISTORY + NEW);
  const historyFile = join(dir, 'history.ndjson');
  const newFile = join(dir, 'new.ndjson');
  writeFileSync(historyFile, `${lines.slice(0, HISTORY).join('\n')}\n`);
  writeFileSync(newFile, `${lines.slice(HISTORY).join('\n')}\n`);
  const produce = (source: string, input: string, topic: string) =>
    produceFile({ plan, source, input, topic, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });
  await produce('chargebacks', data.chargebacksPath, topics.chargebacks);
  await produce('transactions', historyFile, topics.transactions);

  // Bootstrap without running live.
  const boot = await skewless(['bootstrap', 'topologies/card-fraud.ts', '--state', state, '--group', group, ...topicFlags, '--no-run', '--json']);
  assert.equal(boot.code, 0, boot.stderr);
  const summary = JSON.parse(boot.stdout) as { version: string; group: string; out?: string; offsets: Array<{ topic: string; partition: number; offset: number }>; replay: { counters: { processed: number } } };
  assert.equal(summary.version, plan.version);
  assert.equal(summary.group, group);
  assert.equal(summary.out, undefined, 'training output was temporary');
  assert.equal(summary.replay.counters.processed, HISTORY);

  const boundary = await topicEnds();
  assert.equal([...boundary.values()].reduce((a, b) => a + b, 0), HISTORY);
  assert.equal(boundary.size, PARTITIONS);
  assert.deepEqual(await groupOffsets(), boundary, 'group offsets = topic end offsets');
  assert.deepEqual(new Map(summary.offsets.map((o) => [o.partition, o.offset])), boundary, 'reported offsets = topic end offsets');
  const metas = await readCheckpoints(state);
  assert.equal(metas.size, PARTITIONS);
  for (const [p, m] of metas) {
    assert.equal(m.version, plan.version);
    assert.equal(m.positions.transactions, boundary.get(p), `partition ${p}: checkpoint position at the snapshot end`);
    assert.equal(m.counters.processed, boundary.get(p), `partition ${p}: every history record applied once`);
  }

  // Refusals: a state dir with task state, and a group that already has offsets.
  const again = await skewless(['bootstrap', 'topologies/card-fraud.ts', '--state', state, '--group', group, ...topicFlags, '--no-run']);
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /already holds task state.*skewless run/);
  const otherState = join(dir, 'state-2');
  const sameGroup = await skewless(['bootstrap', 'topologies/card-fraud.ts', '--state', otherState, '--group', group, ...topicFlags, '--no-run']);
  assert.notEqual(sameGroup.code, 0);
  assert.match(sameGroup.stderr, /consumer group ".*" already has committed offsets.*--force/);
  assert.equal(existsSync(otherState) ? readdirSync(otherState).length : 0, 0, 'refused before replaying anything');
  assert.deepEqual(await groupOffsets(), boundary, 'a refused bootstrap leaves the group alone');

  // New records after the bootstrap, then live on the bootstrapped state and group.
  await produce('transactions', newFile, topics.transactions);
  const ends = await topicEnds();
  assert.equal([...ends.values()].reduce((a, b) => a + b, 0), HISTORY + NEW);
  const args = ['run', 'topologies/card-fraud.ts', '--state', state, '--group', group, ...topicFlags];
  args.push('--output-topic', `card_features=${topics.features}`, '--output-topic', `card_daily_spend=${topics.daily}`, '--side-prefix', topics.side);
  const worker = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: stack.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  worker.stderr!.setEncoding('utf8');
  worker.stderr!.on('data', (s: string) => (log += s));
  const deadline = Date.now() + 120_000;
  for (;;) {
    await sleep(1000);
    const committed = await groupOffsets();
    if ([...ends].every(([p, end]) => committed.get(p) === end)) break;
    assert.ok(Date.now() < deadline && worker.exitCode === null, `live worker caught up (committed ${JSON.stringify([...committed])}, ends ${JSON.stringify([...ends])}):\n${log}`);
  }
  worker.kill('SIGTERM');
  assert.equal(await exited(worker), 0, `worker exits cleanly on SIGTERM:\n${log}`);

  const after = await readCheckpoints(state);
  for (const [p, m] of after) {
    assert.equal(m.positions.transactions, ends.get(p), `partition ${p}: checkpoint at the new end`);
    assert.equal(m.counters.processed, ends.get(p), `partition ${p}: history + new records, each applied once`);
  }

  // Everything live produced.
  const registry = await SchemaRegistryClient.open(stack.registryUrl);
  const decoder = new WireDecoder(registry, featureRecordSchema(output.name, output.columns));
  const live = new Map<string, Record<string, unknown>>();
  await withKafka(async (conn) => {
    const outOffsets = await fetchOffsets(conn, topics.features);
    for await (const b of readTopicRanges(conn, outOffsets.map((p) => ({ topic: topics.features, partition: p.partition, start: p.low, end: p.high })))) {
      const decoded = await decoder.decodeAll(b.records.map((r) => r.value));
      b.records.forEach((_, i) => {
        const v = decoded[i].value as Record<string, unknown>;
        assert.ok(v, `decodable live vector: ${decoded[i].error}`);
        const offset = Number(v.offset);
        assert.ok(offset >= boundary.get(v.partition as number)!, `live vector for history offset ${v.partition}/${offset}: live did not start at the next offset`);
        live.set(`${v.partition}/${offset}`, v);
      });
    }
  });

  // A full replay of the whole topic, restricted to the new offsets.
  const out = join(dir, 'replay');
  const full = await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: { transactions: topics.transactions, chargebacks: topics.chargebacks }, out, workers: 1 });
  assert.equal(full.counters.processed, HISTORY + NEW);
  const replayed = new Map<string, Record<string, unknown>>();
  for (const f of readdirSync(join(out, 'card_features')).filter((x) => x.endsWith('.parquet'))) {
    const buf = readFileSync(join(out, 'card_features', f));
    for (const row of await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer })) {
      const offset = Number(row.offset);
      if (offset >= boundary.get(Number(row.partition))!) replayed.set(`${row.partition}/${offset}`, row);
    }
  }
  assert.ok(replayed.size > NEW * 0.9, `replay has vectors for most new records (${replayed.size})`);
  assert.deepEqual([...live.keys()].sort(), [...replayed.keys()].sort(), 'live served exactly the new (partition, offset)s the replay computes vectors for');
  const served = output.columns.filter((c) => c.role !== 'label');
  let compared = 0;
  for (const [id, value] of live) {
    const r = replayed.get(id)!;
    assert.equal(value.key, r.key, `${id} key`);
    assert.equal(value.event_time, (r.event_time as Date).getTime(), `${id} event_time`);
    for (const c of served) {
      const a = value[c.name];
      const b = typeof r[c.name] === 'bigint' ? Number(r[c.name]) : r[c.name];
      assert.ok(Object.is(a ?? null, b ?? null), `${id} ${c.name}: live ${String(a)} vs replay ${String(b)}`);
      compared++;
    }
  }
  assert.equal(compared, live.size * served.length);
});
