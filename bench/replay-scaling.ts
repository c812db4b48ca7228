/**
 * How replay cost grows with the number of keys and with the window length (performance issue,
 * item 5). Three variants of flight-delays, replayed file to Parquet over the same flights
 * (flights-3m.parquet) into the same number of partitions, through the same code path as
 * `skewless backfill` and `npm run bench`:
 *   base    topologies/flight-delays.ts as it is
 *   keys10  bench/topologies/flight-delays-keys10.ts: entity, origin and route keys ten times finer
 *   30d     bench/topologies/flight-delays-30d.ts: every lookback window 30 days
 *   keys1000 bench/topologies/flight-delays-keys1000.ts: keys a thousand times finer (--variants only)
 * Runs alternate base / keys10 / 30d / base / ... (the machine is noisy). Per variant: median
 * events/s and its ratio to base, peak RSS of the process while that variant ran (sampled every
 * 50 ms; worker threads share the process, so RSS includes them), and the final state kept with
 * `stateDir`: bytes on disk (every file under it) and its LevelDB entries (counted after the run).
 *   npm run bench:scale                      (3 runs of each variant)
 *   npm run bench:scale -- --runs 5 --partitions 8 --variants base,30d
 *   npm run bench:scale -- --records 300000  (the first N flights, written once as NDJSON: a
 *                                             quick check, not comparable with the Parquet runs)
 * Not part of `npm test`.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClassicLevel } from 'classic-level';
import { readFileRecords } from '../src/io/files/read-file-records.js';
import { replayFiles } from '../src/modes/replay-files.js';
import type { CompiledPlan } from '../src/plan/compile.js';
import { loadTopology } from '../src/plan/load-topology.js';
import { fmt, median, numberArg, say } from './lib/bench-util.js';
import { writeSlice } from './lib/flight-slice.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const runs = numberArg('runs', 3);
const partitions = numberArg('partitions', 8);
const records = numberArg('records', 0);
const RSS_LIMIT = 1.5e9; // the README's floor: peak RSS under 1.5 GB
const MiB = 2 ** 20;

const VARIANTS = [
  { name: 'base', file: 'topologies/flight-delays.ts' },
  { name: 'keys10', file: 'bench/topologies/flight-delays-keys10.ts' },
  { name: 'keys1000', file: 'bench/topologies/flight-delays-keys1000.ts' },
  { name: '30d', file: 'bench/topologies/flight-delays-30d.ts' },
] as const;
const variantsArg = process.argv.indexOf('--variants');
// keys1000 (a million and a half route keys: 15–30 s a run) only when asked for.
const chosen = variantsArg >= 0 ? process.argv[variantsArg + 1].split(',') : ['base', 'keys10', '30d'];
const unknown = chosen.filter((c) => !VARIANTS.some((v) => v.name === c));
if (unknown.length > 0) throw new Error(`--variants ${unknown.join(',')}: expected some of ${VARIANTS.map((v) => v.name).join(',')}`);

interface StateSize {
  readonly diskBytes: number;
  readonly entries: number;
  /** Timeline heads (one per group key with events in its window) and event segments. */
  readonly heads: number;
  readonly segments: number;
  /** Sum of the entries' key and value lengths: the state's logical size, whatever LevelDB's files hold. */
  readonly logicalBytes: number;
}

interface Run {
  readonly seconds: number;
  readonly events: number;
  readonly rate: number;
  readonly late: number;
  readonly deadLetters: number;
  readonly emitted: number;
  readonly peakRss: number;
  readonly state: StateSize;
}

interface Variant {
  readonly name: string;
  readonly plan: CompiledPlan;
  readonly runs: Run[];
  distinctKeys: number;
  distinctRoutes: number;
}

/** Total size of the files under dir, recursively. */
function diskBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    total += e.isDirectory() ? diskBytes(path) : statSync(path).size;
  }
  return total;
}

/** Opens each task's LevelDB under the state root after the replay and counts its entries (see src/state/task-state-keys.ts). */
async function stateSize(stateDir: string): Promise<StateSize> {
  let entries = 0;
  let heads = 0;
  let segments = 0;
  let logicalBytes = 0;
  for (const task of readdirSync(stateDir).filter((d) => d.startsWith('task-')).sort()) {
    const db = new ClassicLevel<string, Uint8Array>(join(stateDir, task), { keyEncoding: 'utf8', valueEncoding: 'view', createIfMissing: false });
    await db.open();
    try {
      for await (const [key, value] of db.iterator()) {
        entries++;
        logicalBytes += Buffer.byteLength(key) + value.byteLength;
        if (key.endsWith('/h')) heads++;
        else if (key.includes('/e/')) segments++;
      }
    } finally {
      await db.close();
    }
  }
  return { diskBytes: diskBytes(stateDir), entries, heads, segments, logicalBytes };
}

/** Distinct source keys and route keys of each variant over the input, with the topologies' own key functions. */
async function countKeys(input: string, format: 'parquet' | 'ndjson', variants: readonly Variant[]): Promise<void> {
  const fns = variants.map((v) => {
    const source = v.plan.topology.sources.find((s) => s.name === 'flights');
    const route = v.plan.topology.groups.find((g) => g.name === 'route');
    if (!source || !route) throw new Error(`${v.plan.file}: no flights source or route group`);
    return { key: source.key, route: route.key, keys: new Set<unknown>(), routes: new Set<unknown>() };
  });
  const readerSchema = variants[0].plan.schemas.get('flights')?.json;
  for await (const batch of readFileRecords(input, format, { readerSchema })) {
    for (const rec of batch) {
      if (rec.value === undefined) continue;
      for (const f of fns) {
        f.keys.add(f.key(rec.value));
        f.routes.add(f.route(rec.value));
      }
    }
  }
  variants.forEach((v, i) => {
    v.distinctKeys = fns[i].keys.size;
    v.distinctRoutes = fns[i].routes.size;
  });
}

