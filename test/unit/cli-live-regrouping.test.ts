/**
 * Live regrouping comes with repartition topics (next stage). Until then `run` and `bootstrap`
 * of a topology with a regroupBy stop with one line saying so, before touching Kafka, and a
 * Task refuses to run such a topology without somewhere to send its regroup messages: never a
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

const ARGS: Record<string, string[]> = { run: [], bootstrap: ['--state', '/nonexistent/skewless-state'] };

for (const command of ['run', 'bootstrap']) {
  test(`skewless ${command} of a regrouped topology refuses in one line`, () => {
    // No broker is reachable at this address: the refusal must come before any connection.
    const env = { ...process.env, KAFKA_BROKERS: '127.0.0.1:1', SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1' };
    const r = spawnSync(process.execPath, ['bin/skewless.mjs', command, 'topologies/flight-network.ts', ...ARGS[command]], { cwd: ROOT, encoding: 'utf8', env, timeout: 60_000 });
    assert.notEqual(r.status, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`flight-network\\.ts: topology flight-network regroups by dest .*live regrouping is not available yet.*skewless ${command}.*skewless backfill`));
  });
}

test('a Task without regroup sinks refuses a regrouped topology', async () => {
  const program = buildProgram(await loadTopology(`${ROOT}topologies/flight-network.ts`));
  await assert.rejects(Task.open(program, 0, new MemoryBackend(), collectingSinks().sinks), /has a regrouping \(regroupBy\), which this mode cannot run yet: use backfill/);
});
