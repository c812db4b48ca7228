/**
 * Windows still open when a replay's input ends (README "Windows"): a backfill writes them
 * with final = false, after the closed ones, and counts them; its state keeps them open, so a
 * run that continues from it (live after a bootstrap) emits them as final when they close,
 * exactly as a run that never stopped. Expected values are worked out by hand below.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetReadObjects } from 'hyparquet';
import { formatReplaySummary } from '../../src/cli/replay-report.js';
import { topology } from '../../src/dsl/index.js';
import type { WindowRowOut } from '../../src/engine/outputs.js';
import { buildProgram } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { compilePlan } from '../../src/plan/compile.js';
import { MemoryBackend } from '../../src/state/state-backend.js';
import { collectingSinks } from '../helpers/engine.js';

const HERE = fileURLToPath(import.meta.url);
const M = 60_000;
const H = 60 * M;
const T0 = Date.UTC(2001, 0, 1);

type Flight = { date: number; delay: number; distance: number; origin: string; destination: string };

const plan = compilePlan(
  topology('end-of-input', (t) => {
    const flights = t.source<Flight>('flights', { schema: '../../schemas/flight.avsc', key: (f) => f.origin, eventTime: (f) => f.date, grace: '2h', late: 'sideOutput', maxFutureSkew: null });
    const origin = flights.groupBy('origin', (f) => f.origin);
    origin.tumbling('1h').aggregate('hourly', (w) => ({ flights: w.count(), delay: w.sum((f) => f.delay) }));
    origin.session('30m').aggregate('sessions', (w) => ({ flights: w.count() }));
    origin.tumbling('1h', { emit: 'update' }).aggregate('hourly_updates', (w) => ({ flights: w.count() }));
    return {};
  }),
  HERE,
);

const flight = (at: number, delay: number): Flight => ({ date: at, delay, distance: 300, origin: 'SFO', destination: 'SEA' });

// Six hours of flights at hh:10 (two in hour 4). Grace 2 h: hour k closes once stream time
// reaches (k + 1) h + 2 h. Stream time ends at 5:10, so hours 0–2 close during the run and
// hours 3, 4, 5 are still open when the input ends. (No future bound: the first records are not
// held back, so the uninterrupted run below needs no end of input either.)
const HISTORY: Flight[] = [
  flight(T0 + 10 * M, 1),
  flight(T0 + H + 10 * M, 2),
  flight(T0 + 2 * H + 10 * M, 3),
  flight(T0 + 3 * H + 10 * M, 4),
  flight(T0 + 4 * H + 10 * M, 5),
  flight(T0 + 4 * H + 20 * M, 10),
  flight(T0 + 5 * H + 10 * M, 6),
];

async function parquetRows(dir: string): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  for (const f of readdirSync(dir).sort()) {
    const buf = readFileSync(join(dir, f));
    const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    rows.push(...((await parquetReadObjects({ file })) as Array<Record<string, unknown>>));
  }
  return rows;
}

const brief = (r: Record<string, unknown>): unknown[] => [
  (Number(r.window_start) - T0) / M,
  (Number(r.window_end) - T0) / M,
  r.final,
  Number(r.flights),
  ...(r.delay === undefined ? [] : [Number(r.delay)]),
];

test('a file backfill writes the windows still open at its end, with final = false, and counts them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-end-of-input-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const input = join(dir, 'flights.ndjson');
  writeFileSync(input, HISTORY.map((f) => JSON.stringify(f)).join('\n'));
  const out = join(dir, 'out');
  const summary = await replayFiles({ plan, inputs: { flights: input }, out, partitions: 1, workers: 1 });

  // [start min, end min, final, flights, delay]: hours 0–2 closed in the run, 3–5 open at the end.
  assert.deepEqual((await parquetRows(join(out, 'hourly'))).map(brief), [
    [0, 60, true, 1, 1],
    [60, 120, true, 1, 2],
    [120, 180, true, 1, 3],
    [180, 240, false, 1, 4],
    [240, 300, false, 2, 15],
    [300, 360, false, 1, 6],
  ]);
  // Sessions (gap 30 min) close at last + 30 min + 2 h: 0:10–0:40, 1:10–1:40 and 2:10–2:40 closed
  // by 5:10; 3:10–3:40, 4:10–4:50 (two flights) and 5:10–5:40 open.
  assert.deepEqual((await parquetRows(join(out, 'sessions'))).map(brief), [
    [10, 40, true, 1],
    [70, 100, true, 1],
    [130, 160, true, 1],
    [190, 220, false, 1],
    [250, 290, false, 2],
    [310, 340, false, 1],
  ]);
  // 'update' windows already wrote every change, one row per flight: nothing more at the end.
  assert.equal((await parquetRows(join(out, 'hourly_updates'))).length, HISTORY.length);
  assert.equal(summary.counters.windowRows, 6 + 6 + 7);
  assert.equal(summary.counters.openWindowRows, 3 + 3);
  assert.match(formatReplaySummary(summary, 1), /window rows 19 \(6 of windows still open at the end of the input, final = false\)/);
});

/** Final rows of the closing outputs as [output, start min, end min, ...values]. */
function finals(rows: readonly WindowRowOut[]): unknown[] {
  return rows.filter((r) => r.final && r.output !== 'hourly_updates').map((r) => [r.output, (r.windowStart - T0) / M, (r.windowEnd - T0) / M, ...r.values]);
}

test('the state keeps open windows open: a run continuing after the end emits them as final, as an uninterrupted run does', async () => {
  const program = buildProgram(plan);
  const records = (flights: Flight[], from: number) => flights.map((value, i) => ({ offset: from + i, value }));
  // After the history: a flight of hour 4 within the grace, then one at 8:00 that closes hours 3–5.
  const more = [flight(T0 + 4 * H + 30 * M, 20), flight(T0 + 8 * H, 7)];

  const backend = new MemoryBackend();
  const first = collectingSinks();
  const replay = await Task.open(program, 0, backend, first.sinks);
  await replay.process({ source: 'flights', partition: 0, records: records(HISTORY, 0) });
  await replay.endOfInput('flights');
  await replay.endOfInput('flights'); // said twice: still once
  await replay.checkpoint();
  assert.deepEqual(
    first.out.windows.filter((r) => !r.final && r.output === 'hourly').map((r) => (r.windowStart - T0) / H),
    [3, 4, 5],
  );

  const second = collectingSinks();
  const live = await Task.open(program, 0, backend, second.sinks);
  await live.process({ source: 'flights', partition: 0, records: records(more, HISTORY.length) });

  const whole = collectingSinks();
  const uninterrupted = await Task.open(program, 0, new MemoryBackend(), whole.sinks);
  await uninterrupted.process({ source: 'flights', partition: 0, records: records([...HISTORY, ...more], 0) });

  // [output, start min, end min, ...values in column order (delay, flights)]. Hour 4 now holds
  // three flights (delays 5 + 10 + 20); its session grew to 4:10–5:00 (last flight 4:30 + 30 min).
  // Stream time jumps to 8:00: every hour ending by 6:00 and every session ending by 6:00 closes.
  assert.deepEqual(finals(second.out.windows), [
    ['hourly', 180, 240, 4, 1],
    ['hourly', 240, 300, 35, 3],
    ['hourly', 300, 360, 6, 1],
    ['sessions', 190, 220, 1],
    ['sessions', 250, 300, 3],
    ['sessions', 310, 340, 1],
  ]);
  assert.deepEqual([...finals(first.out.windows), ...finals(second.out.windows)], finals(whole.out.windows));
});
