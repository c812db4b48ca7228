/**
 * Replay threads load their code from one bundle of the sources (replay-worker-bundle.ts)
 * instead of TypeScript through tsx: the bundle is built once per state of the sources and
 * reused, what the sources load on demand (the Kafka client) stays out of a thread's start, and
 * a backfill with the bundle writes exactly what it writes with the sources loaded through tsx.
 * The topology's own build compiles to the version the file has, and a build that does not is
 * passed over for the file through tsx.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { replayWorkerBundle, topologyBundle } from '../../src/modes/replay-worker-bundle.js';
import { replayInParallel } from '../../src/modes/replay-parallel.js';
import { ReplayWorkerPool, withoutTsxLoader } from '../../src/modes/replay-worker-pool.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { normalizedSources } from '../../src/plan/function-fingerprint.js';

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

test('a topology built to JavaScript compiles to the version of the file through tsx; a build of another version is passed over', async (t) => {
  const file = join(ROOT, 'topologies/flight-delays.ts');
  const plan = await loadTopology(file);
  const built = topologyBundle(file);
  assert.ok(built !== undefined && existsSync(built));
  assert.equal(topologyBundle(file), built, 'reused while its inputs are unchanged');
  const known = normalizedSources().length;
  assert.equal((await loadTopology(file, built)).version, plan.version, 'the same version');
  // Printed as tsx prints them, so a thread seeded with the coordinator's sources normalizes none again.
  assert.equal(normalizedSources().length, known, 'its functions read as the file\'s through tsx');

  // Threads handed the build of another topology load this one through tsx: the same output.
  const other = topologyBundle(join(ROOT, 'topologies/card-fraud.ts'));
  assert.ok(other !== undefined);
  const dir = mkdtempSync(join(tmpdir(), 'skewless-topology-build-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const input = join(dir, 'flights.ndjson');
  const t0 = Date.UTC(2001, 0, 1);
  writeFileSync(input, Array.from({ length: 800 }, (_, i) => JSON.stringify({ date: t0 + i * 90_000, delay: (i * 7) % 50, distance: 300, origin: ['SFO', 'LAX', 'SEA'][i % 3], destination: 'JFK' })).join('\n'));
  const outputs: string[] = [];
  for (const topologyBuild of [built, other]) {
    const pool = new ReplayWorkerPool({ topologyFile: file, version: plan.version, workers: 2, bundle: replayWorkerBundle(), topologyBundle: topologyBuild });
    try {
      const out = join(dir, `out-${outputs.length}`);
      await replayInParallel({ plan, input: { kind: 'files', inputs: { flights: input }, partitions: 3 }, partitions: 3, out, pool });
      outputs.push(readdirSync(join(out, 'flight_features')).sort().map((f) => readFileSync(join(out, 'flight_features', f)).toString('base64')).join());
    } finally {
      await pool.close();
    }
  }
  assert.ok(outputs[0].length > 0);
  assert.equal(outputs[1], outputs[0]);
});

test('threads start without a tsx loader given on the command line, and with the V8 flags the process was started with', async (t) => {
  assert.deepStrictEqual(withoutTsxLoader(['--max-semi-space-size=64', '--import', 'tsx', '--cpu-prof']), ['--max-semi-space-size=64', '--cpu-prof']);
  assert.deepStrictEqual(withoutTsxLoader(['--import=tsx/esm', '--loader', 'tsx', '--import', './other.mjs']), ['--import', './other.mjs']);
  // Started as the benchmarks are: Node refuses a V8 flag among a thread's own flags, so the
  // pool must leave it to the process (it applies to every thread anyway).
  const dir = mkdtempSync(join(tmpdir(), 'skewless-thread-flags-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'run.mts');
  writeFileSync(
    script,
    [
      `import { replayFiles } from ${JSON.stringify(join(ROOT, 'src/modes/replay-files.ts'))};`,
      `import { loadTopology } from ${JSON.stringify(join(ROOT, 'src/plan/load-topology.ts'))};`,
      `import { writeFileSync } from 'node:fs';`,
      `const plan = await loadTopology(${JSON.stringify(join(ROOT, 'topologies/flight-delays.ts'))});`,
      `const input = ${JSON.stringify(join(dir, 'flights.ndjson'))};`,
      `writeFileSync(input, Array.from({ length: 400 }, (_, i) => JSON.stringify({ date: 978307200000 + i * 60000, delay: i % 50, distance: 300, origin: ['SFO', 'LAX', 'SEA'][i % 3], destination: 'JFK' })).join('\\n'));`,
      `const s = await replayFiles({ plan, inputs: { flights: input }, out: ${JSON.stringify(join(dir, 'out'))}, partitions: 4, workers: 2 });`,
      `process.stdout.write(JSON.stringify({ processed: s.counters.processed }));`,
    ].join('\n'),
  );
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync(process.execPath, ['--max-semi-space-size=64', '--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8' });
  assert.deepStrictEqual(JSON.parse(out), { processed: 400 });
});
