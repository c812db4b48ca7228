/**
 * A replay keeps its keys' state in memory up to a bound, as a live worker does, and lowers the
 * bound itself when its heap runs short (src/modes/heap-pressure.ts): a history with more keys
 * than the heap holds finishes, with the rows of a replay that kept everything in memory.
 *
 * Before, a replay kept every key's state in memory until its end (it checkpointed only then):
 * a backfill of 150,000 flights over 160,000 origin and route keys died with "JavaScript heap out
 * of memory" in a process whose old generation was 256 MiB, and `--cache-keys` was refused by
 * `skewless backfill` as an unknown option. A regrouped replay's pass 2 (regrouped keys,
 * src/modes/replay-regrouped.ts) kept every regrouped key in memory still after that: a backfill
 * of flight-network over 77,500 destinations died the same way in the same heap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { replayFiles } from '../../src/modes/replay-files.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { BIN, ROOT } from '../helpers/live-run.js';
import { assertOriginHour } from '../helpers/minute-flights.js';
import { arrayBuffer, parquetFiles } from '../helpers/training-files.js';

const dir = mkdtempSync(join(tmpdir(), 'skewless-bounded-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const N = 150_000;
const ORIGINS = 40_000;
const T0 = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;

/**
 * Flight i departs at T0 + i minutes from origin A<(i div 3) mod ORIGINS>: each origin has three
 * flights a minute apart, then none for 120,000 minutes (83 days, longer than any window of
 * flight-delays). Destinations cycle through 50: 120,000 routes, each flown again 83 days later.
 */
function flight(i: number): { date: number; delay: number; distance: number; origin: string; destination: string } {
  return { date: T0 + i * MINUTE, delay: ((i * 37) % 90) - 20, distance: 100 + (i % 500), origin: `A${Math.floor(i / 3) % ORIGINS}`, destination: `D${i % 50}` };
}

const input = join(dir, 'flights.ndjson');
writeFileSync(input, Array.from({ length: N }, (_, i) => `${JSON.stringify(flight(i))}\n`).join(''));

interface Row {
  readonly offset: bigint | number;
  readonly origin_flights_1h: bigint | number;
  readonly origin_delay_mean_1h: number | null;
}

/** The flight_features rows a replay wrote into `out`. */
async function rows<T>(out: string): Promise<T[]> {
  const files = parquetFiles(out).filter((f) => f.startsWith('flight_features/'));
  const all: T[] = [];
  for (const f of files) for (const r of (await parquetReadObjects({ file: arrayBuffer(readFileSync(join(out, f))) })) as unknown as T[]) all.push(r);
  return all;
}

interface SmallHeapSummary {
  readonly counters: { readonly processed: number };
  readonly stateCache: { readonly checkpoints: number; readonly evictions: number; readonly bound: number; readonly lowestBound: number };
}

/**
 * `skewless backfill <topology>` of `input` into `out` in a process whose old generation is
 * 256 MiB, one thread: it must finish, every flight processed, having lowered its cache bound.
 */
