/**
 * Replay threads load their code from one bundle of the sources (replay-worker-bundle.ts)
 * instead of TypeScript through tsx: the bundle is built once per state of the sources and
 * reused, what the sources load on demand (the Kafka client) stays out of a thread's start, and
 * a backfill with the bundle writes exactly what it writes with the sources loaded through tsx.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { replayWorkerBundle } from '../../src/modes/replay-worker-bundle.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { loadTopology } from '../../src/plan/load-topology.js';

const ROOT = new URL('../../', import.meta.url).pathname;

test('the bundle is built once under node_modules/.cache and keeps the Kafka client out of a thread start', () => {
  const path = replayWorkerBundle();
  assert.ok(path !== undefined && existsSync(path), 'a bundle is built');
  assert.ok(path.startsWith(join(ROOT, 'node_modules', '.cache', 'skewless')), path);
  assert.equal(replayWorkerBundle(), path, 'the same sources, the same bundle');
  const main = readFileSync(path, 'utf8');
  const statics = [...main.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
  assert.ok(statics.includes('hyparquet'), 'file replay code is in');
  assert.ok(!statics.includes('kafkajs') && !statics.includes('@kafkajs/confluent-schema-registry'), `no Kafka client at start: ${statics.join(', ')}`);
  assert.ok(readdirSync(dirname(path)).some((f) => f.startsWith('kafka-replay-input-')), 'the Kafka replay input is a chunk of its own');
  assert.equal(process.env.SKEWLESS_REPLAY_BUNDLE, undefined);
});

test('a backfill on threads loading the bundle writes what threads loading the sources through tsx write', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-bundle-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const plan = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
  const input = join(dir, 'flights.ndjson');
  const t0 = Date.UTC(2001, 0, 1);
  const origins = ['SFO', 'LAX', 'SEA', 'JFK', 'ORD'];
  writeFileSync(input, Array.from({ length: 3000 }, (_, i) => JSON.stringify({ date: t0 + i * 60_000 - ((i * 7) % 11) * 300_000, delay: (i * 13) % 70, distance: 200 + (i % 500), origin: origins[i % 5], destination: origins[(i * 3) % 5] })).join('\n'));
  const outputs: Array<Record<string, string>> = [];
  for (const bundle of [undefined, '0']) {
    if (bundle === undefined) delete process.env.SKEWLESS_REPLAY_BUNDLE;
    else process.env.SKEWLESS_REPLAY_BUNDLE = bundle;
    try {
      const out = join(dir, `out-${bundle ?? 'bundle'}`);
      await replayFiles({ plan, inputs: { flights: input }, out, partitions: 4, workers: 2 });
      outputs.push(Object.fromEntries(readdirSync(join(out, 'flight_features')).sort().map((f) => [f, readFileSync(join(out, 'flight_features', f)).toString('base64')])));
    } finally {
      delete process.env.SKEWLESS_REPLAY_BUNDLE;
    }
  }
  assert.ok(Object.keys(outputs[0]).length > 1);
  assert.deepStrictEqual(outputs[0], outputs[1]);
});
