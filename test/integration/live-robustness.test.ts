/**
 * Live mode under the things production throws at it, on the local stack: a producer that
 * switches to a newer compatible schema mid-stream (added field with a default), poison records
 * (random bytes, an unknown schema id), and a SIGTERM while the worker is in the middle of the
 * backlog. The worker keeps running, poison goes to the dead-letter topic with its reason, a
 * SIGTERM loses nothing, and live still equals replay for every other record, the merchant
 * columns (a regrouping, and the merchants' tier versions looked up through it) included.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetReadObjects } from 'hyparquet';
import { buildProgram } from '../../src/engine/program.js';
import { featureRecordSchema } from '../../src/io/avro/feature-record-schema.js';
import { SchemaRegistryClient } from '../../src/io/avro/registry-client.js';
import { WireDecoder } from '../../src/io/avro/wire-decoder.js';
import { WireEncoder } from '../../src/io/avro/wire-encoder.js';
import { toWireFormat } from '../../src/io/avro/wire-format.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { committedOffsets, fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { readTopicRanges, type KafkaRecord } from '../../src/io/kafka/topic-reader.js';
import { TopicProducer } from '../../src/io/kafka/topic-producer.js';
import { generateCardTransactions } from '../../src/gen/card-transactions.js';
import { merchantTierVersions } from '../../src/gen/merchant-tiers.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cardTopicArgs, liveInternalTopics } from '../helpers/card-inputs.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { readReplayVectors } from '../helpers/live-run.js';
import { servedAll } from '../helpers/live-served.js';
import { stackForTests } from '../helpers/stack.js';
import { readTaskCheckpoints } from '../helpers/task-checkpoints.js';

const stack = await stackForTests();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const run = randomUUID().slice(0, 8);
const T = { tx: `robust-tx-${run}`, cb: `robust-cb-${run}`, tiers: `robust-tiers-${run}`, features: `robust-features-${run}`, daily: `robust-daily-${run}`, side: `robust-${run}` };
const dir = mkdtempSync(join(tmpdir(), 'skewless-robust-'));
const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
const output = buildProgram(plan).outputs[0];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const group = `robust-${run}`;
type Worker = ChildProcess & { log: string };
/** Every worker this file started: one still running when the test fails is killed on the way out. */
const workers: Worker[] = [];

test.after(async () => {
  const running = workers.filter((w) => w.exitCode === null && w.signalCode === null);
  for (const w of running) w.kill('SIGKILL');
  await Promise.all(workers.map((w) => exited(w)));
  // A killed member stays in the group until its session times out, and a group with members cannot be deleted.
  if (running.length > 0) await sleep(11_000);
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, [T.tx, T.cb, T.tiers, T.features, T.daily, `${T.side}-late`, `${T.side}-dead-letters`, ...liveInternalTopics(group, plan)], [group]);
});

function startWorker(maxBatch: number): Worker {
  const args = ['run', 'topologies/card-fraud.ts', '--state', join(dir, 'state'), '--group', group, '--max-batch', String(maxBatch)];
  args.push(...cardTopicArgs({ transactions: T.tx, merchant_tiers: T.tiers }), '--output-topic', `card_features=${T.features}`, '--output-topic', `card_daily_spend=${T.daily}`, '--side-prefix', T.side);
  const w = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: stack.env, stdio: ['ignore', 'ignore', 'pipe'] }) as Worker;
  w.log = '';
  w.stderr!.setEncoding('utf8');
  w.stderr!.on('data', (s: string) => (w.log += s));
  workers.push(w);
  return w;
}
const exited = (c: ChildProcess): Promise<number | null> => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve(c.exitCode) : new Promise((r) => c.once('exit', (code) => r(code))));

async function readAll(topic: string): Promise<Array<KafkaRecord & { partition: number }>> {
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  try {
    const out: Array<KafkaRecord & { partition: number }> = [];
    const ranges = (await fetchOffsets(conn, topic)).map((p) => ({ topic, partition: p.partition, start: p.low, end: p.high }));
    for await (const b of readTopicRanges(conn, ranges)) for (const r of b.records) out.push({ ...r, partition: b.partition });
    return out;
  } finally {
    await conn.close();
  }
}

