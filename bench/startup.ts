/**
 * Startup: from spawning `skewless run` (a fresh group, state dir and output topic over a
 * topic pre-loaded with 2,000 flights) until the output topic holds its first committed
 * vector, read with read_committed offsets. Includes loading the CLI and the topology, the
 * connection, topic creation, the group join, task opening and the first transaction.
 * Baseline in the same run: `node -e 0` (the runtime's own start).
 *   export $(node scripts/stack/up.mjs) && npx tsx bench/startup.ts [--runs 5]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { readFileRecords } from '../src/io/files/read-file-records.js';
import { KafkaConnection, parseBrokers } from '../src/io/kafka/kafka-connection.js';
import { deleteGroup, deleteTopics, fetchOffsets } from '../src/io/kafka/topic-admin.js';
import { produceFile } from '../src/modes/produce-file.js';
import { loadTopology } from '../src/plan/load-topology.js';
import { skewlessArgs } from './lib/bench-util.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(process.argv[runsArg + 1]) : 5;
const brokers = parseBrokers(process.env.KAFKA_BROKERS ?? '');
const registryUrl = process.env.SCHEMA_REGISTRY_URL ?? '';
const id = `bench-startup-${Date.now().toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'skewless-startup-'));

const lines: string[] = [];
for await (const batch of readFileRecords(join(root, 'node_modules/vega-datasets/data/flights-3m.parquet'), 'parquet')) {
  for (const r of batch) lines.push(JSON.stringify(r.value));
  if (lines.length >= 2000) break;
}
const input = join(dir, 'flights.ndjson');
writeFileSync(input, `${lines.slice(0, 2000).join('\n')}\n`);
const plan = await loadTopology(join(root, 'topologies/flight-delays.ts'));
await produceFile({ plan, source: 'flights', input, topic: `${id}-in`, partitions: 8, brokers, registryUrl });

const conn = await KafkaConnection.open({ brokers });
const created: string[] = [`${id}-in`];
const groups: string[] = [];

async function once(run: number): Promise<number> {
  const out = `${id}-out-${run}`;
  const group = `${id}-g-${run}`;
  created.push(out, `${out}-side-late`, `${out}-side-dead-letters`, `${group}-${plan.version}-changelog`);
  groups.push(group);
  const t0 = performance.now();
  const child = spawn(process.execPath, skewlessArgs('run', 'topologies/flight-delays.ts', '--state', join(dir, `state-${run}`), '--group', group, '--topic', `flights=${id}-in`, '--output-topic', `flight_features=${out}`, '--side-prefix', `${out}-side`), { cwd: root, env: process.env, stdio: 'ignore' });
  try {
    for (;;) {
      const n = (await fetchOffsets(conn, out).catch(() => [])).reduce((a, p) => a + p.high, 0);
      if (n > 0) return (performance.now() - t0) / 1000;
      if (performance.now() - t0 > 60_000) throw new Error('no output after 60 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const times: number[] = [];
const node: number[] = [];
try {
  for (let r = 0; r < RUNS; r++) {
    const n0 = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    node.push((performance.now() - n0) / 1000);
    times.push(await once(r));
  }
} finally {
  for (const g of groups) await deleteGroup(conn, g).catch(() => undefined);
  await deleteTopics(conn, created).catch(() => undefined);
  await conn.close();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  `startup to first committed output: median ${median(times).toFixed(2)} s over ${RUNS} runs (runs: ${times.map((t) => t.toFixed(2)).join(', ')}); ` +
    `node -e 0 in the same runs: median ${median(node).toFixed(2)} s\n`,
);
