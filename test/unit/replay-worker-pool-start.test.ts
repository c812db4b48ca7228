/**
 * A replay pool whose second thread cannot be created (no memory or threads left) must not leave
 * its first thread running: nothing would end it, and a live thread keeps the process from
 * exiting. The pool's hold on serial scavenges is given back too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { ReplayWorkerPool } from '../../src/modes/replay-worker-pool.js';
import { holdSerialScavenges } from '../../src/modes/serial-scavenges.js';

test('a pool whose second thread fails to start ends the first one and gives back its scavenge hold', async () => {
  const started: Worker[] = [];
  const exits: Array<Promise<number>> = [];
  const start = (_url: URL, data: { readonly worker: number }): Worker => {
    if (data.worker === 1) throw Object.assign(new Error('no thread left'), { code: 'ERR_WORKER_INIT_FAILED' });
    // A thread that never ends by itself, as a replay thread waiting for its first stage.
    const w = new Worker('setInterval(() => {}, 1000);', { eval: true });
    started.push(w);
    exits.push(new Promise((resolve) => w.once('exit', resolve)));
    return w;
  };
  assert.throws(() => new ReplayWorkerPool({ topologyFile: 'unused.ts', version: 'v', workers: 3 }, start), /no thread left/);
  assert.equal(started.length, 1);
  const ended = await Promise.race([exits[0].then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000).unref())]);
  if (!ended) await started[0].terminate();
  assert.ok(ended, 'the thread started before the failure was ended');

  // No hold is left: the next one sets the flag again (a leaked hold would have kept the count above zero).
  const set: string[] = [];
  const release = holdSerialScavenges(1000, (f) => set.push(f));
  release();
  assert.deepEqual(set, ['--no-parallel-scavenge', '--parallel-scavenge']);
});
