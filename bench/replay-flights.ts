/**
 * Replay of flight-delays over all 3,000,000 flights, file to Parquet, through the same code
 * path as `skewless backfill`. Prints events/s and peak RSS. Not part of `npm test`.
 *   npm run bench            (runs 3 times, prints each and the median)
 *   npm run bench -- --runs 5 --partitions 8
 * Each run is followed by a run of the baseline (bench/flights-baseline.ts: one tight loop over
 * the same file computing the same 8 features with typed arrays, no framework); the ratio
 * skewless / baseline is the median of the pairs' ratios (the machines are noisy).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayFiles } from '../src/modes/replay-files.js';
import { execFileSync } from 'node:child_process';
import type { BaselineResult } from './flights-baseline.js';
import { loadTopology } from '../src/plan/load-topology.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const runs = arg('runs', 3);
const partitions = arg('partitions', 8);

const plan = await loadTopology(join(root, 'topologies/flight-delays.ts'));
const input = join(root, 'node_modules/vega-datasets/data/flights-3m.parquet');
/** One baseline run in a process of its own: its memory stays out of the peak RSS measured here. */
const baselineRun = (): BaselineResult =>
  JSON.parse(execFileSync(process.execPath, ['--max-semi-space-size=64', '--import', 'tsx', join(root, 'bench/flights-baseline.ts'), input], { encoding: 'utf8' })) as BaselineResult;
const rates: number[] = [];
const baseline: number[] = [];
const compute: number[] = [];
const ratios: number[] = [];
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
// Each skewless run is followed by a baseline run: the machine's speed drifts within minutes,
// and a ratio of two runs made back to back holds where medians taken minutes apart do not.
for (let r = 0; r < runs; r++) {
  const out = mkdtempSync(join(tmpdir(), 'skewless-bench-'));
  const t0 = process.hrtime.bigint();
  const s = await replayFiles({ plan, inputs: { flights: input }, out, partitions });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const rate = s.counters.processed / secs;
  rates.push(rate);
  process.stdout.write(`run ${r + 1}: ${s.counters.processed.toLocaleString('en-US')} flights in ${secs.toFixed(2)} s = ${Math.round(rate).toLocaleString('en-US')} events/s\n`);
  rmSync(out, { recursive: true, force: true });
  const b = baselineRun();
  baseline.push(b.events / b.seconds);
  compute.push(b.events / b.computeSeconds);
  ratios.push(rate / (b.events / b.seconds));
  process.stdout.write(
    `baseline run ${r + 1}: ${b.events.toLocaleString('en-US')} flights in ${b.seconds.toFixed(2)} s = ${Math.round(b.events / b.seconds).toLocaleString('en-US')} events/s ` +
      `(the loop alone ${b.computeSeconds.toFixed(2)} s; checksum ${b.checksum.toFixed(0)}); skewless / baseline ${ratios[r].toFixed(2)}\n`,
  );
}
clearInterval(sampler);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
process.stdout.write(`median ${Math.round(median(rates)).toLocaleString('en-US')} events/s over ${runs} runs, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (floor: 300,000 events/s, < 1.5 GB)\n`);
process.stdout.write(
  `baseline median ${Math.round(median(baseline)).toLocaleString('en-US')} events/s (one thread, read included, no framework); ` +
    `skewless / baseline ${median(ratios).toFixed(2)}, the median of the ${runs} back-to-back pairs (${ratios.map((x) => x.toFixed(2)).join(' / ')}; target ≥ 1.0 with 2 worker threads); ` +
    `the baseline's loop alone ${Math.round(median(compute)).toLocaleString('en-US')} events/s (its read is hyparquet's, slower than skewless' own reader)\n`,
);
