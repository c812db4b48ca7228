/**
 * Replay of flight-delays over all 3,000,000 flights, file to Parquet, through the same code
 * path as `skewless backfill`. Prints events/s and peak RSS. Not part of `npm test`.
 *   npm run bench            (runs 3 times, prints each and the median)
 *   npm run bench -- --runs 5 --partitions 8
 * Then the same number of runs of the baseline (bench/flights-baseline.ts: one tight loop over
 * the same file computing the same 8 features with typed arrays, no framework), and the ratio
 * skewless / baseline of the medians, measured in the same process (the machines are noisy).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayFiles } from '../src/modes/replay-files.js';
import { flightsBaseline } from './flights-baseline.js';
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
const rates: number[] = [];
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
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
}
clearInterval(sampler);
rates.sort((a, b) => a - b);
const median = rates[Math.floor(rates.length / 2)];
process.stdout.write(`median ${Math.round(median).toLocaleString('en-US')} events/s over ${runs} runs, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (floor: 300,000 events/s, < 1.5 GB)\n`);

const baseline: number[] = [];
const compute: number[] = [];
for (let r = 0; r < runs; r++) {
  const b = await flightsBaseline(input);
  baseline.push(b.events / b.seconds);
  compute.push(b.events / b.computeSeconds);
  process.stdout.write(
    `baseline run ${r + 1}: ${b.events.toLocaleString('en-US')} flights in ${b.seconds.toFixed(2)} s = ${Math.round(b.events / b.seconds).toLocaleString('en-US')} events/s ` +
      `(the loop alone ${b.computeSeconds.toFixed(2)} s; checksum ${b.checksum.toFixed(0)})\n`,
  );
}
baseline.sort((a, b) => a - b);
compute.sort((a, b) => a - b);
const baselineMedian = baseline[Math.floor(baseline.length / 2)];
const computeMedian = compute[Math.floor(compute.length / 2)];
process.stdout.write(
  `baseline median ${Math.round(baselineMedian).toLocaleString('en-US')} events/s (one thread, read included, no framework); ` +
    `skewless / baseline ${(median / baselineMedian).toFixed(2)} (target ≥ 1.0 with 2 worker threads); ` +
    `the baseline's loop alone ${Math.round(computeMedian).toLocaleString('en-US')} events/s (its read is hyparquet's, slower than skewless' own reader)\n`,
);
