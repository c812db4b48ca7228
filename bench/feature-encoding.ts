/**
 * Cost per served vector of the live output encoding: the direct feature-record encoder
 * against what the live path did before (build a value object per vector, hand it to avsc),
 * for flight-delays' columns, interleaved in one process (medians of several rounds).
 *   npx tsx bench/feature-encoding.ts [--vectors 500000] [--rounds 7]
 */
import { performance } from 'node:perf_hooks';
import { buildProgram } from '../src/engine/program.js';
import { FeatureRecordEncoder } from '../src/io/avro/feature-record-encoder.js';
import { featureRecordSchema } from '../src/io/avro/feature-record-schema.js';
import { WireEncoder } from '../src/io/avro/wire-encoder.js';
import type { AggValue } from '../src/ops/aggregation.js';
import { loadTopology } from '../src/plan/load-topology.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('--vectors', 500_000);
const ROUNDS = arg('--rounds', 7);
const plan = await loadTopology(new URL('../topologies/flight-delays.ts', import.meta.url).pathname);
const output = buildProgram(plan).outputs[0];
const columns = output.columns;
const direct = new FeatureRecordEncoder(output.name, columns, 42);
const viaAvsc = new WireEncoder(featureRecordSchema(output.name, columns), 42);

// Plausible vectors: counts, means and strings of the right types, varied.
const vectors: Array<{ head: { key: string; eventTime: number; partition: number; offset: number }; values: AggValue[] }> = [];
for (let i = 0; i < 4096; i++) {
  const values = columns.map((c, j): AggValue => (i + j) % 11 === 0 ? null : c.type === 'int64' ? (i * 7 + j) % 500 : c.type === 'double' ? ((i * 13 + j) % 997) / 7 : c.type === 'string' ? `v${i % 50}` : (i + j) % 2);
  vectors.push({ head: { key: ['ORD', 'ATL', 'DFW', 'LAX', 'JFK'][i % 5], eventTime: 1_104_537_600_000 + i * 60_000, partition: i % 8, offset: i * 3 }, values });
}

function runDirect(): number {
  const t0 = performance.now();
  let bytes = 0;
  for (let i = 0; i < N; i++) {
    const v = vectors[i & 4095];
    bytes += direct.encode(v.head, v.values).bytes!.length;
  }
  if (bytes === 0) throw new Error('nothing encoded');
  return performance.now() - t0;
}

function runAvsc(): number {
  const t0 = performance.now();
  let bytes = 0;
  for (let i = 0; i < N; i++) {
    const v = vectors[i & 4095];
    const value: Record<string, unknown> = { key: v.head.key, event_time: v.head.eventTime, partition: v.head.partition, offset: v.head.offset };
    columns.forEach((c, j) => {
      if (c.role !== 'label') value[c.name] = v.values[j] === null ? null : c.type === 'boolean' ? v.values[j] === 1 : v.values[j];
    });
    bytes += viaAvsc.encode(value).bytes!.length;
  }
  if (bytes === 0) throw new Error('nothing encoded');
  return performance.now() - t0;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const d: number[] = [];
const a: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  if (r % 2 === 0) {
    d.push(runDirect());
    a.push(runAvsc());
  } else {
    a.push(runAvsc());
    d.push(runDirect());
  }
}
const ns = (ms: number): string => ((ms * 1e6) / N).toFixed(0);
process.stdout.write(
  `${output.name}, ${columns.length} columns, ${N.toLocaleString('en-US')} vectors, medians of ${ROUNDS} rounds: ` +
    `direct ${ns(median(d))} ns/vector, value object + avsc ${ns(median(a))} ns/vector: ${(median(a) / median(d)).toFixed(2)}x\n`,
);
