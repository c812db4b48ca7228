/**
 * End to end on real data: replay the first 60,000 US flights of 2001 (vega-datasets
 * flights-3m.parquet) through topologies/flight-delays.ts into Parquet, and compare every
 * feature of every row with an independent computation in DuckDB SQL
 * (test/python/flights_expected.py: self-joins over the file order).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayFiles } from '../../src/modes/replay-files.js';
import { loadTopology } from '../../src/plan/load-topology.js';

const repo = (p: string): string => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const SCRIPT = repo('test/python/flights_expected.py');
const ROWS = 60_000;
const PARTITIONS = 4;

function python(args: string[]): unknown {
  const r = spawnSync('python3', [SCRIPT, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `python3 ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

interface Report {
  columns: Record<string, number>;
  examples: Record<string, unknown[]>;
  problems: string[];
  files: number;
  engine_rows: number;
  expected_rows: number;
  joined_rows: number;
  duplicate_positions: number;
  unmatched_expected: number;
  unmatched_engine: number;
  identity_mismatches: number;
  expected_nulls: Record<string, number>;
  flights_with_later_same_minute_peer: number;
}

test('flight-delays backfill over 60k real flights equals DuckDB SQL, column by column', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-flights-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const slice = join(dir, 'flights-60k.parquet');
  const out = join(dir, 'out');

  const sliced = python(['slice', repo('node_modules/vega-datasets/data/flights-3m.parquet'), slice, String(ROWS)]) as { rows: number; sorted: boolean };
  assert.equal(sliced.rows, ROWS);
  assert.equal(sliced.sorted, true, 'the slice is in date order (the expectations rely on it only for "no late records")');

  const plan = await loadTopology(repo('topologies/flight-delays.ts'));
  const summary = await replayFiles({ plan, inputs: { flights: slice }, out, partitions: PARTITIONS });
  assert.equal(summary.version, plan.version);
  assert.equal(summary.counters.processed, ROWS);
  assert.equal(summary.counters.emitted, ROWS);
  assert.equal(summary.counters.deadLetters, 0);
  assert.equal(summary.counters.late, 0, 'a date-sorted file has no late records');
  assert.equal(summary.files.length, PARTITIONS, 'one file per partition');
  assert.equal(summary.files.reduce((n, f) => n + f.rows, 0), ROWS);

  const report = python(['check', slice, out, plan.version, String(PARTITIONS)]) as Report;
  t.diagnostic(`mismatches per column: ${JSON.stringify(report.columns)}`);
  t.diagnostic(`expected nulls per column: ${JSON.stringify(report.expected_nulls)}`);
  console.log('flights-sql mismatches per column:', report.columns);
  assert.deepEqual(report.problems, [], 'Parquet types and metadata');
  assert.equal(report.files, PARTITIONS);
  assert.equal(report.expected_rows, ROWS);
  assert.equal(report.engine_rows, ROWS);
  assert.equal(report.duplicate_positions, 0);
  assert.equal(report.unmatched_expected, 0, 'every flight has an engine row at (murmur2(origin) mod 4, index within partition)');
  assert.equal(report.unmatched_engine, 0);
  assert.equal(report.joined_rows, ROWS);
  assert.equal(report.identity_mismatches, 0, 'joined rows agree on origin (key) and event time');
  // The comparison is not vacuous: ties at the same minute and null windows both occur.
  assert.ok(report.flights_with_later_same_minute_peer > 100, `ties: ${report.flights_with_later_same_minute_peer}`);
  assert.ok(report.expected_nulls.origin_delay_std_7d > 0 && report.expected_nulls.origin_minutes_since_prev > 0);
  const bad = Object.entries(report.columns).filter(([, n]) => n > 0);
  assert.deepEqual(bad, [], `mismatching columns, examples: ${JSON.stringify(report.examples)}`);
  assert.deepEqual(
    Object.keys(report.columns).sort(),
    [
      'is_delayed',
      'origin_delay_max_24h',
      'origin_delay_mean_1h',
      'origin_delay_mean_24h',
      'origin_delay_std_7d',
      'origin_destinations_24h',
      'origin_flights_1h',
      'origin_minutes_since_prev',
      'route_delay_mean_7d',
    ],
    'every feature and label column was compared',
  );

  // Determinism of the replay path: one worker thread instead of several and another batch
  // size (so other interleavings of the partitions' batches) write byte-identical Parquet
  // files, metadata included.
  const out2 = join(dir, 'out-1-worker-batch-97');
  const summary2 = await replayFiles({ plan, inputs: { flights: slice }, out: out2, partitions: PARTITIONS, batchSize: 97, workers: 1 });
  assert.deepEqual(summary2.counters, summary.counters);
  const names = readdirSync(join(out, 'flight_features')).filter((f) => f.endsWith('.parquet')).sort();
  assert.equal(names.length, PARTITIONS);
  assert.deepEqual(readdirSync(join(out2, 'flight_features')).filter((f) => f.endsWith('.parquet')).sort(), names);
  for (const name of names) {
    const a = readFileSync(join(out, 'flight_features', name));
    const b = readFileSync(join(out2, 'flight_features', name));
    assert.ok(a.equals(b), `${name}: default workers/batch size and 1 worker/batch 97 give different bytes`);
  }
});
