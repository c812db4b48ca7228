/**
 * Warm standby copies on the local stack (`run --standby 1`): two workers on separate state
 * roots each keep copies of the other's tasks, following their changelog partitions. When one
 * is SIGKILLed mid-backlog, the other takes its tasks and catches each up from the changelog's
 * tail onto its copy instead of rebuilding it from the changelog's start; nothing served is
 * lost, doubled or different from the replay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import { changelogTopic } from '../../src/modes/live/changelog.js';
import { changelogEnds, compareVectors, exited, inputCommitted, readLiveVectors, readReplayVectors, summedMetric, until, type Worker } from '../helpers/live-run.js';
import { FlightLiveRun } from '../helpers/flight-live-run.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const PARTITIONS = 4;
const live = await FlightLiveRun.create(stack, 'standby');
const { topic, features, plan, dir } = live;
const worker = (state: string): Worker => live.startWorker(state, ['--standby', '1', '--metrics-port', '0', '--fetch-bytes', '16384', '--session-timeout-ms', '6000']);

test('a SIGKILLed worker\'s tasks are caught up from the changelog\'s tail onto the survivor\'s standby copies, and serve exactly the replay', { timeout: 240_000 }, async () => {
  const lines = FlightLiveRun.randomFlights(23, 16_000, 40);
  const write = (name: string, part: readonly string[]): string => live.writeLines(name, part);
  const produce = (input: string) => live.produce(input, PARTITIONS);
  const replayOut = await live.replay(write('flights.ndjson', lines), PARTITIONS);

  const FIRST = 10_000;
  await produce(write('first.ndjson', lines.slice(0, FIRST)));
  const a = worker(join(dir, 'state-a'));
  const b = worker(join(dir, 'state-b'));
  await inputCommitted(stack.brokers, live.group, topic, [a, b]);
  // Each keeps copies of the other's two tasks, up to the changelog's committed end.
  const copies = async (w: Worker): Promise<number> => (await summedMetric(w, 'skewless_standby_copies')) ?? 0;
  const lag = async (w: Worker): Promise<number> => (await summedMetric(w, 'skewless_standby_lag_offsets')) ?? Infinity;
  await until('each worker to hold current copies of the other\'s tasks', [a, b], async () => (await copies(a)) === 2 && (await copies(b)) === 2 && (await lag(a)) <= 2 && (await lag(b)) <= 2, 60_000);
  const aTasks = /assigned partitions ([\d, ]+)\n(?![\s\S]*assigned partitions)/.exec(a.log)![1].split(', ').map(Number);
  assert.equal(aTasks.length, 2, a.log);
  const synced = await changelogEnds(stack.brokers, changelogTopic(live.group, plan.version));

  // The rest of the backlog; A dies while it works through it.
  await produce(write('rest.ndjson', lines.slice(FIRST)));
  await until('A to commit more of its tasks\' state', [a, b], async () => {
    const ends = await changelogEnds(stack.brokers, changelogTopic(live.group, plan.version));
    return aTasks.every((p) => (ends.get(p) ?? 0) > (synced.get(p) ?? 0) + 20);
  }, 60_000, 50);
  a.kill('SIGKILL');
  await exited(a);
  await inputCommitted(stack.brokers, live.group, topic, [b]);
  const ends = await changelogEnds(stack.brokers, changelogTopic(live.group, plan.version));
  b.kill('SIGTERM');
  await exited(b);

  for (const p of aTasks) {
    assert.doesNotMatch(b.log, new RegExp(`task ${p}: rebuilding local state`), b.log);
    // Opened on B from its copy: caught up with what A committed since B's last round, far less than the whole changelog.
    const applied = new RegExp(`task ${p} ready at .* after applying ([\\d,]+) changelog records`).exec(b.log);
    const n = applied === null ? 0 : Number(applied[1].replace(/,/g, ''));
    assert.ok(n < (ends.get(p) ?? 0) / 3, `task ${p}: ${n} changelog records applied at failover, of ${ends.get(p)} offsets`);
  }
  const output = buildProgram(plan).outputs[0];
  const c = compareVectors(await readLiveVectors(stack.brokers, stack.registryUrl, output, features), await readReplayVectors(replayOut, output.name), output);
  assert.equal(c.expected, lines.length);
  assert.deepEqual({ lost: c.lost, duplicates: c.duplicates, divergent: c.divergent, unexpected: c.unexpected }, { lost: 0, duplicates: 0, divergent: 0, unexpected: 0 }, c.examples.join('\n'));
});
