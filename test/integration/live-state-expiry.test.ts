/**
 * Quiet keys' state in a live worker, on the local stack: airports and routes that fly for a
 * few days, stop for longer than their windows, and fly again, over two months of flights. Before, a worker kept the last week of
 * events of every route it ever saw, in LevelDB and in the changelog, for good. Now each task
 * sweeps its store as it commits (Task.sweepExpired): a route quiet for its longest window
 * (7 days) plus grace loses its events and its head, an airport (whose time since its last
 * flight is a feature) keeps a small head. Nothing served may change: every vector once and
 * equal to the replay, across a SIGKILL and a restore of the swept state from the changelog
 * into an empty state directory; and at the end the store holds a head for exactly the routes
 * still in a window (counted by hand from the flights).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { kafkaPartition } from '../../src/io/partitioning.js';
import { LevelBackend } from '../../src/state/state-backend.js';
import { taskStateDir } from '../../src/state/task-state-dir.js';
import { timelinesPrefix } from '../../src/state/task-state-keys.js';
import { compareVectors, exited, inputCommitted, readLiveVectors, readReplayVectors, summedMetric, until, type Worker } from '../helpers/live-run.js';
import { FlightLiveRun } from '../helpers/flight-live-run.js';
import { Rng } from '../helpers/prng.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const PARTITIONS = 2;
const live = await FlightLiveRun.create(stack, 'quiet');
const { topic, features, plan, dir } = live;
const worker = (state: string): Worker => live.startWorker(state, ['--metrics-port', '0', '--fetch-bytes', '65536']);

/** Timeline heads and segments of group `group` in the stores under `state` (the worker stopped). */
async function storedTimelines(state: string, groupName: string): Promise<{ heads: number; segments: number }> {
  let heads = 0;
  let segments = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    const store = await LevelBackend.open(taskStateDir(state, p));
    try {
      for (const [k] of await store.scan(`${timelinesPrefix(p)}${groupName}/`)) {
        if (k.endsWith('/h')) heads++;
        else segments++;
      }
    } finally {
      await store.close();
    }
  }
  return { heads, segments };
}

test('a live worker frees quiet routes\' state as it commits and serves exactly the replay, across a SIGKILL and a restore from the changelog', { timeout: 240_000 }, async () => {
  // 60 days; every 4 days one of four sets of 4 airports takes over, each flying to the others and
  // to 3 hubs: a set is quiet for 12 days (longer than the 7-day windows plus the 1 h grace),
  // then flies again, so swept keys come back.
  const rng = new Rng(17);
  const t0 = Date.UTC(2001, 0, 1);
  const DAY = 86_400_000;
  const hubs = ['ORD', 'ATL', 'DEN'];
  const flights: Array<{ date: number; delay: number; distance: number; origin: string; destination: string }> = [];
  for (let i = 0; i < 6000; i++) {
    const date = t0 + Math.floor((i * 60 * DAY) / 6000);
    const set = Math.floor((date - t0) / (4 * DAY)) % 4;
    const locals = [0, 1, 2, 3].map((k) => `S${set}${String.fromCharCode(65 + k)}`);
    const origin = rng.pick(rng.int(0, 9) < 2 ? hubs : locals);
    let destination = rng.pick([...locals, ...hubs]);
    if (destination === origin) destination = hubs[0] === origin ? hubs[1] : hubs[0];
    flights.push({ date, delay: rng.int(-15, 120), distance: 500, origin, destination });
  }
  const lines = flights.map((f) => JSON.stringify(f));
  const file = join(dir, 'flights.ndjson');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const part = (name: string, from: number, to: number): string => {
    const path = join(dir, name);
    writeFileSync(path, `${lines.slice(from, to).join('\n')}\n`);
    return path;
  };
  const produce = (input: string) => produceFile({ plan, source: 'flights', input, topic, partitions: PARTITIONS, brokers: stack.brokers, registryUrl: stack.registryUrl });
  const replayOut = join(dir, 'replay');
  await replayFiles({ plan, inputs: { flights: file }, out: replayOut, partitions: PARTITIONS, workers: 1 });
  // By hand: the routes a task still needs once it has applied the first `n` flights (its stream time is its
  // last flight's date); the others have had no flight since 7 days and 1 h before that.
  const FIRST = 4000;
  const activeRoutes = (n: number): { active: number; routes: number } => {
    const lastFlight = new Map<string, { partition: number; date: number }>();
    const streamTime = new Array<number>(PARTITIONS).fill(-Infinity);
    for (const f of flights.slice(0, n)) {
      const partition = kafkaPartition(f.origin, PARTITIONS);
      lastFlight.set(`${f.origin}-${f.destination}`, { partition, date: f.date });
      streamTime[partition] = Math.max(streamTime[partition], f.date);
    }
    return { active: [...lastFlight.values()].filter((r) => r.date > streamTime[r.partition] - 3_600_000 - 7 * DAY).length, routes: lastFlight.size };
  };
  const end = activeRoutes(flights.length);
  assert.ok(end.active < end.routes * 0.7 && activeRoutes(FIRST).active < activeRoutes(FIRST).routes * 0.7, `routes still in a window: ${JSON.stringify(end)}`);

  // The first 40 days, then a SIGKILL.
  await produce(part('first.ndjson', 0, FIRST));
  const first = worker(join(dir, 'state-1'));
  await inputCommitted(stack.brokers, live.group, topic, [first]);
  await until('the sweep to free quiet keys', [first], async () => ((await summedMetric(first, 'skewless_state_expired_keys_total')) ?? 0) > 0, 30_000);
  first.kill('SIGKILL');
  await exited(first);

  // The rest, on a new host: the swept state restored from the changelog alone, then stopped cleanly.
  await produce(part('rest.ndjson', FIRST, flights.length));
  const second = worker(join(dir, 'state-2'));
  await inputCommitted(stack.brokers, live.group, topic, [second]);
  second.kill('SIGTERM');
  await exited(second);
  // A route has no time-since-last feature: a quiet one keeps nothing, every other keeps its head.
  assert.equal((await storedTimelines(join(dir, 'state-2'), 'route')).heads, end.active, `route heads kept of ${end.routes} routes`);

  const output = buildProgram(plan).outputs[0];
  const c = compareVectors(await readLiveVectors(stack.brokers, stack.registryUrl, output, features), await readReplayVectors(replayOut, output.name), output);
  assert.equal(c.expected, 6000);
  assert.deepEqual({ lost: c.lost, duplicates: c.duplicates, divergent: c.divergent, unexpected: c.unexpected }, { lost: 0, duplicates: 0, divergent: 0, unexpected: 0 }, c.examples.join('\n'));
});
