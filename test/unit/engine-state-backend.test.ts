/**
 * The StateBackend contract the engine relies on for restarts (src/state/state-backend.ts):
 * `scan(prefix)` returns ALL entries whose key starts with prefix. Task.open restores window
 * state through it (src/engine/task.ts), so an entry it misses is state silently lost on
 * restart. Entity keys are user data: airport names, merchant names, cities in any script.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { topology } from '../../src/dsl/index.js';
import type { InputRecord } from '../../src/engine/input.js';
import { buildProgram } from '../../src/engine/program.js';
import { Task } from '../../src/engine/task.js';
import { compilePlan } from '../../src/plan/compile.js';
import { LevelBackend, MemoryBackend, type StateBackend } from '../../src/state/state-backend.js';
import { assertSameOutputs, collectingSinks } from '../helpers/engine.js';

const HERE = fileURLToPath(import.meta.url);

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-backend-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Entity keys after a window-state prefix, as Task uses them: `p<partition>/w/<output>/<key>`.
const PREFIX = 'p0/w/by_city/';
const CITY_KEYS = ['abc', 'São Paulo', 'Zürich', 'ÿ-start', 'Łódź', 'Ōsaka', 'Москва', '東京', 'القاهرة', '😀 emoji'];

async function fill(b: StateBackend): Promise<void> {
  await b.write([
    ...CITY_KEYS.map((k) => ({ type: 'put' as const, key: PREFIX + k, value: new TextEncoder().encode(k) })),
    // Neighbours that must NOT be returned.
    { type: 'put', key: 'p0/w/by_city', value: new Uint8Array([1]) },
    { type: 'put', key: 'p0/w/by_cityz/x', value: new Uint8Array([2]) },
    { type: 'put', key: 'p1/w/by_city/abc', value: new Uint8Array([3]) },
  ]);
}

test('MemoryBackend.scan returns every key with the prefix (reference for the contract)', async () => {
  const mem = new MemoryBackend();
  await fill(mem);
  const got = (await mem.scan(PREFIX)).map(([k]) => k.slice(PREFIX.length));
  assert.deepEqual([...got].sort(), [...CITY_KEYS].sort());
});

test('LevelBackend.scan returns every key with the prefix, whatever script the key is in', async (t) => {
  const level = await LevelBackend.open(tmp(t));
  try {
    await fill(level);
    const entries = await level.scan(PREFIX);
    const got = entries.map(([k]) => k.slice(PREFIX.length));
    for (const [k, v] of entries) assert.equal(new TextDecoder().decode(v), k.slice(PREFIX.length));
    const missing = CITY_KEYS.filter((k) => !got.includes(k));
    assert.deepEqual(missing, [], `scan('${PREFIX}') misses keys: ${JSON.stringify(missing)}`);
    assert.equal(got.length, CITY_KEYS.length);
  } finally {
    await level.close();
  }
});

test('a task restarted from LevelDB continues exactly for entity keys in any script', async (t) => {
  const topo = topology('unicode-keys', (b) => {
    const txns = b.source<{ city: string; at: number; v: number }>('txns', {
      schema: '../../schemas/card_transaction.avsc',
      key: (x) => x.city,
      eventTime: (x) => x.at,
      grace: '1h',
    });
    const city = txns.groupBy('city', (x) => x.city);
    txns.features('f', {
      n: city.lookback('1h').count(),
      sum: city.lookback('1h').sum((x) => x.v),
      max: city.lookback('1h').max((x) => x.v),
      since: city.timeSinceLast('minutes'),
    });
    return {};
  });
  const program = buildProgram(compilePlan(topo, HERE));
  const T0 = Date.UTC(2025, 0, 1);
  const records: InputRecord[] = [];
  for (let i = 0; i < 200; i++) records.push({ offset: i, value: { city: CITY_KEYS[i % CITY_KEYS.length], at: T0 + i * 60_000, v: (i * 37) % 101 } });

  const ref = collectingSinks();
  const refTask = await Task.open(program, 0, new MemoryBackend(), ref.sinks);
  await refTask.process({ source: 'txns', partition: 0, records });
  await refTask.endOfInput('txns');
  // Hand checks (columns sorted: max, n, since, sum; v(i) = 37·i mod 101; city = CITY_KEYS[i mod 10]; time = i minutes).
  // Offset 22, 'Zürich' @22: window (−38, 22] holds offsets 2 and 12: v = 74, 444 − 404 = 40 → max 74, n 2, since 10, sum 114.
  assert.equal(ref.out.features[22].key, 'Zürich');
  assert.deepEqual(ref.out.features[22].values, [74, 2, 10, 114]);
  // Offset 82, 'Zürich' @82: (22, 82] holds 32, 42, 52, 62, 72 (22 is at t − W: out):
  // v = 1184−1111 = 73, 1554−1515 = 39, 1924−1919 = 5, 2294−2222 = 72, 2664−2626 = 38 → max 73, n 5, since 10, sum 227.
  assert.deepEqual(ref.out.features[82].values, [73, 5, 10, 227]);

  const dir = tmp(t);
  let backend = await LevelBackend.open(dir);
  const first = collectingSinks();
  const task = await Task.open(program, 0, backend, first.sinks);
  await task.process({ source: 'txns', partition: 0, records: records.slice(0, 120) });
  await task.checkpoint();
  await backend.close();
  backend = await LevelBackend.open(dir);
  const second = collectingSinks();
  const restarted = await Task.open(program, 0, backend, second.sinks);
  assert.deepEqual(restarted.resumePositions(), { txns: 120 });
  await restarted.process({ source: 'txns', partition: 0, records });
  await restarted.endOfInput('txns');
  await backend.close();
  assertSameOutputs(
    { features: [...first.out.features, ...second.out.features], windows: [], dead: [], late: [] },
    ref.out,
    'restart with unicode keys',
  );
});

/** Hourly counts per city with a checkpoint, crash and restart inside the hour, checked against hand counts. */
async function windowRestart(t: { after: (fn: () => void) => void }, city: string): Promise<void> {
  const topo = topology('unicode-windows', (b) => {
    const txns = b.source<{ city: string; at: number }>('txns', {
    maxFutureSkew: null, // these tests look at the first records as they arrive (no future-skew warm-up)
      schema: '../../schemas/card_transaction.avsc',
      key: (x) => x.city,
      eventTime: (x) => x.at,
    });
    txns
      .groupBy('city', (x) => x.city)
      .tumbling('1h', { emit: 'final' })
      .aggregate('hourly', (w) => ({ n: w.count() }));
    return {};
  });
  const program = buildProgram(compilePlan(topo, HERE));
  const T0 = Date.UTC(2025, 0, 1);
  const M = 60_000;
  // In time order (grace 0: anything behind stream time would be late). Window [T0, T0 + 1h):
  // abc @0, 11, 20 and the city @1, 3, 10 → 3 each; 'x' @70 min closes it (70 ≥ 60 + grace 0).
  // The checkpoint comes after the first 3 records, i.e. inside the window.
  const evs: Array<[string, number]> = [
    ['abc', 0],
    [city, 1],
    [city, 3],
    [city, 10],
    ['abc', 11],
    ['abc', 20],
    ['x', 70],
  ];
  const records: InputRecord[] = evs.map(([c, m], offset) => ({ offset, value: { city: c, at: T0 + m * M } }));
  const expected = [
    ['abc', T0, T0 + 60 * M, [3]],
    [city, T0, T0 + 60 * M, [3]],
  ];

  const dir = tmp(t);
  let backend = await LevelBackend.open(dir);
  const first = collectingSinks();
  const task = await Task.open(program, 0, backend, first.sinks);
  await task.process({ source: 'txns', partition: 0, records: records.slice(0, 3) });
  await task.checkpoint();
  await backend.close();

  backend = await LevelBackend.open(dir);
  const second = collectingSinks();
  const restarted = await Task.open(program, 0, backend, second.sinks);
  assert.deepEqual(restarted.resumePositions(), { txns: 3 });
  await restarted.process({ source: 'txns', partition: 0, records });
  await restarted.endOfInput('txns');
  await backend.close();
  const rows = [...first.out.windows, ...second.out.windows].filter((w) => w.final && w.windowEnd <= T0 + 60 * M);
  assert.deepEqual(
    rows.map((w) => [w.key, w.windowStart, w.windowEnd, w.values]).sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
    expected,
    `hourly counts after the restart (${city} shows 1 if its window state was not restored)`,
  );
}

test('tumbling-window state survives a restart from LevelDB (ASCII key, control)', async (t) => {
  await windowRestart(t, 'tokyo');
});

test('tumbling-window state of a non-Latin key survives a restart from LevelDB', async (t) => {
  await windowRestart(t, '東京');
});
