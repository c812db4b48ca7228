/**
 * Replay from Kafka against replay from files, on the local stack: the same card data
 * produced to 4-partition topics and split into 4 partitions from the files must give the same
 * training files, byte for byte apart from the input-range metadata. Poison records in the
 * topic are dead-lettered with their reason and change nothing else. card-fraud reads the
 * merchants' tier versions (a table keyed by merchant) and serves merchant features through a
 * regrouping, so both replays also take the regrouped path (spill files, regrouped tasks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetReadObjects } from 'hyparquet';
import type { InputRange } from '../../src/engine/input.js';
import { kafkaEndpoints } from '../../src/cli/kafka-endpoints.js';
import { toWireFormat } from '../../src/io/avro/wire-format.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { TopicProducer } from '../../src/io/kafka/topic-producer.js';
import { kafkaPartition } from '../../src/io/partitioning.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayFiles, type ReplaySummary } from '../../src/modes/replay-files.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cardInputFiles, cardTopicArgs, merchantCoverage } from '../helpers/card-inputs.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { stackForTests } from '../helpers/stack.js';
import { arrayBuffer, assertSameTraining, keyValues, parquetFiles } from '../helpers/training-files.js';

const stack = await stackForTests();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const PARTITIONS = 4;

const dir = mkdtempSync(join(tmpdir(), 'skewless-kafka-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const run = randomUUID().slice(0, 8);
const topics = { transactions: `test-transactions-${run}`, chargebacks: `test-chargebacks-${run}`, merchant_tiers: `test-merchant-tiers-${run}` };
const cardFraud = await loadTopology(join(ROOT, 'topologies/card-fraud.ts'));
test.after(async () => {
  await cleanUpKafka(stack.brokers, [...Object.values(topics), `test-flights-${run}`]);
});

function skewless(args: string[], env: NodeJS.ProcessEnv = stack.env): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ndjsonLines(d: string): Array<Record<string, unknown>> {
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith('.ndjson'))
    .sort()
    .flatMap((f) => readFileSync(join(d, f), 'utf8').split('\n'))
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const data = await writeCardDataset({ outDir: join(dir, 'data'), events: 20_000, seed: 11, format: 'ndjson' });
const fileOut = join(dir, 'from-files');
let kafkaSummary: ReplaySummary;

test('produce: every record lands, Avro-encoded, on the partition of its key', async () => {
  const tx = await produceFile({ plan: cardFraud, source: 'transactions', input: data.transactionsPath, topic: topics.transactions, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl, batchSize: 2000 });
  assert.equal(tx.produced, 20_000);
  assert.equal(tx.deadLetters, 0);
  assert.equal(tx.topicCreated, true);
  assert.equal(tx.subject, `${topics.transactions}-value`);

  // The CLI path, with its JSON summary.
  const cb = skewless(['produce', 'topologies/card-fraud.ts', '--source', 'chargebacks', '--input', data.chargebacksPath, '--topic', topics.chargebacks, '--partitions', String(PARTITIONS), '--json']);
  assert.equal(cb.status, 0, cb.stderr);
  const cbSummary = JSON.parse(cb.stdout) as { produced: number; partitions: number; subject: string };
  assert.equal(cbSummary.produced, data.chargebacks);
  assert.equal(cbSummary.partitions, PARTITIONS);
  // The table of the merchants' tier versions, keyed by merchant, co-partitioned with the transactions (same count).
  const tiers = await produceFile({ plan: cardFraud, source: 'merchant_tiers', input: data.merchantTiersPath, topic: topics.merchant_tiers, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });
  assert.equal(tiers.produced, data.merchantTiers);
  assert.equal(tiers.deadLetters, 0);

  // Kafka's partitioner and ours agree: the per-partition counts are those of the murmur2 split (by card, and by merchant for the tiers).
  const expected = (file: string, key: string): number[] => {
    const counts = new Array<number>(PARTITIONS).fill(0);
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line) counts[kafkaPartition((JSON.parse(line) as Record<string, string>)[key], PARTITIONS)]++;
    }
    return counts;
  };
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  try {
    assert.deepEqual((await fetchOffsets(conn, topics.transactions)).map((o) => o.high - o.low), expected(data.transactionsPath, 'card_id'));
    assert.deepEqual((await fetchOffsets(conn, topics.merchant_tiers)).map((o) => o.high - o.low), expected(data.merchantTiersPath, 'merchant_id'));
  } finally {
    await conn.close();
  }
});

test('backfill --from-kafka writes the same training files as the file backfill of the same data', async () => {
  const kafkaOut = join(dir, 'from-kafka');
  const r = skewless(['backfill', 'topologies/card-fraud.ts', '--from-kafka', ...cardTopicArgs(topics), '--out', kafkaOut, '--json']);
  assert.equal(r.status, 0, r.stderr);
  kafkaSummary = JSON.parse(r.stdout) as ReplaySummary;
  // Every record of the engine topics is applied: the transactions and the tier versions (a table is an input of its task).
  assert.equal(kafkaSummary.counters.processed, 20_000 + data.merchantTiers);
  assert.equal(kafkaSummary.counters.deadLetters, 0);
  assert.equal(kafkaSummary.labels.card_features.events, data.chargebacks);
  assert.deepEqual(
    kafkaSummary.inputRanges.map((x) => [x.source, x.partition, x.origin, x.firstOffset]),
    [...[0, 1, 2, 3].map((p) => ['merchant_tiers', p, topics.merchant_tiers, 0]), ...[0, 1, 2, 3].map((p) => ['transactions', p, topics.transactions, 0])],
  );
  const read = (source: string): number => kafkaSummary.inputRanges.filter((x) => x.source === source).reduce((n, x) => n + x.endOffset - x.firstOffset, 0);
  assert.equal(read('transactions'), 20_000);
  assert.equal(read('merchant_tiers'), data.merchantTiers);

  const fileSummary = await replayFiles({ plan: cardFraud, inputs: cardInputFiles(data), out: fileOut, partitions: PARTITIONS });
  assert.deepEqual(kafkaSummary.counters, fileSummary.counters);
  assert.ok(fileSummary.counters.lateSideOutput > 0, 'the data has late records, so the late path is compared too');
  await assertSameTraining(fileOut, kafkaOut, PARTITIONS * 2);
  // The merchant columns (the regrouped path, and the tier table through it) are compared with real values, not nulls on both sides.
  const rows = (await Promise.all(parquetFiles(join(kafkaOut, 'card_features')).map((f) => parquetReadObjects({ file: arrayBuffer(readFileSync(join(kafkaOut, 'card_features', f))) })))).flat();
  const merchants = merchantCoverage(rows);
  assert.ok(merchants.rows > 19_000 && merchants.withTier > merchants.rows * 0.9 && merchants.withMerchantHistory > merchants.rows * 0.5, `merchant values in the rows compared: ${JSON.stringify(merchants)}`);
  // The input ranges name the topic and its offsets: the same offsets as the file split.
  const perPartition = (s: ReplaySummary): Array<[string, number, number]> => s.inputRanges.map((x: InputRange) => [x.source, x.partition, x.endOffset]);
  assert.deepEqual(perPartition(kafkaSummary), perPartition(fileSummary));
  const meta = keyValues(readFileSync(join(kafkaOut, 'card_features', 'part-00002.parquet')));
  const endOf = (source: string, p: number): number => kafkaSummary.inputRanges.find((x) => x.source === source && x.partition === p)!.endOffset;
  assert.deepEqual(JSON.parse(meta['skewless.input_ranges']), [
    { source: 'merchant_tiers', partition: 2, origin: topics.merchant_tiers, firstOffset: 0, endOffset: endOf('merchant_tiers', 2) },
    { source: 'transactions', partition: 2, origin: topics.transactions, firstOffset: 0, endOffset: endOf('transactions', 2) },
  ]);
  // Late records carry the decoded value: identical to the ones decoded from NDJSON.
  assert.deepEqual(readFileSync(join(kafkaOut, '_late_records', 'part-00001.ndjson')), readFileSync(join(fileOut, '_late_records', 'part-00001.ndjson')));

});

test('poison records in the topic are dead-lettered with their reason; every other row is unchanged', async () => {
  assert.ok(kafkaSummary, 'runs after the comparison above');
  const end = (p: number): number => kafkaSummary.inputRanges.find((x) => x.source === 'transactions' && x.partition === p)!.endOffset;
  const garbage = Buffer.from('this is not avro');
  const unknownId = 2_000_000_000;
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  try {
    const producer = await TopicProducer.open(conn);
    // Appended after the real records, so the offsets of every real record stay as they were.
    await producer.add(topics.transactions, { key: Buffer.from('poison'), value: garbage, partition: 1 });
    await producer.add(topics.transactions, { key: Buffer.from('poison'), value: toWireFormat(unknownId, Buffer.from([2, 0x61])), partition: 2 });
    await producer.add(topics.transactions, { key: Buffer.from('poison'), value: null, partition: 3 });
    await producer.close();
  } finally {
    await conn.close();
  }

  const out = join(dir, 'from-kafka-poisoned');
  const summary = await replayKafka({ plan: cardFraud, ...kafkaEndpoints({}, stack.env), topics, out, workers: 1 });
  assert.equal(summary.counters.deadLetters, 3);
  assert.equal(summary.counters.processed, 20_003 + data.merchantTiers);
  const dead = ndjsonLines(join(out, '_dead_letters'));
  assert.deepEqual(dead, [
    { source: 'transactions', partition: 1, offset: end(1), reason: 'not Confluent wire format (magic byte 0x74)', raw: `base64:${garbage.toString('base64')}` },
    { source: 'transactions', partition: 2, offset: end(2), reason: `unknown schema id ${unknownId}`, raw: `base64:${toWireFormat(unknownId, Buffer.from([2, 0x61])).toString('base64')}` },
    { source: 'transactions', partition: 3, offset: end(3), reason: 'empty record value (null, e.g. a tombstone)' },
  ]);
  await assertSameTraining(fileOut, out, PARTITIONS * 2);
});

test('--since and --until select records by Kafka timestamp, which produce sets to the event time: the ranges start and end where the time falls', async () => {
  const flights = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
  const topic = `test-flights-${run}`;
  const t0 = Date.UTC(2001, 0, 1, 8);
  const file = (name: string, from: number): string => {
    const path = join(dir, name);
    const rows = [0, 1, 2].map((i) => ({ date: t0 + (from + i) * 60_000, delay: from + i, distance: 300, origin: 'SFO', destination: 'LAX' }));
    writeFileSync(path, rows.map((x) => JSON.stringify(x)).join('\n'));
    return path;
  };
  const common = { plan: flights, source: 'flights', topic, partitions: 1, brokers: stack.brokers, registryUrl: stack.registryUrl };
  await produceFile({ ...common, input: file('early.ndjson', 0) });
  await produceFile({ ...common, input: file('late.ndjson', 3) });
  // Event times are t0 + 0, 1, 2 and t0 + 3, 4, 5 minutes: half a minute before the fourth.
  const between = t0 + 150_000;

  const replay = (name: string, range: { since?: number; until?: number }): Promise<ReplaySummary> =>
    replayKafka({ plan: flights, ...kafkaEndpoints({}, stack.env), topics: { flights: topic }, out: join(dir, name), workers: 1, ...range });
  const since = await replay('since', { since: between });
  assert.deepEqual(since.inputRanges.map((x) => [x.firstOffset, x.endOffset]), [[3, 6]]);
  assert.equal(since.counters.emitted, 3);
  const until = await replay('until', { until: between });
  assert.deepEqual(until.inputRanges.map((x) => [x.firstOffset, x.endOffset]), [[0, 3]]);
  const rows = await parquetReadObjects({ file: arrayBuffer(readFileSync(join(dir, 'until', 'flight_features', 'part-00000.parquet'))) });
  assert.deepEqual(rows.map((x) => x.offset), [0n, 1n, 2n]);
});

test('no reachable broker: one line on stderr naming the brokers and how to start one', () => {
  const r = skewless(['produce', 'topologies/card-fraud.ts', '--source', 'transactions', '--input', data.transactionsPath, '--brokers', '127.0.0.1:1'], stack.env);
  assert.notEqual(r.status, 0);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^skewless: cannot reach Kafka at 127\.0\.0\.1:1 \(.*\): start the local stack with `npm run stack:up` .*KAFKA_BROKERS/);

  const env = { ...stack.env };
  delete env.KAFKA_BROKERS;
  assert.throws(() => kafkaEndpoints({}, env), /^Error: no Kafka brokers configured: set KAFKA_BROKERS or pass --brokers .*npm run stack:up/);
});
