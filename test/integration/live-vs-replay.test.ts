/**
 * The determinism contract end to end on the local stack: `skewless run` consumes card
 * transactions while they are still being produced, with small random engine batches, and is
 * killed with SIGKILL at random points and restarted; finally stopped with SIGTERM. Replaying
 * the same topic offline must give, for every (partition, offset), exactly the vector live
 * served: none missing, duplicates (at-least-once delivery after a kill) identical to the
 * byte, and the checkpointed state must have applied every input record exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetReadObjects } from 'hyparquet';
import { buildProgram } from '../../src/engine/program.js';
import { featureRecordSchema } from '../../src/io/avro/feature-record-schema.js';
import { SchemaRegistryClient } from '../../src/io/avro/registry-client.js';
import { WireDecoder } from '../../src/io/avro/wire-decoder.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { deleteTopics, fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { readTopicRanges } from '../../src/io/kafka/topic-reader.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { taskStateDir } from '../../src/state/task-state-dir.js';
import { mulberry32 } from '../helpers/prng.js';
import { stackForTests } from '../helpers/stack.js';
import { readTaskCheckpoints } from '../helpers/task-checkpoints.js';

const stack = await stackForTests();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const PARTITIONS = 4;
const EVENTS = 24_000;
const run = randomUUID().slice(0, 8);
const topics = {
  transactions: `live-tx-${run}`,
  chargebacks: `live-cb-${run}`,
  features: `live-features-${run}`,
  daily: `live-daily-${run}`,
  side: `live-${run}`,
};
const dir = mkdtempSync(join(tmpdir(), 'skewless-live-'));
const plan = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
const output = buildProgram(plan).outputs[0];

test.after(async () => {
  rmSync(dir, { recursive: true, force: true });
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  try {
    await deleteTopics(conn, [topics.transactions, topics.chargebacks, topics.features, topics.daily, `${topics.side}-late`, `${topics.side}-dead-letters`]);
  } finally {
    await conn.close();
  }
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function startWorker(maxBatch: number): ChildProcess {
  const args = ['run', 'topologies/card-fraud.ts', '--state', join(dir, 'state'), '--group', `live-${run}`, '--max-batch', String(maxBatch)];
  args.push('--topic', `transactions=${topics.transactions}`, '--output-topic', `card_features=${topics.features}`, '--output-topic', `card_daily_spend=${topics.daily}`);
  args.push('--side-prefix', topics.side);
  // A state cache far smaller than the number of cards: keys are evicted at checkpoints and read back from LevelDB.
  args.push('--cache-keys', '25');
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: stack.env, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => (child as ChildProcess & { log?: string }).log = ((child as ChildProcess & { log?: string }).log ?? '') + s);
  return child;
}

const exited = (c: ChildProcess): Promise<number | null> => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve(c.exitCode) : new Promise((r) => c.once('exit', (code) => r(code))));

test('live == replay for every (partition, offset), across SIGKILL restarts while the producer is still writing', { timeout: 240_000 }, async () => {
  const rng = mulberry32(20261126);
  const data = await writeCardDataset({ outDir: join(dir, 'data'), events: EVENTS, seed: 5, format: 'ndjson' });
  await produceFile({ plan, source: 'chargebacks', input: data.chargebacksPath, topic: topics.chargebacks, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });

  // The producer writes in slices with pauses, so the worker consumes while it is still writing.
  const lines = readFileSync(data.transactionsPath, 'utf8').split('\n').filter((l) => l !== '');
  const slices = 6;
  const producing = (async () => {
    const { writeFileSync } = await import('node:fs');
    for (let i = 0; i < slices; i++) {
      const part = join(dir, `tx-${i}.ndjson`);
      writeFileSync(part, `${lines.slice(Math.floor((i * lines.length) / slices), Math.floor(((i + 1) * lines.length) / slices)).join('\n')}\n`);
      await produceFile({ plan, source: 'transactions', input: part, topic: topics.transactions, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl, batchSize: 500 });
      await sleep(700);
    }
  })();
  // The worker needs the topic; the first slice creates it.
  for (let i = 0; i < 100; i++) {
    const conn = await KafkaConnection.open({ brokers: stack.brokers });
    const ok = await fetchOffsets(conn, topics.transactions).then(() => true, () => false);
    await conn.close();
    if (ok) break;
    await sleep(200);
  }

  let kills = 0;
  for (; kills < 3; kills++) {
    const w = startWorker(1 + Math.floor(rng() * 60));
    await sleep(2500 + Math.floor(rng() * 3000));
    w.kill('SIGKILL');
    await exited(w);
  }
  await producing;

  // The last incarnation runs until the checkpoints cover every input record, then stops on SIGTERM.
  const last = startWorker(1 + Math.floor(rng() * 60));
  // Caught up: this incarnation is running, and afterwards the output topic holds at least one
  // vector per input record but the few late ones (side output) and stops growing. The
  // checkpoint assertions below check completeness exactly.
  const log = (): string => (last as ChildProcess & { log?: string }).log ?? '';
  const deadline = Date.now() + 120_000;
  while (!/skewless: running/.test(log()) && Date.now() < deadline) await sleep(200);
  let previous = -1;
  for (;;) {
    await sleep(2000);
    const c = await KafkaConnection.open({ brokers: stack.brokers });
    const outCount = (await fetchOffsets(c, topics.features).catch(() => [])).reduce((n, p) => n + p.high, 0);
    await c.close();
    if ((outCount === previous && outCount >= EVENTS * 0.97) || Date.now() > deadline) break;
    previous = outCount;
  }
  await sleep(3000);
  last.kill('SIGTERM');
  assert.equal(await exited(last), 0, `worker exits cleanly on SIGTERM: ${(last as ChildProcess & { log?: string }).log ?? ''}`);

  // State: every input record applied exactly once (processed = partition length).
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  const ends = new Map((await fetchOffsets(conn, topics.transactions)).map((p) => [p.partition, p.high]));
  const metas = await readTaskCheckpoints(join(dir, 'state'));
  assert.equal(metas.length, PARTITIONS);
  for (const m of metas) {
    assert.equal(m.positions.transactions, ends.get(m.partition), `partition ${m.partition}: checkpoint at the end of the topic`);
    assert.equal(m.counters.processed, ends.get(m.partition), `partition ${m.partition}: each record applied once`);
  }

  // Live vectors from the output topic; duplicates after a kill must be byte-identical.
  const registry = await SchemaRegistryClient.open(stack.registryUrl);
  const decoder = new WireDecoder(registry, featureRecordSchema(output.name, output.columns));
  const live = new Map<string, { bytes: Buffer; value: Record<string, unknown> }>();
  let duplicates = 0;
  const outOffsets = await fetchOffsets(conn, topics.features);
  for await (const b of readTopicRanges(conn, outOffsets.map((p) => ({ topic: topics.features, partition: p.partition, start: p.low, end: p.high })))) {
    const decoded = await decoder.decodeAll(b.records.map((r) => r.value));
    b.records.forEach((r, i) => {
      const v = decoded[i].value as Record<string, unknown>;
      assert.ok(v, `decodable live vector: ${decoded[i].error}`);
      assert.equal(v.partition, b.partition, 'vectors go to the partition of their input');
      const id = `${v.partition}/${v.offset}`;
      const seen = live.get(id);
      if (seen) {
        duplicates++;
        assert.ok(seen.bytes.equals(r.value!), `duplicate of ${id} is byte-identical`);
      } else live.set(id, { bytes: r.value!, value: v });
    });
  }
  await conn.close();

  // The offline path over the same topic.
  const out = join(dir, 'replay');
  const summary = await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: { transactions: topics.transactions, chargebacks: topics.chargebacks }, out, workers: 1 });
  assert.equal(summary.counters.processed, EVENTS);
  const replayed = new Map<string, Record<string, unknown>>();
  for (const f of readdirSync(join(out, 'card_features')).filter((x) => x.endsWith('.parquet'))) {
    const buf = readFileSync(join(out, 'card_features', f));
    for (const row of await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer })) {
      replayed.set(`${row.partition}/${Number(row.offset)}`, row);
    }
  }
  assert.equal(live.size, replayed.size, `live vectors ${live.size} (+${duplicates} duplicates) vs replayed ${replayed.size}`);
  const served = output.columns.filter((c) => c.role !== 'label');
  let compared = 0;
  for (const [id, { value }] of live) {
    const r = replayed.get(id);
    assert.ok(r, `${id} replayed`);
    assert.equal(value.key, r.key);
    assert.equal(value.event_time, (r.event_time as Date).getTime());
    for (const c of served) {
      const a = value[c.name];
      const b = typeof r[c.name] === 'bigint' ? Number(r[c.name]) : r[c.name];
      assert.ok(Object.is(a ?? null, b ?? null), `${id} ${c.name}: live ${String(a)} vs replay ${String(b)}`);
      compared++;
    }
  }
  assert.ok(compared > EVENTS * served.length * 0.9, `compared ${compared} values`);
  assert.ok(kills === 3);
});
