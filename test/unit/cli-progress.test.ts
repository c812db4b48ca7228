/**
 * Progress on a terminal and silence off it (src/cli/progress.ts), the one number style of
 * human output (src/io/number-format.ts), and the CLI with piped stderr: no bar, no control
 * characters, the summary on stdout as before. Expected strings are written out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LiveStatus } from '../../src/cli/live-status.js';
import { Progress, type ProgressStream } from '../../src/cli/progress.js';
import { formatReplaySummary } from '../../src/cli/replay-report.js';
import { formatDuration } from '../../src/dsl/duration.js';
import { emptyCounters } from '../../src/engine/task-counters.js';
import { formatCount, formatPercent, formatRate, formatSeconds } from '../../src/io/number-format.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'skewless.mjs');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A stand-in terminal: records what is written. */
function fakeStream(isTTY: boolean): ProgressStream & { text: () => string } {
  const chunks: string[] = [];
  return { isTTY, columns: 160, write: (s: string) => (chunks.push(s), true), text: () => chunks.join('') };
}

/** Everything drawn, ANSI control sequences removed (redraws of a line follow each other). */
const visible = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

/** The lines a terminal shows at the end: a return to column 1 starts the line over. */
const screen = (s: string): string[] =>
  s
    .replace(/\x1b\[1G/g, '\r')
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .split('\n')
    .map((l) => l.slice(l.lastIndexOf('\r') + 1))
    .filter((l) => l !== '');

test('formatCount, formatRate, formatPercent, formatSeconds: one style with thousands separators', () => {
  const cases: Array<[string, string]> = [
    [formatCount(2990), '2,990'],
    [formatCount(1_000_000), '1,000,000'],
    [formatCount(0), '0'],
    [formatCount(999), '999'],
    [formatCount(12_407.4), '12,407'],
    [formatRate(12_407.6, 'events'), '12,408 events/s'],
    [formatPercent(0.156), '15.6%'],
    [formatPercent(1), '100.0%'],
    [formatSeconds(0.44), '0.4 s'],
    [formatSeconds(59.9), '59.9 s'],
    [formatSeconds(65), '1m 05s'], // 60 + 5
    [formatSeconds(7322), '2h 02m'], // 2 × 3600 + 2 × 60 + 2
    [formatSeconds(Number.NaN), '?'],
    // Durations as the topology writes them: ms back to the largest exact unit.
    [formatDuration(1_800_000), '30m'],
    [formatDuration(3_600_000), '1h'],
    [formatDuration(90_000), '90s'],
    [formatDuration(604_800_000), '7d'],
    [formatDuration(1500), '1500ms'],
  ];
  for (const [got, want] of cases) assert.equal(got, want);
});

test('the replay summary puts thousands separators on every count', () => {
  const c = { ...emptyCounters(), processed: 1_000_000, emitted: 997_010, late: 2990, lateDropped: 2990, deadLetters: 1234 };
  const text = formatReplaySummary(
    { version: 'v', counters: c, files: [], inputRanges: [], deadLetters: { count: 1234, dir: 'd' }, lateRecords: { count: 0, dir: 'l' }, labels: {} },
    65,
  );
  assert.match(text, /^processed 1,000,000 records in 1m 05s \(15,385 events\/s\)$/m); // 1e6 / 65 = 15,384.6
  assert.match(text, /^late 2,990 \(dropped 2,990, side output 0\), dead letters 1,234, filtered 0$/m);
  assert.match(text, /^dead letters: 1,234 in d\//m);
  assert.doesNotMatch(text, /\d{4}/, 'no run of four digits without a separator');
});

test('on a terminal: a bar with done/total, percentage, rate and ETA; log lines above it; 100% when done', async () => {
  const stream = fakeStream(true);
  const p = new Progress('backfill', { total: 1000, stream });
  assert.equal(p.drawn, true);
  p.update(500);
  await sleep(450); // cli-progress redraws 5 times a second
  const half = visible(stream.text());
  assert.match(half, /backfill \[#{10}-{10}\] 50\.0% 500\/1,000 records, ETA [\d.?]+ s?, [\d,]+\/s/);
  p.log('skewless: a log line');
  p.update(750);
  await sleep(450);
  assert.match(visible(stream.text()), /skewless: a log line\n/);
  assert.match(visible(stream.text()), /\[#{15}-{5}\] 75\.0% 750\/1,000 records/);
  p.done(1000);
  const lines = screen(stream.text());
  assert.deepEqual(lines.slice(0, 1), ['skewless: a log line'], 'the log line stays above the bar');
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[1], /^backfill \[#{20}\] 100\.0% 1,000\/1,000 records, in [\d.]+ s, [\d,]+\/s$/);
});

test('a total that was an estimate: the finished line shows what was done as 100%', async () => {
  const stream = fakeStream(true);
  const p = new Progress('bootstrap replay', { stream });
  p.setTotal(1_204); // e.g. offsets including transaction markers
  p.update(1_200);
  p.done(1_200);
  assert.match(visible(stream.text()), /100\.0% 1,200\/1,200 records/);
});

test('off a terminal, or with --json: nothing is drawn, log lines still print', async () => {
  const pipe = fakeStream(false);
  const p = new Progress('backfill', { total: 10, stream: pipe });
  assert.equal(p.drawn, false);
  p.update(5);
  await sleep(300);
  p.log('plain line');
  p.done(10);
  assert.equal(pipe.text(), 'plain line\n');

  const tty = fakeStream(true);
  const quiet = new Progress('backfill', { total: 10, stream: tty, quiet: true });
  quiet.update(5);
  await sleep(300);
  quiet.done(10);
  assert.equal(tty.text(), '');
});

test('run on a terminal: restore bar over every restoring task, then a status line with the consumer lag', async () => {
  const stream = fakeStream(true);
  const s = new LiveStatus(stream);
  s.restored(0, 0, 3000);
  s.restored(1, 0, 1000);
  s.restored(0, 1500, 3000);
  await sleep(300);
  // (1,500 + 0) of (3,000 + 1,000)
  assert.match(visible(stream.text()), /restore \[#{8}-{12}\] 37\.5% 1,500\/4,000 changelog records/);
  s.log('skewless: task 1 ready');
  s.started(); // the worker runs; task 1 still restores, so the bar stays
  s.restored(1, 1000, 1000);
  s.restored(0, 3000, 3000);
  assert.match(visible(stream.text()), /100\.0% 4,000\/4,000 changelog records/);
  s.batch('tx', 0, 2500, 1200);
  s.batch('tx', 1, 100, 34);
  await sleep(300);
  s.close();
  assert.match(visible(stream.text()), /skewless: task 1 ready\n/);
  assert.match(visible(stream.text()), /live 2,600 records, [\d,]+\/s, [\d.]+ s, consumer lag 1,234/);

  const pipe = fakeStream(false);
  const quiet = new LiveStatus(pipe);
  quiet.restored(0, 0, 10);
  quiet.started();
  quiet.batch('tx', 0, 10, 0);
  quiet.log('skewless: a line');
  quiet.close();
  assert.equal(pipe.text(), 'skewless: a line\n');
});

test('the CLI with piped stderr draws no progress: generate and a file backfill write their summaries only', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-progress-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const gen = run(['generate', 'card-transactions', '--events', '5000', '--seed', '3', '--out', join(dir, 'data'), '--format', 'avro']);
  assert.equal(gen.status, 0, gen.stderr);
  assert.equal(gen.stderr, '', 'nothing on stderr');
  assert.match(gen.stdout, /^wrote 5,000 transactions to /m);
  assert.match(gen.stdout, /^wrote [\d,]+ merchant risk-tier versions to .*merchant_tiers\.avro$/m);

  const back = run(['backfill', 'topologies/card-fraud.ts', '--input', `transactions=${join(dir, 'data', 'transactions.avro')}`, '--input', `chargebacks=${join(dir, 'data', 'chargebacks.avro')}`, '--input', `merchant_tiers=${join(dir, 'data', 'merchant_tiers.avro')}`, '--partitions', '2', '--out', join(dir, 'out')]);
  assert.equal(back.status, 0, back.stderr);
  assert.equal(back.stderr, '', 'no bar, no control characters on stderr');
  assert.doesNotMatch(back.stdout, /[\r\x1b]/);
  assert.match(back.stdout, /^processed 5,\d{3} records in /m);
});
