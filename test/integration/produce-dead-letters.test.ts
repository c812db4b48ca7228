/**
 * A file with malformed records, loaded into Kafka with `produce`, replayed from Kafka and served
 * live, against the file backfill of the same file (on the local stack). The file backfill
 * dead-letters those records on partition 0, where they sit in the file's order; `produce`
 * used to skip them, so partition 0 of the topic held fewer records than the file split's
 * partition 0, every training row after the first malformed record carried another offset, and
 * the dead letters the file backfill wrote were nowhere in the Kafka replay or live. Now the
 * records go to partition 0 as dead letters (the reason and raw form in a header): the Kafka
 * backfill writes the file backfill's training files byte for byte and the same dead letters,
 * and a live worker serves the same vectors and dead-letters the same records with the same
 * reasons.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import { kafkaEndpoints } from '../../src/cli/kafka-endpoints.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { readTopicRanges } from '../../src/io/kafka/topic-reader.js';
import { kafkaPartition } from '../../src/io/partitioning.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { compareVectors, inputCommitted, readLiveVectors, readReplayVectors } from '../helpers/live-run.js';
import { FlightLiveRun } from '../helpers/flight-live-run.js';
import { stackForTests } from '../helpers/stack.js';
import { assertSameTraining } from '../helpers/training-files.js';
import { Rng } from '../helpers/prng.js';

const stack = await stackForTests();
const PARTITIONS = 2;
const live = await FlightLiveRun.create(stack, 'bad');
const { topic, features, side, plan, dir } = live;

interface DeadLetterLine {
  readonly source: string;
  readonly partition: number;
  readonly offset: number;
  readonly reason: string;
  readonly raw?: string;
}

/** The dead letters of a replay, as (source, partition, offset, reason, raw): the position in the file is the file backfill's alone. */
function deadLetters(out: string): DeadLetterLine[] {
  const d = join(out, '_dead_letters');
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .sort()
    .flatMap((f) => readFileSync(join(d, f), 'utf8').split('\n').filter((l) => l !== ''))
    .map((l) => {
      const { source, partition, offset, reason, raw } = JSON.parse(l) as DeadLetterLine;
      return { source, partition, offset, reason, raw };
    });
}

