/**
 * Heap per key of the engine's state: one task (no threads, an in-memory store, nothing
 * evicted) over the first N flights of flights-3m.parquet, then the heap growth after a full
 * collection divided by the keys the task caches (timelines of every group). Not part of
 * `npm test`; the figure is deterministic up to V8's object layout, unlike throughput.
 *   npm run bench:key-memory                                  (keys1000, 300,000 flights)
 *   npm run bench:key-memory -- topologies/flight-delays.ts 3000000
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../src/engine/program.js';
import type { TaskSinks } from '../src/engine/outputs.js';
import { Task } from '../src/engine/task.js';
import { readParquetRecords } from '../src/io/files/parquet-reader.js';
import { loadTopology } from '../src/plan/load-topology.js';
import { MemoryBackend } from '../src/state/state-backend.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const topologyFile = process.argv[2] ?? 'bench/topologies/flight-delays-keys1000.ts';
const limit = Number(process.argv[3] ?? 300_000);
const gc = globalThis.gc;
if (gc === undefined) throw new Error('run with --expose-gc (npm run bench:key-memory does)');
const plan = await loadTopology(join(root, topologyFile));
const program = buildProgram(plan);
const input = join(root, 'node_modules/vega-datasets/data/flights-3m.parquet');
let rows = 0;
const sinks: TaskSinks = { feature: () => void rows++, window: () => undefined, deadLetter: () => undefined, late: () => undefined };
const task = await Task.open(program, 0, new MemoryBackend(), sinks, { maxCachedKeys: Number.MAX_SAFE_INTEGER });
gc();
const before = process.memoryUsage().heapUsed;
let n = 0;
for await (const batch of readParquetRecords(input, { readerSchema: plan.schemas.get('flights')?.json })) {
  const records = batch.slice(0, Math.max(0, limit - n)).map((r, i) => ({ ...r, offset: n + i }));
  if (records.length === 0) break;
  await task.process({ source: 'flights', partition: 0, records });
  n += records.length;
}
gc();
const grown = process.memoryUsage().heapUsed - before;
const { cachedKeys, groupOwnerKeys } = task.cacheStats;
process.stdout.write(
  `${topologyFile}: ${n.toLocaleString('en-US')} flights, ${rows.toLocaleString('en-US')} rows, ${cachedKeys.toLocaleString('en-US')} cached keys ` +
    `(${groupOwnerKeys.toLocaleString('en-US')} group-owner entries); heap +${(grown / 2 ** 20).toFixed(1)} MiB = ${Math.round(grown / cachedKeys).toLocaleString('en-US')} bytes per cached key\n`,
);
