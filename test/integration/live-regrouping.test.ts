/**
 * Live regrouping end to end: topologies/flight-network.ts (features of the destination airport
 * through `regroupBy('dest')`, as of 5 minutes before departure) served by `skewless run` through
 * its repartition topics (`<group>-<version>-regroup` and `-regroup-answers`, exactly-once).
 *
 * Two workers with their own --state roots share a group while the first 20,000 flights of 2001
 * arrive in two halves; one is killed with SIGKILL mid-stream, the other takes its partitions
 * over, and the killed one comes back on its stale state root. Every vector read with
 * read_committed must equal the offline replay of the same topic (none lost, none duplicated,
 * none different, none unexpected), and a sample of them must equal plain loops over all flights
 * (the definition in the README), so that a live run and a replay that agreed on a wrong value
 * would still fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { buildProgram } from '../../src/engine/program.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cleanUpKafka } from '../helpers/kafka-cleanup.js';
import {
  compareVectors,
  exited,
  inputCommitted,
  produceInSlices,
  readLiveVectors,
  readReplayVectors,
  ROOT,
  spawnSkewless,
  stopLeftoverWorkers,
  topicEndOffsets,
  until,
  waitForTopic,
  type LiveVector,
  type Worker,
} from '../helpers/live-run.js';
import { mulberry32 } from '../helpers/prng.js';
import { stackForTests } from '../helpers/stack.js';
import { arrayBuffer } from '../helpers/training-files.js';
import { sliceFlights } from '../helpers/python-expected.js';

const stack = await stackForTests();
const ROWS = 20_000;
const PARTITIONS = 3;
const M = 60_000;
const H = 60 * M;

const dir = mkdtempSync(join(tmpdir(), 'skewless-live-regrouping-'));
const slice = join(dir, 'flights-20k.parquet');
sliceFlights(slice, ROWS);
const plan = await loadTopology(join(ROOT, 'topologies/flight-network.ts'));
const output = buildProgram(plan).outputs.find((o) => o.name === 'flight_features')!;

const run = randomUUID().slice(0, 8);
const t = {
  flights: `regroup-flights-${run}`,
  features: `regroup-features-${run}`,
  side: `regroup-${run}`,
  group: `regroup-${run}`,
};
const regroupTopic = `${t.group}-${plan.version}-regroup`;
const answersTopic = `${regroupTopic}-answers`;
/** Every worker this file started: one still running when a test fails is killed on the way out. */
const workers: Worker[] = [];

test.after(async () => {
  await stopLeftoverWorkers(workers);
  rmSync(dir, { recursive: true, force: true });
  await cleanUpKafka(
    stack.brokers,
    [t.flights, t.features, `${t.side}-late`, `${t.side}-dead-letters`, `${t.group}-${plan.version}-changelog`, regroupTopic, answersTopic],
    [t.group],
  );
});

interface Flight {
  date: Date;
  delay: bigint;
  distance: bigint;
  origin: string;
  destination: string;
}

function worker(state: string): Worker {
  const w = spawnSkewless(
    [
      'run',
      'topologies/flight-network.ts',
      '--state',
      state,
      '--group',
      t.group,
      '--topic',
      `flights=${t.flights}`,
      '--output-topic',
      `flight_features=${t.features}`,
      '--side-prefix',
      t.side,
      // Failover within seconds of the SIGKILL instead of the default 10 s.
      '--session-timeout-ms',
      '6000',
      // The last rows wait for every origin task to be caught up and quiet this long.
      '--idle-ms',
      '2000',
      // Many small transactions: the kill lands between commits of a task that is still busy.
      '--max-batch',
      '97',
    ],
    stack.env,
  );
  workers.push(w);
  return w;
}

/** `w` has logged `pattern` after the first `from` characters of its log. */
const logged = (w: Worker, pattern: RegExp, from = 0): Promise<void> => until(`${pattern} in a worker's log`, [w], () => pattern.test(w.log.slice(from)));

/** The group has committed every input offset of the flights topic. */
const caughtUp = (ws: readonly Worker[]): Promise<void> => inputCommitted(stack.brokers, t.group, t.flights, ws);

/**
 * The feature topic holds a committed vector for every flight. Committed input offsets are not
 * enough: a row leaves only once its destination's answer came back, and the last hour of rows
 * only once every origin task has been caught up and quiet for --idle-ms.
 */