test('live: schema change mid-stream, poison records, SIGTERM mid-backlog; live still equals replay', { timeout: 240_000 }, async () => {
  const { transactions, chargebacks, summary: gen } = generateCardTransactions({ events: 6000, seed: 9 });
  // The merchants' tier versions over the data's time span, as `generate card-transactions` writes them.
  const tiers = merchantTierVersions({ seed: 9, start: gen.start, end: gen.endTime, merchants: gen.merchants });
  const part = (rows: unknown[], name: string): string => {
    const p = join(dir, name);
    writeFileSync(p, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    return p;
  };
  const common = { plan, partitions: 2, brokers: stack.brokers, registryUrl: stack.registryUrl };
  await produceFile({ ...common, source: 'chargebacks', input: part(chargebacks, 'cb.ndjson'), topic: T.cb });
  // All of them before the worker starts, like the transactions: its input pauses only at the end.
  await produceFile({ ...common, source: 'merchant_tiers', input: part(tiers, 'tiers.ndjson'), topic: T.tiers });
  await produceFile({ ...common, source: 'transactions', input: part(transactions.slice(0, 2000), 'a.ndjson'), topic: T.tx });

  // v2 of the source schema: an added field with a default (BACKWARD compatible).
  const v1 = JSON.parse(readFileSync(join(ROOT, 'schemas/card_transaction.avsc'), 'utf8')) as { fields: object[] };
  const v2 = { ...v1, fields: [...v1.fields, { name: 'channel', type: 'string', default: 'web' }] };
  const registry = await SchemaRegistryClient.open(stack.registryUrl);
  const v2id = await registry.register(`${T.tx}-value`, v2);
  const encoder = new WireEncoder(v2, v2id);
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  const producer = await TopicProducer.open(conn);
  for (const t of transactions.slice(2000, 4000)) {
    const enc = encoder.encode({ ...t, channel: 'app' });
    assert.ok(enc.bytes, enc.error);
    await producer.add(T.tx, { key: Buffer.from(t.card_id), value: enc.bytes });
  }
  // Poison: random bytes, and well-framed Avro under a schema id the registry never issued.
  const poisonKeys = ['card-poison-1', 'card-poison-2'];
  await producer.add(T.tx, { key: Buffer.from(poisonKeys[0]), value: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]) });
  await producer.add(T.tx, { key: Buffer.from(poisonKeys[1]), value: toWireFormat(987_654_321, Buffer.from([2, 4, 6])) });
  await producer.close();
  await conn.close();
  await produceFile({ ...common, source: 'transactions', input: part(transactions.slice(4000), 'c.ndjson'), topic: T.tx });

  // A slow worker (one record per engine step, each checkpointed) gets SIGTERM in the middle
  // of the backlog: as soon as it has committed its first transactions. (Its first vectors come
  // later than that: a row waits for its merchant's answer from the regrouped task.)
  const first = startWorker(1);
  for (let i = 0; i < 600; i++) {
    await sleep(100);
    const c = await KafkaConnection.open({ brokers: stack.brokers });
    const n = (await committedOffsets(c, group, T.tx).catch(() => [])).reduce((s, p) => s + p.offset, 0);
    await c.close();
    if (n > 50 || first.exitCode !== null) break;
  }
  first.kill('SIGTERM');
  assert.equal(await exited(first), 0, `clean exit on SIGTERM: ${first.log}`);
  assert.match(first.log, /stopped cleanly/);
  const mid = await readTaskCheckpoints(join(dir, 'state'));
  const midApplied = mid.reduce((n, m) => n + (m.positions.transactions ?? 0), 0);
  // Both inputs count: the transactions and the tier versions (a table is an input of its task).
  for (const m of mid) assert.equal(m.counters.processed, (m.positions.transactions ?? 0) + (m.positions.merchant_tiers ?? 0), 'every record before the checkpoint positions applied, once');
  assert.ok(midApplied > 0 && midApplied < 6002, `stopped mid-backlog (applied ${midApplied} transactions)`);

  // Resume and finish: until every row the replay computes has been served (the merchant columns
  // of the last rows wait for the idle rule, --idle-ms, default 5 s, once the input has ended).
  const second = startWorker(500);
  const out = join(dir, 'replay');
  const summary = await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: { transactions: T.tx, chargebacks: T.cb, merchant_tiers: T.tiers }, out, workers: 1 });
  await servedAll({ brokers: stack.brokers, registryUrl: stack.registryUrl, output, topic: T.features, expected: (await readReplayVectors(out, output.name)).keys(), workers: [second] });
  second.kill('SIGTERM');
  assert.equal(await exited(second), 0, second.log);

  const endsOf = async (topic: string): Promise<Map<number, number>> => {
    const c = await KafkaConnection.open({ brokers: stack.brokers });
    try {
      return new Map((await fetchOffsets(c, topic)).map((p) => [p.partition, p.high]));
    } finally {
      await c.close();
    }
  };
  const ends = await endsOf(T.tx);
  const tierEnds = await endsOf(T.tiers);
  for (const m of await readTaskCheckpoints(join(dir, 'state'))) {
    assert.equal(m.positions.transactions, ends.get(m.partition));
    assert.equal(m.positions.merchant_tiers, tierEnds.get(m.partition));
    assert.equal(m.counters.processed, ends.get(m.partition)! + tierEnds.get(m.partition)!);
  }

  // Poison went to the dead-letter topic with its reason, and nowhere else.
  const dead = await readAll(`${T.side}-dead-letters`);
  assert.equal(dead.length, 2);
  const reasons = dead.map((d) => d.headers['skewless-reason']).sort();
  assert.match(reasons[0], /not Confluent wire format/);
  assert.match(reasons[1], /unknown schema id 987654321/);

  // Live == replay for every other record, v1 and v2 alike.
  const decoder = new WireDecoder(registry, featureRecordSchema(output.name, output.columns));
  const live = new Map<string, Record<string, unknown>>();
  const records = await readAll(T.features);
  const decoded = await decoder.decodeAll(records.map((r) => r.value));
  records.forEach((r, i) => live.set(`${r.partition}/${(decoded[i].value as { offset: number }).offset}`, decoded[i].value as Record<string, unknown>));
  assert.equal(summary.counters.deadLetters, 2);
  const served = output.columns.filter((c) => c.role !== 'label');
  let n = 0;
  for (const f of readdirSync(join(out, 'card_features')).filter((x) => x.endsWith('.parquet'))) {
    const buf = readFileSync(join(out, 'card_features', f));
    for (const row of await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer })) {
      const id = `${row.partition}/${Number(row.offset)}`;
      const v = live.get(id);
      assert.ok(v, `${id} served live`);
      for (const c of served) {
        const b = typeof row[c.name] === 'bigint' ? Number(row[c.name]) : row[c.name];
        assert.ok(Object.is(v[c.name] ?? null, b ?? null), `${id} ${c.name}: live ${String(v[c.name])} vs replay ${String(b)}`);
      }
      n++;
    }
  }
  assert.equal(n, live.size, 'no live vector without a replayed one');
  assert.ok(n > 5900, `compared ${n} vectors`);
});
