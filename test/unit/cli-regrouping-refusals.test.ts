/**
 * What skewless cannot do with a regrouped topology yet, it refuses in one line before touching
 * Kafka: `run --delivery at-least-once` (a retried batch would send its updates twice) and
 * `parity --state` (parity keeps no regrouped state between runs). `bootstrap` hands regrouped
 * state over (test/integration/bootstrap-regrouped.test.ts), so it does not refuse. A Task
 * refuses to run such a topology without somewhere to send its regroup messages: never a
 * silent per-partition computation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { MemoryBackend } from '../../src/state/state-backend.js';
import { collectingSinks } from '../helpers/engine.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const CASES: ReadonlyArray<{ readonly args: readonly string[]; readonly message: RegExp }> = [
  { args: ['run', 'topologies/flight-network.ts', '--delivery', 'at-least-once'], message: /flight-network\.ts: topology flight-network regroups by another entity \(group dest\).*exactly-once delivery only.*drop --delivery at-least-once/ },
  {
    args: ['parity', 'topologies/flight-network.ts', '--sample', 'flight-network-parity', '--state', '/nonexistent/parity-state', '--parity-rate', '0.1'],
    message: /topology flight-network regroups by another entity \(group dest\), and parity --state cannot keep regrouped state between runs: drop --state and --parity-rate/,
  },
];

for (const { args, message } of CASES) {
  test(`skewless ${args.join(' ')} refuses in one line, before connecting`, () => {
    // No broker is reachable at this address: the refusal must come before any connection.
    const env = { ...process.env, KAFKA_BROKERS: '127.0.0.1:1', SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' };
    const r = spawnSync(process.execPath, ['bin/skewless.mjs', ...args], { cwd: ROOT, encoding: 'utf8', env, timeout: 60_000 });
    assert.notEqual(r.status, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], message);
  });
}

test('skewless bootstrap takes a regrouped topology: it goes on to connect to Kafka', () => {
  const env = { ...process.env, KAFKA_BROKERS: '127.0.0.1:1', SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' };
  const r = spawnSync(process.execPath, ['bin/skewless.mjs', 'bootstrap', 'topologies/flight-network.ts', '--state', '/nonexistent/skewless-state'], { cwd: ROOT, encoding: 'utf8', env, timeout: 60_000 });
  assert.notEqual(r.status, 0);
  assert.doesNotMatch(r.stderr, /regroup/);
  assert.match(r.stderr, /cannot reach Kafka at 127\.0\.0\.1:1/);
});

test('a Task without regroup sinks refuses a regrouped topology', async () => {
  const program = buildProgram(await loadTopology(`${ROOT}topologies/flight-network.ts`));
  await assert.rejects(Task.open(program, 0, new MemoryBackend(), collectingSinks().sinks), /has a regrouping \(regroupBy or a table keyed by another entity\), which this mode cannot run yet: use backfill/);
});
