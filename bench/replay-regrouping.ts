/**
 * Cost of a regrouping in replay: flight-network (flight-delays' input and features per origin,
 * plus a regrouping by destination read as of 5 minutes before departure) against
 * flight-delays, both over all 3,000,000 flights, file to Parquet, through the code path of
 * `skewless backfill`, alternating which runs first. Prints per run the time, events/s and the
 * peak RSS of this process (the worker threads included), then the medians and the ratio
 * flight-network / flight-delays of the times (issue target: at most 2). Not part of `npm test`.
 *   npm run bench:regroup-replay                      (3 runs of each)
 *   npm run bench:regroup-replay -- --runs 5 --partitions 8
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { replayFiles } from '../src/modes/replay-files.js';
import { loadTopology } from '../src/plan/load-topology.js';
import type { CompiledPlan } from '../src/plan/compile.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const runs = arg('runs', 3);
const partitions = arg('partitions', 8);
const input = join(root, 'node_modules/vega-datasets/data/flights-3m.parquet');
const plans: ReadonlyArray<readonly [string, CompiledPlan]> = [
  ['flight-delays', await loadTopology(join(root, 'topologies/flight-delays.ts'))],
  ['flight-network', await loadTopology(join(root, 'topologies/flight-network.ts'))],
];

interface Run {
  readonly seconds: number;
  readonly rate: number;
  readonly peakRss: number;
}

async function once(plan: CompiledPlan): Promise<Run> {
  const out = mkdtempSync(join(tmpdir(), 'skewless-bench-'));
  // RSS is sampled from a clean start of each run, so one topology's peak is not the other's.
  globalThis.gc?.();
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const t0 = process.hrtime.bigint();
  try {
    const s = await replayFiles({ plan, inputs: { flights: input }, out, partitions });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return { seconds, rate: s.counters.processed / seconds, peakRss: Math.max(peakRss, process.memoryUsage().rss) };
  } finally {
    clearInterval(sampler);
    rmSync(out, { recursive: true, force: true });
  }
}

const results = new Map<string, Run[]>(plans.map(([name]) => [name, []]));
const ratios: number[] = [];
for (let r = 0; r < runs; r++) {
  const order = r % 2 === 0 ? plans : [...plans].reverse();
  const got = new Map<string, Run>();
  for (const [name, plan] of order) {
    const run = await once(plan);
    got.set(name, run);
    results.get(name)!.push(run);
    process.stdout.write(`run ${r + 1} ${name}: ${run.seconds.toFixed(2)} s = ${Math.round(run.rate).toLocaleString('en-US')} events/s, peak RSS ${(run.peakRss / 2 ** 20).toFixed(0)} MiB\n`);
  }
  const ratio = got.get('flight-network')!.seconds / got.get('flight-delays')!.seconds;
  ratios.push(ratio);
  process.stdout.write(`run ${r + 1}: flight-network / flight-delays time ${ratio.toFixed(2)}\n`);
}
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, rs] of results) {
  process.stdout.write(
    `${name}: median ${median(rs.map((x) => x.seconds)).toFixed(2)} s = ${Math.round(median(rs.map((x) => x.rate))).toLocaleString('en-US')} events/s, ` +
      `peak RSS up to ${(Math.max(...rs.map((x) => x.peakRss)) / 2 ** 20).toFixed(0)} MiB\n`,
  );
}
process.stdout.write(`time ratio flight-network / flight-delays: median ${median(ratios).toFixed(2)} (runs ${ratios.map((x) => x.toFixed(2)).join(' / ')}; target ≤ 2)\n`);