async function servedAll(ws: readonly Worker[]): Promise<void> {
  await until(`a vector for each of the ${ROWS} flights`, ws, async () => {
    const live = await readLiveVectors(stack.brokers, stack.registryUrl, output, t.features);
    return new Set(live.map((v) => v.id)).size >= ROWS;
  }, 90_000, 1000);
}

/** Epoch ms of a decoded timestamp-millis (a Date or a number, depending on the reader). */
const millis = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));

/**
 * Live vectors by flight, independent of partitioning: its origin (the record key) and its rank
 * among that origin's vectors in input offset order (one origin's flights all go to one
 * partition, in file order).
 */
function byFlight(live: readonly LiveVector[]): Map<string, Record<string, unknown>> {
  const values = live.map((v) => v.value).filter((v): v is Record<string, unknown> => v !== undefined);
  values.sort((a, b) => (a.key !== b.key ? (String(a.key) < String(b.key) ? -1 : 1) : Number(a.offset) - Number(b.offset)));
  const out = new Map<string, Record<string, unknown>>();
  let prev = '';
  let rank = 0;
  for (const v of values) {
    rank = v.key === prev ? rank + 1 : 0;
    prev = String(v.key);
    out.set(`${prev}#${rank}`, v);
  }
  return out;
}

test('live regrouping through repartition topics, across a SIGKILL and a stale restart, equals replay and plain loops over all flights', { timeout: 300_000 }, async () => {
  const flights = (await parquetReadObjects({ file: arrayBuffer(readFileSync(slice)) })) as unknown as Flight[];
  assert.equal(flights.length, ROWS);
  // The two halves in file order (the arrival order), as NDJSON for produceInSlices.
  const halves = [flights.slice(0, ROWS / 2), flights.slice(ROWS / 2)].map((part, i) => {
    const file = join(dir, `half-${i}.ndjson`);
    const lines = part.map((f) => JSON.stringify({ date: f.date.getTime(), delay: Number(f.delay), distance: Number(f.distance), origin: f.origin, destination: f.destination }));
    writeFileSync(file, `${lines.join('\n')}\n`);
    mkdirSync(join(dir, `slices-${i}`));
    return file;
  });
  // Each half takes about 10 s to arrive: longer than a worker takes to start and to serve its
  // first vectors, and than the failover after the session timeout.
  const produceHalf = (i: number): Promise<number> =>
    produceInSlices({ plan, source: 'flights', input: halves[i], topic: t.flights, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl, dir: join(dir, `slices-${i}`), slices: 8, pauseMs: 1200 });

  // The first half arrives while both workers start and run.
  const first = produceHalf(0);
  await waitForTopic(stack.brokers, t.flights);
  const rootA = join(dir, 'host-a');
  const rootB = join(dir, 'host-b');
  const a = worker(rootA);
  const b = worker(rootB);
  await logged(a, /assigned partitions \d/);
  await logged(b, /assigned partitions \d/);
  await until('the first vectors', [a, b], async () => (await topicEndOffsets(stack.brokers, t.features)) > 0);
  // B dies without leaving while it owns partitions and rows are being served: its open
  // transaction (vectors, changelog, repartition records, offsets) must vanish as a whole.
  b.kill('SIGKILL');
  await exited(b);
  const killedAt = a.log.length;
  assert.equal(await first, ROWS / 2);

  // The second half arrives while A takes B's partitions over after the session timeout ...
  const second = produceHalf(1);
  await logged(a, /assigned partitions 0, 1, 2\b/, killedAt);
  // ... and B comes back on its own root, now behind the changelog: partitions move back to it.
  const b2 = worker(rootB);
  await logged(b2, /assigned partitions \d/);
  assert.equal(await second, ROWS / 2);
  await caughtUp([a, b2]);
  await servedAll([a, b2]);
  for (const w of [a, b2]) w.kill('SIGTERM');
  assert.equal(await exited(a), 0, a.log);
  assert.equal(await exited(b2), 0, b2.log);

  // Live against the replay of the same topic, per (partition, offset) and byte for byte.
  const out = join(dir, 'replay');
  const summary = await replayKafka({ plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: { flights: t.flights }, out, workers: 1 });
  // Nothing is late or dead-lettered in a date-sorted file with 1 h grace, so every flight has a
  // vector and the brute force below may count every flight.
  assert.deepEqual({ processed: summary.counters.processed, late: summary.counters.late, deadLetters: summary.counters.deadLetters }, { processed: ROWS, late: 0, deadLetters: 0 });
  const live = await readLiveVectors(stack.brokers, stack.registryUrl, output, t.features);
  const cmp = compareVectors(live, await readReplayVectors(out, output.name), output);
  assert.equal(cmp.expected, ROWS, 'the replay computed one vector per flight');
  assert.deepEqual(
    { lost: cmp.lost, duplicates: cmp.duplicates, divergent: cmp.divergent, unexpected: cmp.unexpected, misplaced: cmp.misplaced },
    { lost: 0, duplicates: 0, divergent: 0, unexpected: 0, misplaced: 0 },
    cmp.examples.join('\n'),
  );
  assert.equal(live.length, ROWS, 'one committed vector per flight');

  // A sample against plain loops over every flight: the first flights (empty windows: count 0,
  // mean null) and a seeded draw over the rest.
  const byDest = new Map<string, Array<{ t: number; delay: number }>>();
  const ranks: number[] = [];
  const seen = new Map<string, number>();
  for (const f of flights) {
    const list = byDest.get(f.destination) ?? [];
    list.push({ t: f.date.getTime(), delay: Number(f.delay) });
    byDest.set(f.destination, list);
    const r = seen.get(f.origin) ?? 0;
    seen.set(f.origin, r + 1);
    ranks.push(r);
  }
  const rng = mulberry32(20010101);
  const sample = new Set<number>(Array.from({ length: 20 }, (_, i) => i));
  while (sample.size < 200) sample.add(Math.floor(rng() * ROWS));
  const served = byFlight(live);
  let nullMeans = 0;
  let nonZeroCounts = 0;
  for (const i of sample) {
    const f = flights[i];
    const id = `${f.origin}#${ranks[i]}`;
    const v = served.get(id);
    assert.ok(v, `a live vector for flight ${i} (${id})`);
    const at = f.date.getTime();
    assert.equal(millis(v.event_time), at, `${id} is flight ${i}`);
    let n1h = 0;
    let n24h = 0;
    let sum24h = 0;
    for (const x of byDest.get(f.destination)!) {
      if (x.t > at - 5 * M - H && x.t <= at - 5 * M) n1h++;
      if (x.t > at - 5 * M - 24 * H && x.t <= at - 5 * M) {
        n24h++;
        sum24h += x.delay;
      }
    }
    const what = `flight ${i} (${f.origin} → ${f.destination} at ${f.date.toISOString()})`;
    assert.equal(typeof v.dest_flights_1h === 'bigint' ? Number(v.dest_flights_1h) : v.dest_flights_1h, n1h, `dest_flights_1h of ${what}`);
    const mean = v.dest_delay_mean_24h;
    if (n24h === 0) {
      assert.equal(mean, null, `dest_delay_mean_24h of ${what}: no flight in the window`);
      nullMeans++;
    } else {
      const expected = sum24h / n24h;
      assert.equal(typeof mean, 'number', `dest_delay_mean_24h of ${what}: ${String(mean)}, expected ${expected}`);
      // Relative, with 1 as the floor so that a mean of 0 is not held to exactly 0.
      assert.ok(Math.abs((mean as number) - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `dest_delay_mean_24h of ${what}: ${String(mean)}, expected ${expected}`);
    }
    if (n1h > 0) nonZeroCounts++;
  }
  assert.ok(nullMeans > 0 && nonZeroCounts > 100, `the sample has both empty and busy windows (${nullMeans} null means, ${nonZeroCounts} non-zero counts)`);

  // The answers went through Kafka, not through memory of one process: both repartition topics hold records.
  const logs = [a, b, b2].map((w) => w.log).join('\n');
  assert.ok((await topicEndOffsets(stack.brokers, regroupTopic)) > 0, `${regroupTopic} holds records`);
  assert.ok((await topicEndOffsets(stack.brokers, answersTopic)) > 0, `${answersTopic} holds records`);
  assert.ok(logs.includes(regroupTopic), `the workers name their repartition topics:\n${logs}`);
  // One source: the merge has nothing to skip, whatever the timing.
  assert.doesNotMatch(logs, /merge skip/, 'no idle input skipped');
  // The internal topics are transactional: their markers are not gaps (group-consumer.test.ts).
  assert.doesNotMatch(logs, /regroup(-answers)? fetched from offset \d+ but the state needs/, 'no seek on an internal topic');
  assert.doesNotMatch(logs, /does not hold/, 'every answer found its row');
  // No assertion on idle releases: besides the end of the input, they also happen whenever the
  // survivor's tasks are quiet for --idle-ms while the killed worker's partitions wait out the
  // session timeout, and how many depends on timing. With 1 h grace and date-sorted input they
  // cannot change a value, which the comparisons above check.
});
