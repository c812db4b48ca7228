/**
 * Backfill over bad input and reused directories: complete dead letters, no stale output,
 * no silent second run on used state, clear state-store errors. Real files in a temp dir.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTrainingWriter } from '../../src/io/files/parquet-training-writer.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { prepareReplayTargets } from '../../src/modes/replay-targets.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { LevelBackend } from '../../src/state/state-backend.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const T0 = Date.UTC(2001, 0, 1, 8, 0);

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-replay-bad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const flight = (i: number, over: Record<string, unknown> = {}): Record<string, unknown> => ({ date: T0 + i * 60_000, delay: i, distance: 300, origin: i % 2 ? 'SFO' : 'LAX', destination: 'SEA', ...over });

function deadLetters(dir: string): Array<Record<string, unknown>> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n'))
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('file dead letters carry the position in the file and the raw record, also for records the engine rejects', async (t) => {
  const dir = tmp(t);
  const plan = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
  const input = join(dir, 'flights.ndjson');
  const lines = [
    JSON.stringify(flight(0)),
    '',
    JSON.stringify(flight(1, { delay: '12.5' })), // line 3: schema mismatch (reader)
    JSON.stringify(flight(2)),
    JSON.stringify(flight(3, { date: 8_640_000_000_000_001 })), // line 5: read fine, outside the time range (engine)
    JSON.stringify(flight(4)),
  ];
  writeFileSync(input, lines.join('\n'));
  const out = join(dir, 'out');
  const summary = await replayFiles({ plan, inputs: { flights: input }, out, partitions: 2, workers: 1 });
  assert.equal(summary.deadLetters.count, 2);
  const dead = deadLetters(join(out, '_dead_letters')).sort((a, b) => Number(a.line) - Number(b.line));
  assert.equal(dead.length, 2);
  assert.deepEqual({ file: dead[0].file, line: dead[0].line, raw: dead[0].raw }, { file: input, line: 3, raw: lines[2] });
  assert.match(String(dead[0].reason), /field "delay": expected long, got string "12.5"/);
  assert.deepEqual({ file: dead[1].file, line: dead[1].line, raw: dead[1].raw }, { file: input, line: 5, raw: lines[4] });

  // Parquet: the row index and the row as JSON.
  const pq = join(dir, 'flights.parquet');
  const w = createTrainingWriter({
    path: pq,
    columns: [
      { name: 'date', type: 'timestamp-ms', nullable: false },
      { name: 'delay', type: 'int64', nullable: false },
      { name: 'distance', type: 'int64', nullable: false },
      { name: 'origin', type: 'string', nullable: true },
      { name: 'destination', type: 'string', nullable: false },
    ],
  });
  for (let i = 0; i < 4; i++) w.appendRow({ ...flight(i), origin: i === 2 ? null : 'SFO' });
  w.close();
  const out2 = join(dir, 'out2');
  await replayFiles({ plan, inputs: { flights: pq }, out: out2, workers: 1 });
  const [d] = deadLetters(join(out2, '_dead_letters'));
  assert.equal(d.file, pq);
  assert.equal(d.row, 2);
  assert.match(String(d.raw), /"origin":null/);
});

test('a key that is not a string in the file is dead-lettered, never a "[object Object]" key', async (t) => {
  const dir = tmp(t);
  const plan = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
  const input = join(dir, 'flights.ndjson');
  writeFileSync(input, [JSON.stringify(flight(0)), JSON.stringify(flight(1, { origin: { nested: true } })), JSON.stringify(flight(2, { origin: 42 }))].join('\n'));
  const out = join(dir, 'out');
  const summary = await replayFiles({ plan, inputs: { flights: input }, out, workers: 1 });
  assert.equal(summary.counters.emitted, 1);
  assert.equal(summary.deadLetters.count, 2);
});

test('a second backfill into the same --out leaves no stale part files; a foreign file there is never truncated', async (t) => {
  const dir = tmp(t);
  const plan = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
  const input = join(dir, 'flights.ndjson');
  writeFileSync(input, Array.from({ length: 40 }, (_, i) => JSON.stringify(flight(i, { origin: `A${i % 8}` }))).join('\n'));
  const out = join(dir, 'out');
  await replayFiles({ plan, inputs: { flights: input }, out, partitions: 4, workers: 1 });
  assert.ok(readdirSync(join(out, 'flight_features')).length > 1);
  writeFileSync(join(out, 'flight_features', 'notes.txt'), 'not ours');
  await replayFiles({ plan, inputs: { flights: input }, out, partitions: 1, workers: 1 });
  assert.deepEqual(readdirSync(join(out, 'flight_features')).sort(), ['notes.txt', 'part-00000.parquet'], 'the earlier part files are gone, the foreign file stays');

  const deadDir = join(dir, 'dead');
  mkdirSync(deadDir);
  writeFileSync(join(deadDir, 'part-00000.ndjson'), 'my own notes\n');
  writeFileSync(input, `${JSON.stringify(flight(0))}\nnot json\n`);
  await assert.rejects(replayFiles({ plan, inputs: { flights: input }, out, deadLetterDir: deadDir, workers: 1 }), /part-00000\.ndjson was not written by skewless/);
  assert.equal(readFileSync(join(deadDir, 'part-00000.ndjson'), 'utf8'), 'my own notes\n');
});

test('backfill targets: a non-empty --out or --dead-letter and a used --state are refused unless --overwrite, which removes only task state', async (t) => {
  const dir = tmp(t);
  const out = join(dir, 'out');
  const state = join(dir, 'state');
  mkdirSync(join(out, 'flight_features'), { recursive: true });
  assert.throws(() => prepareReplayTargets({ out, overwrite: false }), /^Error: --out .*out is not empty \(it holds flight_features\): pass a new or empty directory, or --overwrite/);
  const dead = join(dir, 'dead');
  mkdirSync(dead);
  writeFileSync(join(dead, 'x'), '');
  assert.throws(() => prepareReplayTargets({ out: join(dir, 'new'), deadLetterDir: dead, overwrite: false }), /--dead-letter .* is not empty/);

  const plan = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
  const input = join(dir, 'flights.ndjson');
  writeFileSync(input, [flight(0), flight(1)].map((f) => JSON.stringify(f)).join('\n'));
  const first = await replayFiles({ plan, inputs: { flights: input }, out: join(dir, 'o1'), stateDir: state, workers: 1 });
  assert.equal(first.counters.emitted, 2);
  writeFileSync(join(state, 'README.txt'), 'mine');
  assert.throws(() => prepareReplayTargets({ out: join(dir, 'o2'), stateDir: state, overwrite: false }), /--state .* already holds task state \(task-00000\): .* --overwrite to delete that task state first/);
  prepareReplayTargets({ out: join(dir, 'o2'), stateDir: state, overwrite: true });
  assert.deepEqual(readdirSync(state), ['README.txt']);
  const second = await replayFiles({ plan, inputs: { flights: input }, out: join(dir, 'o2'), stateDir: state, workers: 1 });
  assert.equal(second.counters.emitted, 2, 'the overwritten state replays everything again');
});

test('state store open errors name the store and say what to do', async (t) => {
  const dir = tmp(t);
  const store = join(dir, 'task-00000');
  const held = await LevelBackend.open(store);
  await assert.rejects(LevelBackend.open(store), (e: Error) => {
    assert.match(e.message, new RegExp(`^cannot open state store ${store}: another process holds it \\(.*LOCK.*\\)\\. Stop the other skewless process using this state directory, or use another one$`));
    return true;
  });
  await held.write([{ type: 'put', key: 'k', value: new Uint8Array([1]) }]);
  await held.close();
  for (const f of readdirSync(store)) if (f.startsWith('MANIFEST')) rmSync(join(store, f));
  await assert.rejects(LevelBackend.open(store), (e: Error) => {
    assert.match(e.message, new RegExp(`^state store ${store} is damaged \\(.*MANIFEST.*\\)\\. Delete the directory to rebuild it: a backfill rebuilds it from its input, a live worker restores it from the changelog by itself$`));
    assert.doesNotMatch(e.message, /another worker/);
    return true;
  });
});
