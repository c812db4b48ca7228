/**
 * A worker that restarts on its state root gets its own tasks back. The assignor orders members
 * by the instance id kept in the state root (co-partitioned-assigner.ts); it ordered them by
 * member id, which is new at every start, so a restarted worker of two took the other's tasks
 * half the time and rebuilt them from their changelogs while the other took over its own (three
 * restarts in a row kept the assignment with probability 1/8). Every vector is still served
 * exactly once and equals the replay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import { compareVectors, exited, inputCommitted, lastAssigned, readLiveVectors, readReplayVectors, until, type Worker } from '../helpers/live-run.js';
import { FlightLiveRun } from '../helpers/flight-live-run.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const PARTITIONS = 4;
const live = await FlightLiveRun.create(stack, 'restart-assignment');
const { topic, features, plan, dir } = live;
const worker = (state: string): Worker => live.startWorker(state, ['--fetch-bytes', '16384', '--session-timeout-ms', '6000']);

test('a worker restarted on its state root gets its own tasks back, three times in a row, and serves exactly the replay', { timeout: 240_000 }, async () => {
  const lines = FlightLiveRun.randomFlights(29, 8_000, 30);
  const write = (name: string, part: readonly string[]): string => live.writeLines(name, part);
  const produce = (input: string) => live.produce(input, PARTITIONS);
  const replayOut = await live.replay(write('flights.ndjson', lines), PARTITIONS);

  const parts = [lines.slice(0, 2_000), lines.slice(2_000, 4_000), lines.slice(4_000, 6_000), lines.slice(6_000)];
  await produce(write('part-0.ndjson', parts[0]));
  const stateA = join(dir, 'state-a');
  let a = worker(stateA);
  const b = worker(join(dir, 'state-b'));
  const settled = async (w: Worker, n: number): Promise<boolean> => lastAssigned(w)?.length === n;
  await until('both workers to hold two tasks', [a, b], async () => (await settled(a, 2)) && (await settled(b, 2)));
  await inputCommitted(stack.brokers, live.group, topic, [a, b]);
  const aTasks = lastAssigned(a)!;

  for (let restart = 1; restart <= 3; restart++) {
    a.kill('SIGTERM');
    await exited(a);
    await until('B to take every task', [b], () => settled(b, 4));
    await produce(write(`part-${restart}.ndjson`, parts[restart]));
    a = worker(stateA);
    await until('the two workers to share the tasks again', [a, b], async () => (await settled(a, 2)) && (await settled(b, 2)));
    assert.deepEqual(lastAssigned(a), aTasks, `restart ${restart}: A's tasks\n${a.log}\n---\n${b.log}`);
    // Its tasks open on the local state it left, caught up from what B committed meanwhile.
    assert.doesNotMatch(a.log, /rebuilding local state/, a.log);
    await inputCommitted(stack.brokers, live.group, topic, [a, b]);
  }
  a.kill('SIGTERM');
  b.kill('SIGTERM');
  await Promise.all([exited(a), exited(b)]);

  const output = buildProgram(plan).outputs[0];
  const c = compareVectors(await readLiveVectors(stack.brokers, stack.registryUrl, output, features), await readReplayVectors(replayOut, output.name), output);
  assert.equal(c.expected, lines.length);
  assert.deepEqual({ lost: c.lost, duplicates: c.duplicates, divergent: c.divergent, unexpected: c.unexpected }, { lost: 0, duplicates: 0, divergent: 0, unexpected: 0 }, c.examples.join('\n'));
});
