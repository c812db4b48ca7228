/**
 * Parity benchmark: N card transactions (default 1,000,000) produced to a fresh topic, served
 * by `skewless run` with a parity sample (default 1 %), then timed: `skewless parity` over the
 * whole log (sampled keys only), the first run of `parity --state` (which also keeps the state
 * for the next), and as the baseline in the same run what parity used to do: a full `backfill
 * --from-kafka` of the same topics to Parquet. Needs the local stack:
 *   export $(node scripts/stack/up.mjs) && npx tsx bench/parity-cards.ts [--events 1000000] [--rate 0.01]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { KafkaConnection, parseBrokers } from '../src/io/kafka/kafka-connection.js';
import { deleteGroup, deleteTopics, fetchOffsets } from '../src/io/kafka/topic-admin.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const EVENTS = arg('events', 1_000_000);
const RATE = arg('rate', 0.01);
const brokers = parseBrokers(process.env.KAFKA_BROKERS ?? '');
const id = `bench-parity-${Date.now().toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'skewless-parity-bench-'));
const topics = { tx: `${id}-tx`, cb: `${id}-cb`, features: `${id}-features`, daily: `${id}-daily`, side: `${id}-side`, parity: `${id}-parity` };
const group = `${id}-g`;

function cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; seconds: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(root, 'bin/skewless.mjs'), ...args], { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  return new Promise((r) => child.once('close', (code) => r({ code, stdout, seconds: (performance.now() - t0) / 1000 })));
}

async function must(args: readonly string[]): Promise<{ stdout: string; seconds: number }> {
  const r = await cli(args);
  if (r.code !== 0) throw new Error(`skewless ${args[0]} exited ${r.code}`);
  return r;
}

const conn = await KafkaConnection.open({ brokers });
const ends = async (topic: string): Promise<number> => (await fetchOffsets(conn, topic).catch(() => [])).reduce((n, p) => n + p.high, 0);

/** Serve what the topic holds, then stop: the worker's committed offsets reach the end of the input. */
async function serve(expected: number): Promise<void> {
  const worker = spawn(process.execPath, [join(root, 'bin/skewless.mjs'), 'run', 'topologies/card-fraud.ts', '--state', join(dir, 'state'), '--group', group,
    '--topic', `transactions=${topics.tx}`, '--output-topic', `card_features=${topics.features}`, '--output-topic', `card_daily_spend=${topics.daily}`,
    '--side-prefix', topics.side, '--parity-rate', String(RATE), '--parity-topic', topics.parity], { cwd: root, env: process.env, stdio: 'ignore' });
  let previous = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 2000));
    const n = await ends(topics.features);
    if (n === previous && n >= expected * 0.97) break;
    previous = n;
  }
  worker.kill('SIGTERM');
  await new Promise((r) => worker.once('exit', r));
}

try {
  const data = join(dir, 'data');
  await must(['generate', 'card-transactions', '--events', String(EVENTS), '--seed', '3', '--out', data, '--format', 'avro']);
  const first = join(dir, 'first');
  await must(['produce', 'topologies/card-fraud.ts', '--source', 'chargebacks', '--input', join(data, 'chargebacks.avro'), '--topic', topics.cb, '--partitions', '8']);
  await must(['produce', 'topologies/card-fraud.ts', '--source', 'transactions', '--input', join(data, 'transactions.avro'), '--topic', topics.tx, '--partitions', '8']);
  await serve(EVENTS);
  const common = ['topologies/card-fraud.ts', '--sample', topics.parity, '--topic', `transactions=${topics.tx}`, '--topic', `chargebacks=${topics.cb}`, '--json'];
  const full = await must(['parity', ...common]);
  const withState = await must(['parity', ...common, '--state', join(dir, 'parity-state'), '--parity-rate', String(RATE)]);
  const baseline = await must(['backfill', 'topologies/card-fraud.ts', '--from-kafka', '--topic', `transactions=${topics.tx}`, '--topic', `chargebacks=${topics.cb}`, '--out', first, '--json']);
  const sampled = (JSON.parse(full.stdout) as { sample: { records: number } }).sample.records;
  process.stdout.write(
    `${EVENTS.toLocaleString('en-US')} card transactions, ${(RATE * 100).toFixed(1)} % sample (${sampled.toLocaleString('en-US')} sampled vectors): ` +
      `parity ${full.seconds.toFixed(1)} s; first --state run ${withState.seconds.toFixed(1)} s; ` +
      `baseline (what parity replayed before: a full backfill --from-kafka to Parquet) ${baseline.seconds.toFixed(1)} s; ` +
      `parity / baseline ${(full.seconds / baseline.seconds).toFixed(2)} (all from process start)\n`,
  );
} finally {
  await deleteGroup(conn, group).catch(() => undefined);
  await deleteTopics(conn, (await conn.admin.listTopics()).filter((t) => t.startsWith(id))).catch(() => undefined);
  await conn.close();
  rmSync(dir, { recursive: true, force: true });
}