function smallHeapBackfill(topology: string, input: string, out: string): SmallHeapSummary {
  const run = spawnSync(process.execPath, ['--max-old-space-size=256', BIN, 'backfill', topology, '--input', `flights=${input}`, '--out', out, '--workers', '1', '--json'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  assert.equal(run.status, 0, `backfill with a 256 MiB old generation failed: ${run.stderr.slice(-2000)}`);
  const summary = JSON.parse(run.stdout) as SmallHeapSummary;
  assert.equal(summary.counters.processed, N);
  assert.ok(summary.stateCache.lowestBound < summary.stateCache.bound, `the bound was not lowered: ${JSON.stringify(summary.stateCache)}`);
  return summary;
}

/** A replay of `input` in this process's default heap writes the files `small` holds, byte for byte, without moving state out. */
async function assertAsRoomy(topology: string, input: string, small: string, roomy: string): Promise<void> {
  const plan = await loadTopology(join(ROOT, topology));
  const kept = await replayFiles({ plan, inputs: { flights: input }, out: roomy, workers: 1 });
  assert.equal(kept.stateCache?.checkpoints, 0, 'the default heap holds these keys: no state moved out');
  assertSameFiles(small, roomy);
}

/** The training files of two runs, byte for byte (the input, and so the footers' input ranges, are the same). */
function assertSameFiles(a: string, b: string): void {
  const files = parquetFiles(a);
  assert.deepEqual(parquetFiles(b), files);
  assert.ok(files.length > 0);
  for (const f of files) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs`);
}

test('a backfill whose keys outgrow the heap lowers its cache bound, finishes, and writes the rows of one that kept every key in memory', async () => {
  const small = join(dir, 'small-heap');
  const summary = smallHeapBackfill('topologies/flight-delays.ts', input, small);
  assert.ok(summary.stateCache.checkpoints > 0 && summary.stateCache.evictions > 0, JSON.stringify(summary.stateCache));
  await assertAsRoomy('topologies/flight-delays.ts', input, small, join(dir, 'roomy'));

  // The values themselves, by brute force over the generated flights.
  const got = await rows<Row>(small);
  assert.equal(got.length, N);
  for (const r of got) assertOriginHour(flight, Number(r.offset), r);
});

test('--cache-keys bounds the keys each task keeps: two threads and four partitions evict, and write the same files as a replay that evicts nothing', async () => {
  const plan = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
  const bounded = join(dir, 'bounded');
  const free = join(dir, 'free');
  const a = await replayFiles({ plan, inputs: { flights: input }, out: bounded, partitions: 4, workers: 2, cacheKeys: 500 });
  const b = await replayFiles({ plan, inputs: { flights: input }, out: free, partitions: 4, workers: 2 });
  assert.ok((a.stateCache?.checkpoints ?? 0) > 4 && (a.stateCache?.evictions ?? 0) > 10_000, JSON.stringify(a.stateCache));
  assert.equal(a.stateCache?.lowestBound, 500);
  assert.equal(b.stateCache?.checkpoints, 0);
  assertSameFiles(bounded, free);
});

/**
 * For flight-network (regrouped by destination): even flights go to a destination of their own
 * (75,000 of them), odd ones to one of 2,500 flown every two minutes for an hour.
 */
function networkFlight(i: number): { date: number; delay: number; distance: number; origin: string; destination: string } {
  return { ...flight(i), destination: i % 2 === 0 ? `U${i}` : `R${Math.floor(i / 60)}` };
}

const networkInput = join(dir, 'network.ndjson');
writeFileSync(networkInput, Array.from({ length: N }, (_, i) => `${JSON.stringify(networkFlight(i))}\n`).join(''));

interface NetworkRow {
  readonly offset: bigint | number;
  readonly dest_flights_1h: bigint | number;
  readonly dest_delay_mean_24h: number | null;
}

test('a regrouped backfill whose destinations outgrow the heap moves them out of memory in pass 2 too, and writes the rows of one that kept them', async () => {
  const small = join(dir, 'network-small-heap');
  const summary = smallHeapBackfill('topologies/flight-network.ts', networkInput, small);
  // Pass 1's 40,000 origins fit: what moved out is pass 2's destinations.
  assert.ok(summary.stateCache.checkpoints > 0 && summary.stateCache.evictions > 10_000, JSON.stringify(summary.stateCache));
  await assertAsRoomy('topologies/flight-network.ts', networkInput, small, join(dir, 'network-roomy'));

  // By brute force: the flights to the same destination, from any origin, that departed in
  // (t − 5 min − W, t − 5 min], their count over the hour and mean delay over the day.
  const byDest = new Map<string, number[]>();
  for (let i = 0; i < N; i++) {
    const d = networkFlight(i).destination;
    if (!byDest.has(d)) byDest.set(d, []);
    byDest.get(d)!.push(i);
  }
  const got = await rows<NetworkRow>(small);
  assert.equal(got.length, N);
  let withHistory = 0;
  for (const r of got) {
    const i = Number(r.offset);
    const f = networkFlight(i);
    const asOf = f.date - 5 * MINUTE;
    const earlier = (w: number): number[] => byDest.get(f.destination)!.map(networkFlight).filter((e) => e.date > asOf - w && e.date <= asOf).map((e) => e.delay);
    assert.equal(Number(r.dest_flights_1h), earlier(3_600_000).length, `flight ${i}`);
    const day = earlier(86_400_000);
    if (day.length > 0) withHistory++;
    const mean = day.length === 0 ? null : day.reduce((a, b) => a + b, 0) / day.length;
    if (mean === null) assert.equal(r.dest_delay_mean_24h, null, `flight ${i}`);
    else assert.ok(Math.abs((r.dest_delay_mean_24h ?? NaN) - mean) < 1e-9, `flight ${i}: ${r.dest_delay_mean_24h} against ${mean}`);
  }
  assert.ok(withHistory > 60_000, `${withHistory} rows with a destination history`);
});

test('--cache-keys bounds the pass 2 of a regrouped replay as well: two threads, four partitions, the files of a replay that evicts nothing', async () => {
  // 200 origins: pass 1 stays under the bound, so whatever moves out of memory is pass 2's.
  const input = join(dir, 'network-200-origins.ndjson');
  writeFileSync(input, Array.from({ length: N }, (_, i) => `${JSON.stringify({ ...networkFlight(i), origin: `A${i % 200}` })}\n`).join(''));
  const plan = await loadTopology(join(ROOT, 'topologies/flight-network.ts'));
  const bounded = join(dir, 'network-bounded');
  const free = join(dir, 'network-free');
  const a = await replayFiles({ plan, inputs: { flights: input }, out: bounded, partitions: 4, workers: 2, cacheKeys: 500 });
  const b = await replayFiles({ plan, inputs: { flights: input }, out: free, partitions: 4, workers: 2 });
  assert.ok((a.stateCache?.evictions ?? 0) > 40_000, JSON.stringify(a.stateCache));
  assert.equal(a.stateCache?.lowestBound, 500);
  // The one-off destinations go quiet: pass 2's checkpoints free them as a live commit would, and no answer changes.
  assert.ok((a.stateCache?.expiredKeys ?? 0) > 10_000, `quiet destinations freed: ${JSON.stringify(a.stateCache)}`);
  assert.equal(b.stateCache?.checkpoints, 0);
  assertSameFiles(bounded, free);
});
