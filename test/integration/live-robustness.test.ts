/**
 * Live mode under the things production throws at it, on the local stack: a producer that
 * switches to a newer compatible schema mid-stream (added field with a default), poison records
 * (random bytes, an unknown schema id), and a SIGTERM while the worker is in the middle of the
 * backlog. The worker keeps running, poison goes to the dead-letter topic with its reason, a
 * SIGTERM loses nothing, and live still equals replay for every other record.
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
import { fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { readTopicRanges, type KafkaRecord } from '../../src/io/kafka/topic-reader.js';
import { TopicProducer } from '../../src/io/kafka/topic-producer.js';
import { generateCardTransactions } from '../../src/gen/card-transactions.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { stackForTests } from '../helpers/stack.js';
import { readTaskCheckpoints } from '../helpers/task-checkpoints.js';

const stack = await stackForTests();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const run = randomUUID().slice(0, 8);
const T = { tx: `robust-tx-${run}`, cb: `robust-cb-${run}`, features: `robust-features-${run}`, daily: `robust-daily-${run}`, side: `robust-${run}` };
const dir = mkdtempSync(join(tmpdir(), 'skewless-robust-'));
const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
const output = buildProgram(plan).outputs[0];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test.after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(stack.brokers, [T.tx, T.cb, T.features, T.daily, `${T.side}-late`, `${T.side}-dead-letters`]);
});

type Worker = ChildProcess & { log: string };
function startWorker(maxBatch: number): Worker {
  const args = ['run', 'topologies/card-fraud.ts', '--state', join(dir, 'state'), '--group', `robust-${run}`, '--max-batch', String(maxBatch)];
  args.push('--topic', `transactions=${T.tx}`, '--output-topic', `card_features=${T.features}`, '--output-topic', `card_daily_spend=${T.daily}`, '--side-prefix', T.side);
  const w = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: stack.env, stdio: ['ignore', 'ignore', 'pipe'] }) as Worker;
  w.log = '';
  w.stderr!.setEncoding('utf8');
  w.stderr!.on('data', (s: string) => (w.log += s));
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
  const { transactions, chargebacks } = generateCardTransactions({ events: 6000, seed: 9 });
  const part = (rows: unknown[], name: string): string => {
    const p = join(dir, name);
    writeFileSync(p, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    return p;
  };
  const common = { plan, partitions: 2, brokers: stack.brokers, registryUrl: stack.registryUrl };
  await produceFile({ ...common, source: 'chargebacks', input: part(chargebacks, 'cb.ndjson'), topic: T.cb });
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
  // of the backlog: as soon as its first vectors appear in the output topic.
  const first = startWorker(1);
  for (let i = 0; i < 200; i++) {
    await sleep(100);
    const c = await KafkaConnection.open({ brokers: stack.brokers });
    const n = (await fetchOffsets(c, T.features).catch(() => [])).reduce((s, p) => s + p.high, 0);
    await c.close();
    if (n > 50) break;
  }
  first.kill('SIGTERM');
  assert.equal(await exited(first), 0, `clean exit on SIGTERM: ${first.log}`);
  assert.match(first.log, /stopped cleanly/);
  const mid = await readTaskCheckpoints(join(dir, 'state'));
  const midApplied = mid.reduce((n, m) => n + m.counters.processed, 0);
  for (const m of mid) assert.equal(m.counters.processed, m.positions.transactions, 'every record before the checkpoint position applied, once');
  assert.ok(midApplied > 0 && midApplied < 6002, `stopped mid-backlog (applied ${midApplied})`);

  // Resume and finish.
  const second = startWorker(500);
  const deadline = Date.now() + 120_000;
  let previous = -1;
  for (;;) {
    await sleep(1500);
    const c = await KafkaConnection.open({ brokers: stack.brokers });
    const n = (await fetchOffsets(c, T.features).catch(() => [])).reduce((s, p) => s + p.high, 0);
    await c.close();
    if ((n === previous && n > 5000) || Date.now() > deadline) break;
    previous = n;
  }
  second.kill('SIGTERM');
  assert.equal(await exited(second), 0, second.log);

  const ends = new Map((await (async () => {
    const c = await KafkaConnection.open({ brokers: stack.brokers });
    const o = await fetchOffsets(c, T.tx);
    await c.close();
    return o;
  })()).map((p) => [p.partition, p.high]));
  for (const m of await readTaskCheckpoints(join(dir, 'state'))) {
    assert.equal(m.positions.transactions, ends.get(m.partition));
    assert.equal(m.counters.processed, ends.get(m.partition));
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
  const out = join(dir, 'replay');
  const summary = await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: { transactions: T.tx, chargebacks: T.cb }, out, workers: 1 });
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
