/**
 * The disk under a worker's state fills up mid-backlog, then space comes back. The worker keeps
 * running and says which store cannot be written and what to do, every failed batch is retried
 * from the last commit, the local copies are kept (a full disk does not make a store damaged:
 * before, each retry deleted the task's store and rebuilt it from the changelog, a full
 * restore per task for a moment without space), and in the end every vector is served once,
 * equal to the replay.
 *
 * The state lives on a tmpfs of its own (mounting needs root or CAP_SYS_ADMIN; the test is
 * skipped, saying so, where it cannot mount).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '../helpers/live-run.js';
import { stackForTests } from '../helpers/stack.js';
import { awaitCaughtUp, commitProgress, Timeline } from '../helpers/fault-timeline.js';
import { CardFaultRun, FAULT_PARTITIONS } from '../helpers/card-fault-run.js';

const stack = await stackForTests();
const run = await CardFaultRun.create(stack, 'full');
// The state's disk: a mount point outside the run's directory, which close() deletes.
const diskDir = mkdtempSync(join(tmpdir(), 'skewless-disk-'));
const disk = join(diskDir, 'disk');

/** A 32 MiB tmpfs at `disk`, or why there cannot be one. */
function mountDisk(): string | undefined {
  mkdirSync(disk);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', disk], { stdio: 'pipe' });
    return undefined;
  } catch (e) {
    return `cannot mount a tmpfs for the state (needs root or CAP_SYS_ADMIN): ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
  }
}
const cannotMount = mountDisk();

test.after(async () => {
  await run.close();
  if (cannotMount === undefined) execFileSync('umount', ['-l', disk]);
  rmSync(diskDir, { recursive: true, force: true });
});

/** Write zeros to `file` until the disk is full. */
function fillDisk(file: string): void {
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${file}`, 'bs=64k'], { stdio: 'pipe' });
  } catch {
    // dd stops with "No space left on device": that is the point.
  }
}

test('a worker rides out a full disk under its state: it says so, keeps its local copies, retries, and serves every vector once', { timeout: 300_000, skip: cannotMount ?? false }, async (tc) => {
  const timeline = new Timeline();
  const t = run.topics;
  // Before the worker starts, and while the disk is full.
  await run.prepare(29, [8000]);
  await run.producePart(0);
  const w = run.startWorker(join(disk, 'state'), timeline);
  // Fill the disk while the worker is in the middle of the backlog, once every task has committed
  // a batch (so every task has a local copy to keep).
  const everyTaskCommitted = async (): Promise<boolean> => {
    const progress = await commitProgress(stack.brokers, t.group, t.transactions);
    return progress !== undefined && progress.byPartition.length === FAULT_PARTITIONS && progress.byPartition.every((n) => n > 0);
  };
  while (!(await everyTaskCommitted()) && w.exitCode === null) await sleep(100);
  // A task writes its local copy right after its commit is acknowledged.
  await sleep(1000);
  const filler = join(disk, 'filler');
  fillDisk(filler);
  timeline.mark('test: disk full');
  // The rest of the input while the disk is full: every task has records to fail on, also one
  // that was through its part of the backlog.
  await run.producePart(1);
  timeline.mark('test: every input produced');
  // Until every task has failed on it at least once, and some retries more.
  const failedTasks = (): number => new Set([...w.log.matchAll(/task (\d+): batch not committed \(state store .* cannot be written: the disk is full/g)].map((m) => m[1])).size;
  for (let waited = 0; waited < 40_000 && failedTasks() < FAULT_PARTITIONS && w.exitCode === null; waited += 500) await sleep(500);
  await sleep(5000);
  assert.equal(w.exitCode, null, `the worker is still running while the disk is full:\n${timeline.report()}`);
  assert.equal(failedTasks(), FAULT_PARTITIONS, `every task says its store cannot be written because the disk is full:\n${timeline.report()}`);
  rmSync(filler);
  timeline.mark('test: space freed');
  await awaitCaughtUp(tc, { brokers: stack.brokers, group: t.group, topic: t.transactions, worker: w, timeline, limitMs: 120_000, slowMs: 30_000, since: 'space was freed' });
  // The local copies were kept: a task catches up from the changelog at most by the batch it missed.
  assert.doesNotMatch(w.log, /rebuilding local state/, `a full disk made a task throw its local copy away:\n${timeline.report()}`);

  await run.assertServedOnceAsReplay(w);
});
