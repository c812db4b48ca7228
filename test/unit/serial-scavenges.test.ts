import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { holdSerialScavenges, serialScavengesWanted } from '../../src/modes/serial-scavenges.js';

test('serial scavenges: only when the busy threads outnumber the cores', () => {
  assert.equal(serialScavengesWanted(3, 2, []), true);
  assert.equal(serialScavengesWanted(2, 2, []), false);
  assert.equal(serialScavengesWanted(1, 2, []), false);
  assert.equal(serialScavengesWanted(9, 8, ['--max-semi-space-size=64']), true);
});

test('serial scavenges: a GC setting given on the command line is kept', () => {
  for (const flag of ['--parallel-scavenge', '--no-parallel-scavenge', '--no-parallel_scavenge', '--single-threaded-gc', '--single-threaded']) {
    assert.equal(serialScavengesWanted(3, 2, ['--max-semi-space-size=64', flag]), false, flag);
  }
});

test('serial scavenges: held once across pools, given back when the last one releases', () => {
  const set: string[] = [];
  const threads = availableParallelism() + 1;
  const a = holdSerialScavenges(threads, (f) => set.push(f));
  const b = holdSerialScavenges(threads, (f) => set.push(f));
  assert.deepEqual(set, ['--no-parallel-scavenge']);
  a();
  a(); // a second release of the same hold counts once
  assert.deepEqual(set, ['--no-parallel-scavenge']);
  b();
  assert.deepEqual(set, ['--no-parallel-scavenge', '--parallel-scavenge']);
  const none = holdSerialScavenges(availableParallelism(), (f) => set.push(f));
  none();
  assert.equal(set.length, 2);
});