const variants: Variant[] = [];
for (const v of VARIANTS.filter((x) => chosen.includes(x.name))) {
  variants.push({ name: v.name, plan: await loadTopology(join(root, v.file)), runs: [], distinctKeys: 0, distinctRoutes: 0 });
}

const parquet = join(root, 'node_modules/vega-datasets/data/flights-3m.parquet');
const work = mkdtempSync(join(tmpdir(), 'skewless-scale-'));
let input = parquet;
let format: 'parquet' | 'ndjson' = 'parquet';
if (records > 0) {
  input = join(work, 'flights.ndjson');
  format = 'ndjson';
  const n = await writeSlice(parquet, input, records);
  say(`input: the first ${fmt(n)} flights of flights-3m.parquet as NDJSON (--records ${records}; not comparable with the full Parquet runs)`);
} else {
  say('input: all flights of flights-3m.parquet');
}

await countKeys(input, format, variants);
for (const v of variants) say(`${v.name}: ${fmt(v.distinctKeys)} distinct entity (origin) keys, ${fmt(v.distinctRoutes)} distinct route keys`);
const base = variants.find((v) => v.name === 'base');
if (base) {
  for (const v of variants.filter((x) => x !== base)) {
    say(`${v.name} / base: ${(v.distinctKeys / base.distinctKeys).toFixed(2)}× entity keys, ${(v.distinctRoutes / base.distinctRoutes).toFixed(2)}× route keys`);
  }
}

let peak = 0;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 50);
say(`${partitions} partitions, ${runs} runs per variant, alternated; RSS before the runs ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB`);
try {
  for (let r = 0; r < runs; r++) {
    for (const v of variants) {
      const out = join(work, 'out');
      const stateDir = join(work, 'state');
      peak = process.memoryUsage().rss;
      const t0 = process.hrtime.bigint();
      const s = await replayFiles({ plan: v.plan, inputs: { flights: input }, out, partitions, stateDir });
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const peakRss = Math.max(peak, process.memoryUsage().rss);
      const state = await stateSize(stateDir);
      const c = s.counters;
      const run: Run = { seconds, events: c.processed, rate: c.processed / seconds, late: c.late, deadLetters: c.deadLetters, emitted: c.emitted, peakRss, state };
      v.runs.push(run);
      say(
        `run ${r + 1} ${v.name.padEnd(6)}: ${fmt(run.events)} flights in ${seconds.toFixed(2)} s = ${fmt(run.rate)} events/s, ` +
          `peak RSS ${(peakRss / MiB).toFixed(0)} MiB, state ${(state.diskBytes / MiB).toFixed(1)} MiB on disk, ${fmt(state.entries)} entries ` +
          `(${fmt(state.heads)} heads, ${fmt(state.segments)} segments, ${(state.logicalBytes / MiB).toFixed(1)} MiB keys + values); ` +
          `${fmt(run.emitted)} rows, ${fmt(run.late)} late, ${fmt(run.deadLetters)} dead letters`,
      );
      rmSync(out, { recursive: true, force: true });
      rmSync(stateDir, { recursive: true, force: true });
    }
  }
} finally {
  clearInterval(sampler);
  rmSync(work, { recursive: true, force: true });
}

const rateOf = (v: Variant): number => median(v.runs.map((r) => r.rate));
const peakOf = (v: Variant): number => Math.max(...v.runs.map((r) => r.peakRss));
const baseRate = base ? rateOf(base) : undefined;
const mib = (bytes: number): string => (bytes / MiB).toFixed(1);
say('');
say('| variant | distinct keys | median events/s (runs) | ratio to base | peak RSS MiB | state on disk MiB | state entries |');
say('|---|---|---|---|---|---|---|');
for (const v of variants) {
  const last = v.runs[v.runs.length - 1].state;
  const disk = [...new Set(v.runs.map((r) => mib(r.state.diskBytes)))].join(' / ');
  const perRun = v.runs.map((r) => fmt(r.rate)).join(' / ');
  say(
    `| ${v.name} | ${fmt(v.distinctKeys)} (routes ${fmt(v.distinctRoutes)}) | ${fmt(rateOf(v))} (${perRun}) | ` +
      `${baseRate === undefined ? '–' : (rateOf(v) / baseRate).toFixed(2)} | ${(peakOf(v) / MiB).toFixed(0)} | ${disk} | ${fmt(last.entries)} |`,
  );
}
say('');
say('state per variant (last run): timeline heads, event segments, keys + values (logical bytes)');
for (const v of variants) {
  const s = v.runs[v.runs.length - 1].state;
  say(`  ${v.name}: ${fmt(s.heads)} heads, ${fmt(s.segments)} segments, ${fmt(s.entries - s.heads - s.segments)} other, ${mib(s.logicalBytes)} MiB keys + values, ${mib(s.diskBytes)} MiB on disk`);
}
const over = variants.filter((v) => peakOf(v) >= RSS_LIMIT);
if (over.length > 0) {
  say(`WARNING: peak RSS at or above 1.5 GB (${(RSS_LIMIT / MiB).toFixed(0)} MiB): ${over.map((v) => `${v.name} ${(peakOf(v) / MiB).toFixed(0)} MiB`).join(', ')}`);
} else {
  say(`peak RSS under 1.5 GB (${(RSS_LIMIT / MiB).toFixed(0)} MiB) for every variant`);
}
