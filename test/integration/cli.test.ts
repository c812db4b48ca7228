/**
 * The command line as a user runs it: `node bin/skewless.mjs ...` in a child process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');

function skewless(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A CLI error: one line on stderr, no stack trace. */
function assertOneLineError(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  assert.notEqual(r.status, 0, 'exit code is non-zero');
  assert.notEqual(r.status, null, 'the process exited by itself');
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `exactly one line on stderr, got:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.doesNotMatch(r.stderr, /Error:/, 'no raw error class names');
  assert.match(lines[0], pattern);
}

test('plan prints the topology version; --json is JSON with the same version', () => {
  const text = skewless(['plan', 'topologies/flight-delays.ts']);
  assert.equal(text.status, 0, text.stderr);
  const m = /version ([0-9a-f]{16})\b/.exec(text.stdout);
  assert.ok(m, `a 16-hex-digit version in:\n${text.stdout}`);
  assert.match(text.stdout, /flight-delays/);
  assert.match(text.stdout, /origin_delay_std_7d/, 'features are listed');

  const json = skewless(['plan', 'topologies/flight-delays.ts', '--json']);
  assert.equal(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { version: string; plan: { name: string; engine: number } };
  assert.equal(parsed.version, m[1]);
  assert.equal(parsed.plan.name, 'flight-delays');
  assert.equal(typeof parsed.plan.engine, 'number');
});

test('backfill over NDJSON with a malformed line and a record without event time: exit 3, 2 complete dead letters with reasons', (t) => {
  const dir = tmp(t);
  const input = join(dir, 'flights.ndjson');
  const T0 = Date.UTC(2001, 0, 1, 8, 0);
  const lines = [
    JSON.stringify({ date: T0, delay: 5, distance: 337, origin: 'SFO', destination: 'LAX' }),
    JSON.stringify({ date: T0 + 60_000, delay: 30, distance: 679, origin: 'SFO', destination: 'SEA' }),
    '{"date": 978336120000, "delay": 3, "distance": 337, "origin": "SF', // line 3: truncated JSON
    JSON.stringify({ delay: 7, distance: 337, origin: 'LAX', destination: 'SFO' }), // line 4: no date
    JSON.stringify({ date: T0 + 180_000, delay: -2, distance: 337, origin: 'LAX', destination: 'SFO' }),
    '',
  ];
  writeFileSync(input, lines.join('\n'));
  // --dead-letter names a directory holding one NDJSON file per partition.
  const deadLetters = join(dir, 'dead');
  const out = join(dir, 'out');
  const r = skewless(['backfill', 'topologies/flight-delays.ts', '--input', `flights=${input}`, '--out', out, '--dead-letter', deadLetters, '--json']);
  // 3: finished, the output is complete, but records were dead-lettered (over --max-dead-letters, default 0).
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stderr, `skewless: backfill finished, but 2 records were dead-lettered (--max-dead-letters 0): see ${deadLetters}\n`);
  const summary = JSON.parse(r.stdout) as {
    counters: { processed: number; emitted: number; deadLetters: number; late: number };
    deadLetters: { count: number; dir: string };
    files: Array<{ rows: number }>;
  };
  assert.equal(summary.counters.deadLetters, 2);
  assert.equal(summary.counters.processed, 5);
  assert.equal(summary.counters.emitted, 3);
  assert.equal(summary.counters.late, 0);
  assert.deepEqual(summary.deadLetters, { count: 2, dir: deadLetters });
  assert.equal(summary.files.reduce((n, f) => n + f.rows, 0), 3);

  const dead = readdirSync(deadLetters)
    .filter((f) => f.endsWith('.ndjson'))
    .sort()
    .flatMap((f) => readFileSync(join(deadLetters, f), 'utf8').split('\n'))
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { source: string; partition: number; offset: number; reason: string; raw?: string; file?: string; line?: number });
  assert.equal(dead.length, 2);
  assert.deepEqual(
    dead.map((d) => [d.source, d.partition, d.offset]),
    [
      ['flights', 0, 2],
      ['flights', 0, 3],
    ],
  );
  assert.match(dead[0].reason, /invalid JSON at line 3/);
  assert.equal(dead[0].raw, lines[2], 'the malformed line is kept verbatim');
  // The schema has no default for the event time field: the reader rejects the record, as produce does.
  assert.match(dead[1].reason, /invalid record at line 4: field "date" is missing/);
  assert.deepEqual(dead.map((d) => [d.file, d.line, d.raw]), [
    [input, 3, lines[2]],
    [input, 4, lines[3]],
  ]);

  // The human summary says the same; --max-dead-letters 2 accepts them (exit 0).
  const human = skewless(['backfill', 'topologies/flight-delays.ts', '--input', input, '--out', join(dir, 'out2'), '--dead-letter', join(dir, 'dead2'), '--max-dead-letters', '2']);
  assert.equal(human.status, 0, human.stderr);
  assert.match(human.stdout, /dead letters 2\b/);
});

test('backfill refuses a used --state and a non-empty --out with one line saying what to do; --overwrite replays again', (t) => {
  const dir = tmp(t);
  const input = join(dir, 'flights.ndjson');
  const T0 = Date.UTC(2001, 0, 1, 8, 0);
  writeFileSync(input, [0, 1, 2].map((i) => JSON.stringify({ date: T0 + i * 60_000, delay: i, distance: 337, origin: 'SFO', destination: 'LAX' })).join('\n'));
  const state = join(dir, 'state');
  const args = (out: string, ...more: string[]): string[] => ['backfill', 'topologies/flight-delays.ts', '--input', input, '--out', out, '--state', state, '--json', ...more];
  const first = skewless(args(join(dir, 'out1')));
  assert.equal(first.status, 0, first.stderr);
  const again = skewless(args(join(dir, 'out2')));
  assertOneLineError(again, /--state .*state already holds task state \(task-00000\).*--overwrite/);
  const sameOut = skewless([...args(join(dir, 'out1')).filter((a) => a !== '--state' && a !== state)]);
  assertOneLineError(sameOut, /--out .*out1 is not empty .*--overwrite/);
  const overwritten = skewless(args(join(dir, 'out1'), '--overwrite'));
  assert.equal(overwritten.status, 0, overwritten.stderr);
  assert.equal((JSON.parse(overwritten.stdout) as { files: Array<{ rows: number }> }).files.reduce((n, f) => n + f.rows, 0), 3);
});

test('an unknown topology file: non-zero exit and a single line on stderr, no stack trace', () => {
  const r = skewless(['plan', 'topologies/does-not-exist.ts']);
  assertOneLineError(r, /does-not-exist\.ts/);
  assert.equal(r.stdout, '');
  const b = skewless(['backfill', 'topologies/does-not-exist.ts', '--input', 'x.ndjson', '--out', join(tmpdir(), 'skewless-never-written')]);
  assertOneLineError(b, /does-not-exist\.ts/);
});

test('a bad schema path or schema file: a clear one-line error naming the file', (t) => {
  const dir = tmp(t);
  // The topology files are ES modules importing the DSL by absolute URL.
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const dsl = pathToFileURL(join(ROOT, 'src', 'dsl', 'index.js')).href;
  const topo = (schema: string): string =>
    `import { topology } from '${dsl}';\n` +
    `export default topology('bad-schema', (t) => {\n` +
    `  const s = t.source<{ k: string; at: number }>('events', { schema: '${schema}', key: (e) => e.k, eventTime: (e) => e.at });\n` +
    `  const g = s.groupBy('k', (e) => e.k);\n` +
    `  s.features('f', { n: g.lookback('1h').count() });\n` +
    `  return {};\n` +
    `});\n`;

  writeFileSync(join(dir, 'missing.ts'), topo('./schemas/missing.avsc'));
  const missing = skewless(['plan', join(dir, 'missing.ts')]);
  assertOneLineError(missing, /missing\.avsc/);
  assert.match(missing.stderr, /not found|no such file/i);

  writeFileSync(join(dir, 'broken.avsc'), '{"type": "record", "name": "E", "fields": [');
  writeFileSync(join(dir, 'broken.ts'), topo('./broken.avsc'));
  const broken = skewless(['plan', join(dir, 'broken.ts')]);
  assertOneLineError(broken, /broken\.avsc/);
  assert.match(broken.stderr, /invalid JSON/i);

  writeFileSync(join(dir, 'wrong.avsc'), '{"type": "record", "name": "E", "fields": [{"name": "k", "type": "strin"}]}');
  writeFileSync(join(dir, 'wrong.ts'), topo('./wrong.avsc'));
  const wrong = skewless(['plan', join(dir, 'wrong.ts')]);
  assertOneLineError(wrong, /wrong\.avsc/);
  assert.match(wrong.stderr, /strin/, 'names the bad type');
});
