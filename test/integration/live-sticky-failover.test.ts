/**
 * A failure among three workers moves only the dead worker's tasks, each onto the standby copy
 * kept for it (task-placement.ts). The group placed task P on member P mod M before, so when
 * one of three died the two survivors also swapped some of their own tasks (P mod 3 → P mod 2)
 * and caught those up from older copies or rebuilt them from their changelogs. Every vector is
 * still served exactly once and equals the replay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import { changelogTopic } from '../../src/modes/live/changelog.js';
import { changelogEnds, compareVectors, exited, inputCommitted, lastAssigned, readLiveVectors, readReplayVectors, summedMetric, until, type Worker } from '../helpers/live-run.js';
import { FlightLiveRun } from '../helpers/flight-live-run.js';
import { stackForTests } from '../helpers/stack.js';

const stack = await stackForTests();
const PARTITIONS = 6;
const live = await FlightLiveRun.create(stack, 'sticky-failover');
const { topic, features, plan, dir } = live;
const worker = (state: string): Worker => live.startWorker(state, ['--standby', '1', '--metrics-port', '0', '--fetch-bytes', '16384', '--session-timeout-ms', '6000']);

/** The tasks a worker was last told to keep standby copies of. */
function lastStandbys(w: Worker): number[] | undefined {
  const m = /standby copies of tasks ([\d, ]+|\(none\)) \((?![\s\S]*standby copies of tasks)/.exec(w.log);
  return m === null ? undefined : m[1] === '(none)' ? [] : m[1].split(', ').map(Number);
}

test('one of three workers SIGKILLed: the survivors keep every task they had and take the dead one\'s on their standby copies; restarted, it gets its own back; every vector served once as replay computes it', { timeout: 300_000 }, async () => {
  const lines = FlightLiveRun.randomFlights(31, 18_000, 40);
  const write = (name: string, part: readonly string[]): string => live.writeLines(name, part);
  const produce = (input: string) => live.produce(input, PARTITIONS);
  const replayOut = await live.replay(write('flights.ndjson', lines), PARTITIONS);

  const FIRST = 9_000;
  await produce(write('first.ndjson', lines.slice(0, FIRST)));
  // A and B first, then C, as workers that start one after another: the group forms by the sticky
  // rules (each of A and B keeps two of its three tasks and gives C the third).
  const workers = ['a', 'b'].map((name) => worker(join(dir, `state-${name}`)));
  await until('A and B to hold three tasks each', workers, async () => workers.every((w) => lastAssigned(w)?.length === 3), 90_000);
  workers.push(worker(join(dir, 'state-c')));
  const settled = async (): Promise<boolean> => workers.every((w) => lastAssigned(w)?.length === 2);
  await until('each of the three workers to hold two tasks', workers, settled, 90_000);
  await inputCommitted(stack.brokers, live.group, topic, workers);
  const copies = async (w: Worker): Promise<number> => (await summedMetric(w, 'skewless_standby_copies')) ?? 0;
  const lag = async (w: Worker): Promise<number> => (await summedMetric(w, 'skewless_standby_lag_offsets')) ?? Infinity;
  await until('each worker to hold current copies of two other tasks', workers, async () => {
    for (const w of workers) if ((await copies(w)) !== 2 || (await lag(w)) > 2) return false;
    return true;
  }, 60_000);
  const before = workers.map((w) => lastAssigned(w)!);
  const standbys = workers.map((w) => lastStandbys(w)!);
  assert.deepEqual(before.flat().sort((x, y) => x - y), [0, 1, 2, 3, 4, 5], before.join(' | '));

  // The rest of the backlog; the third worker dies while the others work through it.
  await produce(write('rest.ndjson', lines.slice(FIRST)));
  const [a, b, c] = workers;
  const synced = await changelogEnds(stack.brokers, changelogTopic(live.group, plan.version));
  await until('C to commit more of its tasks\' state', workers, async () => {
    const ends = await changelogEnds(stack.brokers, changelogTopic(live.group, plan.version));
    return before[2].every((p) => (ends.get(p) ?? 0) > (synced.get(p) ?? 0) + 20);
  }, 60_000, 50);
  // What the survivors log from here on is their failover (each may have rebuilt tasks while the group formed).
  const logFrom = [a.log.length, b.log.length];
  c.kill('SIGKILL');
  await exited(c);
  await until('the survivors to hold three tasks each', [a, b], async () => lastAssigned(a)?.length === 3 && lastAssigned(b)?.length === 3, 90_000);
  await inputCommitted(stack.brokers, live.group, topic, [a, b]);
  const ends = await changelogEnds(stack.brokers, changelogTopic(live.group, plan.version));

  const logs = (): string => `--- a\n${a.log}\n--- b\n${b.log}\n--- c\n${c.log}`;
  for (const [i, w] of [a, b].entries()) {
    const after = lastAssigned(w)!;
    const failover = w.log.slice(logFrom[i]);
    for (const p of before[i]) assert.ok(after.includes(p), `worker ${'ab'[i]} owned ${before[i].join(', ')}, then ${after.join(', ')}: task ${p} moved to the other survivor\n${logs()}`);
    for (const p of after.filter((q) => !before[i].includes(q))) {
      assert.ok(before[2].includes(p), `task ${p} was not the dead worker's\n${logs()}`);
      assert.ok(standbys[i].includes(p), `task ${p} went to ${'ab'[i]}, which kept copies of ${standbys[i].join(', ')}\n${logs()}`);
      assert.doesNotMatch(failover, new RegExp(`task ${p}: rebuilding local state`), logs());
      // Opened from its copy: at most what C committed since the copy's last round, far less than the whole changelog.
      const ready = new RegExp(`task ${p} ready at [^\\n]*?(?: after applying ([\\d,]+) changelog records)?\\n(?![\\s\\S]*task ${p} ready at)`).exec(failover);
      assert.ok(ready !== null, logs());
      const applied = ready[1] === undefined ? 0 : Number(ready[1].replace(/,/g, ''));
      assert.ok(applied < (ends.get(p) ?? 0) / 3, `task ${p}: ${applied} changelog records applied at failover, of ${ends.get(p)} offsets\n${logs()}`);
    }
  }

  // C restarts on its state root: it reads the tasks it owned when it died (the root's
  // owned-tasks) and gets them back, opened on the stores it left there; the survivors return to theirs.
  const c2 = worker(join(dir, 'state-c'));
  await until('the three workers to hold two tasks each again', [a, b, c2], async () => [a, b, c2].every((w) => lastAssigned(w)?.length === 2), 90_000);
  await inputCommitted(stack.brokers, live.group, topic, [a, b, c2]);
  const restartLogs = `${logs()}\n--- c restarted\n${c2.log}`;
  assert.deepEqual([lastAssigned(a), lastAssigned(b), lastAssigned(c2)], before, restartLogs);
  assert.match(c2.log, new RegExp(`last held tasks ${before[2].join(', ')};`), restartLogs);
  assert.doesNotMatch(c2.log, /rebuilding local state/, restartLogs);
  for (const w of [a, b, c2]) w.kill('SIGTERM');
  await Promise.all([exited(a), exited(b), exited(c2)]);

  const output = buildProgram(plan).outputs[0];
  const cmp = compareVectors(await readLiveVectors(stack.brokers, stack.registryUrl, output, features), await readReplayVectors(replayOut, output.name), output);
  assert.equal(cmp.expected, lines.length);
  assert.deepEqual({ lost: cmp.lost, duplicates: cmp.duplicates, divergent: cmp.divergent, unexpected: cmp.unexpected }, { lost: 0, duplicates: 0, divergent: 0, unexpected: 0 }, cmp.examples.join('\n'));
});
