/**
 * topologies/flight-network.ts on the first 60,000 US flights of 2001: features of the
 * destination airport through a regrouping as of 5 minutes before departure.
 *  - against plain loops over every flight (not the engine), by the definition in the issue;
 *  - bit-identical for every flight with 1, 3 and 8 input partitions;
 *  - replay from Kafka equals replay from files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetReadObjects } from 'hyparquet';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { exact } from '../helpers/engine.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import { stackForTests } from '../helpers/stack.js';
import { arrayBuffer, assertSameTraining, parquetFiles } from '../helpers/training-files.js';
import { sliceFlights } from '../helpers/python-expected.js';

const repo = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const ROWS = 60_000;
const M = 60_000;
const H = 60 * M;

const dir = mkdtempSync(join(tmpdir(), 'skewless-flight-network-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const slice = join(dir, 'flights-60k.parquet');
sliceFlights(slice, ROWS);
const plan = await loadTopology(repo('topologies/flight-network.ts'));

interface Flight {
  date: Date;
  delay: bigint;
  origin: string;
  destination: string;
}

type Row = Record<string, unknown>;

async function readRows(out: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const f of parquetFiles(join(out, 'flight_features'))) rows.push(...((await parquetReadObjects({ file: arrayBuffer(readFileSync(join(out, 'flight_features', f))) })) as Row[]));
  return rows;
}

/**
 * A flight's identity that does not depend on the partitioning: its origin (the row key) and
 * its rank among that origin's rows in offset order (one origin's flights all go to one
 * partition, in file order).
 */
function byFlight(rows: readonly Row[]): Map<string, Row> {
  const sorted = [...rows].sort((a, b) => (a.key !== b.key ? (String(a.key) < String(b.key) ? -1 : 1) : Number(a.offset) - Number(b.offset)));
  const out = new Map<string, Row>();
  let prev = '';
  let rank = 0;
  for (const r of sorted) {
    rank = r.key === prev ? rank + 1 : 0;
    prev = String(r.key);
    out.set(`${prev}#${rank}`, r);
  }
  return out;
}

/** int64 columns come back as bigint; counts are exact as numbers. */
const plain = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : (v ?? null));

const FEATURES = ['dest_flights_1h', 'dest_delay_mean_24h', 'origin_flights_1h', 'origin_delay_mean_24h', 'dest_minus_origin_delay_24h', 'is_delayed'];
const outs: Record<number, Row[]> = {};

async function backfill(partitions: number): Promise<Row[]> {
  const out = join(dir, `files-${partitions}`);
  const summary = await replayFiles({ plan, inputs: { flights: slice }, out, partitions });
  assert.equal(summary.counters.processed, ROWS);
  assert.equal(summary.counters.late, 0, 'a date-sorted file has no late records');
  assert.equal(summary.files.reduce((n, f) => n + f.rows, 0), ROWS);
  return readRows(out);
}

test('dest features equal plain loops over all flights (the definition: (t − 5 min − W, t − 5 min] of the destination)', async () => {
  outs[3] = await backfill(3);
  const flights = (await parquetReadObjects({ file: arrayBuffer(readFileSync(slice)) })) as unknown as Flight[];
  assert.equal(flights.length, ROWS);
  const byDest = new Map<string, Array<{ t: number; delay: number }>>();
  for (const f of flights) {
    const list = byDest.get(f.destination) ?? [];
    list.push({ t: f.date.getTime(), delay: Number(f.delay) });
    byDest.set(f.destination, list);
  }
  const engine = byFlight(outs[3]);
  const rank = new Map<string, number>();
  let nullMeans = 0;
  let nonZeroCounts = 0;
  for (const f of flights) {
    const r = rank.get(f.origin) ?? 0;
    rank.set(f.origin, r + 1);
    const row = engine.get(`${f.origin}#${r}`);
    assert.ok(row, `a row for flight ${f.origin}#${r}`);
    const t = f.date.getTime();
    assert.equal(Number(row.event_time instanceof Date ? row.event_time.getTime() : row.event_time), t, `${f.origin}#${r} is the same flight`);
    let n1h = 0;
    let n24h = 0;
    let sum24h = 0;
    for (const x of byDest.get(f.destination)!) {
      if (x.t > t - 5 * M - H && x.t <= t - 5 * M) n1h++;
      if (x.t > t - 5 * M - 24 * H && x.t <= t - 5 * M) {
        n24h++;
        sum24h += x.delay;
      }
    }
    // Delays are whole minutes, so the sum is exact in any order and the mean is the same division.
    const mean = n24h === 0 ? null : sum24h / n24h;
    assert.equal(Number(row.dest_flights_1h), n1h, `dest_flights_1h of ${f.origin}#${r} (${f.destination} at ${f.date.toISOString()})`);
    assert.equal(row.dest_delay_mean_24h, mean, `dest_delay_mean_24h of ${f.origin}#${r}`);
    if (mean === null) nullMeans++;
    if (n1h > 0) nonZeroCounts++;
  }
  assert.ok(nullMeans > 10 && nonZeroCounts > ROWS / 2, `both empty and busy windows occur (${nullMeans} null means, ${nonZeroCounts} non-zero counts)`);
});

test('backfill with 1, 3 and 8 partitions gives bit-identical features for every flight', async () => {
  outs[3] ??= await backfill(3);
  for (const p of [1, 8]) outs[p] = await backfill(p);
  const reference = byFlight(outs[3]);
  for (const p of [1, 8]) {
    const other = byFlight(outs[p]);
    assert.equal(other.size, reference.size);
    let compared = 0;
    for (const [id, row] of reference) {
      const o = other.get(id)!;
      for (const c of FEATURES) assert.equal(exact(plain(o[c])), exact(plain(row[c])), `${c} of flight ${id} with ${p} partitions vs 3`);
      compared++;
    }
    assert.equal(compared, ROWS);
  }
});

test('backfill --from-kafka equals the file backfill with the same partitioning', async () => {
  const stack = await stackForTests();
  const topic = `test-flight-network-${randomUUID().slice(0, 8)}`;
  test.after(() => cleanUpKafka(stack.brokers, [topic]));
  const produced = await produceFile({ plan, source: 'flights', input: slice, topic, partitions: 3, brokers: stack.brokers, registryUrl: stack.registryUrl, batchSize: 5000 });
  assert.equal(produced.produced, ROWS);
  const kafkaOut = join(dir, 'kafka-3');
  const summary = await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: { flights: topic }, out: kafkaOut });
  assert.equal(summary.counters.processed, ROWS);
  const fileOut = join(dir, 'files-3');
  if (outs[3] === undefined) outs[3] = await backfill(3);
  await assertSameTraining(fileOut, kafkaOut, 3);
});