test('malformed records produced to Kafka are dead-lettered on partition 0 by the Kafka replay and live, exactly as by the file backfill, and every training row keeps its offset', { timeout: 180_000 }, async () => {
  const rng = new Rng(7);
  const airports = ['SFO', 'LAX', 'SEA', 'JFK', 'ORD', 'ATL', 'DEN', 'BOS', 'PHX', 'MIA', 'DFW', 'LAS'];
  const t0 = Date.UTC(2001, 0, 1);
  const good = Array.from({ length: 600 }, (_, i) => JSON.stringify({ date: t0 + i * 60_000, delay: rng.int(-20, 90), distance: 300 + i, origin: rng.pick(airports), destination: rng.pick(airports) }));
  // Three malformed records in the middle of the file: not JSON, a value of the wrong type, and invalid UTF-8 (kept as bytes).
  const lines: Buffer[] = good.map((l) => Buffer.from(l));
  const beforeBadByte = '{"date": 978307200000, "origin": "SF';
  lines.splice(400, 0, Buffer.concat([Buffer.from(beforeBadByte), Buffer.from([0xff, 0xfe]), Buffer.from('O"}')]));
  lines.splice(200, 0, Buffer.from(JSON.stringify({ date: t0, delay: '12', distance: 1, origin: 'SFO', destination: 'LAX' })));
  lines.splice(50, 0, Buffer.from('{"date": 978307200000, "delay": oops'));
  const file = join(dir, 'flights.ndjson');
  writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
  // The malformed records are spread over partition 0 among real ones: the offsets after them are what is at stake.
  const onZero = onPartitionZero(good, good.length);
  assert.ok(onZero > 100 && onZero < 500, `flights on partition 0: ${onZero}`);

  const produced = await produceFile({ plan, source: 'flights', input: file, topic, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });
  assert.equal(produced.produced, 600);
  assert.equal(produced.deadLetters, 3);
  assert.deepEqual(produced.deadLetterExamples.map((e) => e.index), [50, 201, 402]);

  const fileOut = join(dir, 'from-file');
  const fileSummary = await replayFiles({ plan, inputs: { flights: file }, out: fileOut, partitions: PARTITIONS, workers: 1 });
  const expected = deadLetters(fileOut);
  assert.equal(fileSummary.counters.deadLetters, 3);
  // Partition 0 holds, in file order, its flights and the malformed records: each one's offset is what comes before it there.
  assert.deepEqual(
    expected.map((d) => [d.partition, d.offset]),
    [
      [0, onPartitionZero(good, 50)],
      [0, onPartitionZero(good, 200) + 1],
      [0, onPartitionZero(good, 400) + 2],
    ],
  );
  assert.match(expected[0].reason, /^invalid JSON at line 51: /);
  assert.match(expected[1].reason, /^invalid record at line 202: field "delay"/);
  assert.equal(expected[2].reason, `invalid UTF-8 at line 403, byte ${beforeBadByte.length + 1} of the line (0xff)`);
  assert.ok(expected[2].raw?.startsWith('base64:'), 'invalid UTF-8 is kept as bytes');

  const kafkaOut = join(dir, 'from-kafka');
  const kafkaSummary = await replayKafka({ plan, ...kafkaEndpoints({}, stack.env), topics: { flights: topic }, out: kafkaOut, workers: 1 });
  assert.deepEqual(kafkaSummary.counters, fileSummary.counters);
  assert.deepEqual(deadLetters(kafkaOut), expected, 'the Kafka replay dead-letters the same records, with the reasons and raw forms of the file backfill');
  await assertSameTraining(fileOut, kafkaOut, PARTITIONS);

  // Live: the same vectors served, the same records dead-lettered.
  const w = live.startWorker(join(dir, 'state'));
  await inputCommitted(stack.brokers, live.group, topic, [w]);
  w.kill('SIGTERM');
  const output = buildProgram(plan).outputs[0];
  const c = compareVectors(await readLiveVectors(stack.brokers, stack.registryUrl, output, features), await readReplayVectors(fileOut, output.name), output);
  assert.deepEqual({ lost: c.lost, duplicates: c.duplicates, divergent: c.divergent, unexpected: c.unexpected }, { lost: 0, duplicates: 0, divergent: 0, unexpected: 0 }, c.examples.join('\n'));
  assert.equal(c.expected, 600);
  const conn = await KafkaConnection.open({ brokers: stack.brokers });
  const served: DeadLetterLine[] = [];
  try {
    const ranges = (await fetchOffsets(conn, `${side}-dead-letters`)).map((p) => ({ topic: `${side}-dead-letters`, partition: p.partition, start: p.low, end: p.high }));
    for await (const b of readTopicRanges(conn, ranges)) {
      for (const r of b.records) {
        const h = r.headers;
        served.push({ source: h['skewless-source'], partition: Number(h['skewless-partition']), offset: Number(h['skewless-offset']), reason: h['skewless-reason'], raw: r.value === null ? undefined : r.value.toString('base64') });
      }
    }
  } finally {
    await conn.close();
  }
  const asBytes = (raw: string | undefined): string | undefined => (raw === undefined ? undefined : raw.startsWith('base64:') ? raw.slice(7) : Buffer.from(raw).toString('base64'));
  assert.deepEqual(
    served.sort((a, b) => a.offset - b.offset),
    expected.map((d) => ({ ...d, raw: asBytes(d.raw) })),
    'live dead-letters the same records with the same reasons and bytes',
  );
});

/** Flights among the first `n` of `good` (the file without its malformed lines) whose origin is on partition 0. */
function onPartitionZero(good: readonly string[], n: number): number {
  return good.slice(0, n).filter((l) => kafkaPartition((JSON.parse(l) as { origin: string }).origin, PARTITIONS) === 0).length;
}
