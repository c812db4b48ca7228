/**
 * A replay frees quiet keys' state at its checkpoints as a live worker does at its commits
 * (Task.sweepExpired): a key whose last event is its longest window plus grace behind stream time
 * leaves no events in the state store, so a state kept for bootstrap holds (and seeds the
 * changelog with) the keys that can still reach an output, not every key of the history.
 *
 * Before, replay never swept: a kept state held the events of every key it had met (here 5,000
 * origins and their 15,000 routes that flew three times in the first week and never again).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { replayPartitions } from '../../src/modes/replay-partitions.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { LevelBackend } from '../../src/state/state-backend.js';
import { taskStateDir } from '../../src/state/task-state-dir.js';
import { timelinesPrefix } from '../../src/state/task-state-keys.js';
import { ROOT } from '../helpers/live-run.js';
import { assertOriginHour } from '../helpers/minute-flights.js';
import { arrayBuffer, parquetFiles } from '../helpers/training-files.js';

const dir = mkdtempSync(join(tmpdir(), 'skewless-replay-expiry-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const N = 30_000;
const HALF = N / 2;
const T0 = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;
/** flight-delays: grace 1 h, longest window 7 days (origin_delay_std_7d, route_delay_mean_7d). */
const GRACE = 60 * MINUTE;
const LONGEST = 7 * 24 * 60 * MINUTE;
const PARTITIONS = 4;

/**
 * Flight i departs at T0 + i minutes. In the first half each origin A<i div 3> flies three
 * times a minute apart and never again; in the second half 100 origins B<k> fly three times
 * every 300 minutes to the same destinations each time, until the end.
 */
function flight(i: number): { date: number; delay: number; distance: number; origin: string; destination: string } {
  const origin = i < HALF ? `A${Math.floor(i / 3)}` : `B${Math.floor(i / 3) % 100}`;
  return { date: T0 + i * MINUTE, delay: ((i * 37) % 90) - 20, distance: 100 + (i % 500), origin, destination: `D${i % 50}` };
}

const input = join(dir, 'flights.ndjson');
writeFileSync(input, Array.from({ length: N }, (_, i) => `${JSON.stringify(flight(i))}\n`).join(''));

/** Per group (origin, route) and key: the time of its last flight, by brute force over the input. */
function lastFlights(): Map<string, number> {
  const last = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const f = flight(i);
    last.set(`origin ${f.origin}`, f.date);
    last.set(`route ${f.origin}-${f.destination}`, f.date);
  }
  return last;
}

/** `<group>/<len>:<key>/<tail>` under a task's timelines prefix: group, key and tail ('h' or 'e/...'). */
function parseStoreKey(rest: string): { group: string; key: string; tail: string } {
  const slash = rest.indexOf('/');
  const colon = rest.indexOf(':', slash);
  const len = Number(rest.slice(slash + 1, colon));
  return { group: rest.slice(0, slash), key: rest.slice(colon + 1, colon + 1 + len), tail: rest.slice(colon + 2 + len) };
}

/** Per `<group> <key>`: how many event entries (segments) the kept state stores hold. */
async function storedEvents(stateDir: string): Promise<Map<string, number>> {
  const events = new Map<string, number>();
  for (let p = 0; p < PARTITIONS; p++) {
    const backend = await LevelBackend.open(taskStateDir(stateDir, p));
    try {
      const prefix = timelinesPrefix(p);
      for (const [k] of await backend.scan(prefix)) {
        const { group, key, tail } = parseStoreKey(k.slice(prefix.length));
        const id = `${group} ${key}`;
        if (tail.startsWith('e/')) events.set(id, (events.get(id) ?? 0) + 1);
        else if (!events.has(id)) events.set(id, 0);
      }
    } finally {
      await backend.close();
    }
  }
  return events;
}

interface Row {
  readonly event_time: bigint | number | Date;
  readonly origin_flights_1h: bigint | number;
  readonly origin_delay_mean_1h: number | null;
}

async function rows(out: string): Promise<Row[]> {
  const all: Row[] = [];
  for (const f of parquetFiles(out).filter((x) => x.startsWith('flight_features/'))) {
    for (const r of (await parquetReadObjects({ file: arrayBuffer(readFileSync(join(out, f))) })) as unknown as Row[]) all.push(r);
  }
  return all;
}

test("a replay's kept state holds no events of keys quiet for their longest window plus grace, and every event of the others", async () => {
  const plan = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
  const stateDir = join(dir, 'state');
  const out = join(dir, 'out');
  const s = await replayPartitions({ plan, input: { kind: 'files', inputs: { flights: input }, partitions: PARTITIONS }, out, stateDir });
  assert.equal(s.counters.processed, N);

  const streamTime = T0 + (N - 1) * MINUTE;
  const horizon = streamTime - GRACE - LONGEST;
  const last = lastFlights();
  const stored = await storedEvents(stateDir);
  const quiet = [...last].filter(([, t]) => t <= horizon).map(([id]) => id);
  const active = [...last].filter(([, t]) => t > horizon).map(([id]) => id);
  // 5,000 one-off origins and their 15,000 routes (three destinations each); the 100 B origins and their 300 routes.
  assert.equal(quiet.length, 20_000);
  assert.equal(active.length, 400);
  const holding = quiet.filter((id) => (stored.get(id) ?? 0) > 0);
  assert.deepEqual(holding.slice(0, 5), [], `${holding.length} of ${quiet.length} quiet keys still hold events in the kept state`);
  for (const id of active) assert.ok((stored.get(id) ?? 0) > 0, `${id} flew within the last week and must keep its events`);
  assert.equal(s.stateCache?.expiredKeys, 20_000);

  // The values, by brute force over the input. Flight i departs at T0 + i minutes: its event time
  // names it (offsets count per partition).
  const got = await rows(out);
  assert.equal(got.length, N);
  for (const r of got) assertOriginHour(flight, ((r.event_time instanceof Date ? r.event_time.getTime() : Number(r.event_time)) - T0) / MINUTE, r);
});

test('a replay that checkpoints part way (a small --cache-keys) frees quiet keys there too and writes the files of one that never checkpoints', async () => {
  const plan = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
  const spec = { kind: 'files' as const, inputs: { flights: input }, partitions: PARTITIONS };
  const bounded = await replayPartitions({ plan, input: spec, out: join(dir, 'bounded'), stateDir: join(dir, 'state-bounded'), cacheKeys: 200, discardState: true });
  const roomy = await replayPartitions({ plan, input: spec, out: join(dir, 'roomy'), stateDir: join(dir, 'state-roomy'), discardState: true });
  assert.ok((bounded.stateCache?.checkpoints ?? 0) > 0, JSON.stringify(bounded.stateCache));
  assert.ok((bounded.stateCache?.expiredKeys ?? 0) > 1000, `quiet keys freed at the checkpoints: ${JSON.stringify(bounded.stateCache)}`);
  assert.equal(roomy.stateCache?.checkpoints, 0);
  assert.equal(roomy.stateCache?.expiredKeys, 0, 'no checkpoint, nothing swept');
  const files = parquetFiles(join(dir, 'roomy'));
  assert.deepEqual(parquetFiles(join(dir, 'bounded')), files);
  assert.ok(files.length > 0);
  for (const f of files) assert.ok(readFileSync(join(dir, 'bounded', f)).equals(readFileSync(join(dir, 'roomy', f))), `${f} differs`);
});
