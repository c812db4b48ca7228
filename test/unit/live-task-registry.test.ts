/**
 * The live worker's task registry counts the owned partitions whose task is not open yet
 * (skewless_tasks_not_ready): while a task restores, its waiting rows, held messages and lag are
 * counted nowhere, so a worker whose other gauges read 0 is caught up only when this does too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LiveTask } from '../../src/modes/live/live-task.js';
import { TaskRegistry } from '../../src/modes/live/task-registry.js';

/** A stand-in with only what the registry touches: its partition, its serial queue and close. */
function fakeTask(partition: number): LiveTask {
  return { partition, serial: (fn: () => Promise<void>) => fn(), close: async () => {} } as unknown as LiveTask;
}

test('tasks not ready: every owned partition until its open resolves, again after a drop, none for revoked ones', async () => {
  const opens = new Map<number, (t: LiveTask) => void>();
  const reported: number[] = [];
  const registry = new TaskRegistry(
    (p) => new Promise<LiveTask>((resolve) => opens.set(p, resolve)),
    (n) => reported.push(n),
  );
  const toOpen = registry.assign([0, 1, 2]);
  assert.deepEqual(toOpen, [0, 1, 2]);
  assert.equal(registry.notReady(), 3);
  const pending = toOpen.map((p) => registry.taskFor(p));
  opens.get(1)!(fakeTask(1));
  const one = await pending[1];
  assert.equal(registry.notReady(), 2, 'partition 1 is open, 0 and 2 still restore');
  opens.get(0)!(fakeTask(0));
  opens.get(2)!(fakeTask(2));
  await Promise.all(pending);
  assert.equal(registry.notReady(), 0);
  // A failed batch drops the task: not ready until it is opened again.
  await registry.drop(one);
  assert.equal(registry.notReady(), 1);
  // A rebalance that takes partition 1 away: nothing of it is awaited any more.
  registry.assign([0, 2]);
  assert.equal(registry.notReady(), 0);
  assert.deepEqual(reported, [3, 2, 1, 0, 1, 0], 'each change reported as it happened');
});
