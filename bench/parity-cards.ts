/**
 * Parity benchmark: N card transactions (default 1,000,000), their chargebacks and the
 * merchants' risk-tier versions produced to fresh topics, served by `skewless run` with a parity
 * sample (default 1 %), then timed: `skewless parity` over the whole log, the first run of
 * `parity --state` (which also keeps the state for the next), and as the baseline in the same run
 * what parity used to do: a full `backfill --from-kafka` of the same topics to Parquet. Needs the
 * local stack:
 *   export $(node scripts/stack/up.mjs) && npx tsx bench/parity-cards.ts [--events 1000000] [--rate 0.01] [--runs 3] [--keep]
 * (--keep leaves the topics in place and prints the parity command, to profile or repeat it.)
 *
 * card-fraud serves merchant features through a regrouping (and looks the merchant's tier up in
 * a table keyed by merchant): parity computes rows for the sampled cards only, but every card's
 * transactions still go to the merchants' regrouped tasks; it refuses `--state` for such a
 * topology (it cannot keep regrouped state between runs), so the `--state` run is left out.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { KafkaConnection, parseBrokers } from '../src/io/kafka/kafka-connection.js';
import { deleteGroup, deleteTopics, fetchOffsets } from '../src/io/kafka/topic-admin.js';
import { hasRegrouping } from '../src/plan/compile.js';
import { loadTopology } from '../src/plan/load-topology.js';
import { numberArg, skewlessArgs } from './lib/bench-util.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const EVENTS = numberArg('events', 1_000_000);
const RATE = numberArg('rate', 0.01);
/** Parity runs over the same topics (the median is reported); the baseline runs once, it takes four times as long. */
const RUNS = numberArg('runs', 3);
/** Keep the topics and print the parity command, to profile or repeat it without loading again. */
const KEEP = process.argv.includes('--keep');
const brokers = parseBrokers(process.env.KAFKA_BROKERS ?? '');
const id = `bench-parity-${Date.now().toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), 'skewless-parity-bench-'));
const topics = { tx: `${id}-tx`, cb: `${id}-cb`, mt: `${id}-mt`, features: `${id}-features`, daily: `${id}-daily`, side: `${id}-side`, parity: `${id}-parity` };
const group = `${id}-g`;
const plan = await loadTopology(join(root, 'topologies/card-fraud.ts'));
const regrouped = hasRegrouping(plan.topology);
/** `--topic <source>=<topic>` for every source card-fraud reads (live reads the engine sources among them). */
const topicArgs = ['--topic', `transactions=${topics.tx}`, '--topic', `chargebacks=${topics.cb}`, '--topic', `merchant_tiers=${topics.mt}`];

function cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; seconds: number }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, skewlessArgs(...args), { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
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

/** A metric of the worker's exposition text summed over its partitions' series. */
const summed = (text: string, name: string): number =>
  [...text.matchAll(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);

/**
 * Serve what the topics hold, then stop: once the worker has applied every record of the topics
 * its tasks read (the transactions and the tier versions) and no row waits for its merchant
 * features any more. A feature topic that stopped growing for a poll is not enough: the rows of
 * the last grace − lag of event time wait for the idle rule (--idle-ms, 5 s).
 */
async function serve(records: number): Promise<void> {
  const worker = spawn(process.execPath, skewlessArgs('run', 'topologies/card-fraud.ts', '--state', join(dir, 'state'), '--group', group,
    ...topicArgs, '--output-topic', `card_features=${topics.features}`, '--output-topic', `card_daily_spend=${topics.daily}`,
    '--side-prefix', topics.side, '--parity-rate', String(RATE), '--parity-topic', topics.parity, '--metrics-port', '0'), { cwd: root, env: process.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  worker.stderr.setEncoding('utf8').on('data', (s: string) => (log += s));
  const gone = new Promise((r) => worker.once('exit', r));
  let exited = false;
  void gone.then(() => (exited = true));
  for (;;) {
    await new Promise((r) => setTimeout(r, 2000));
    if (exited) throw new Error(`skewless run exited before serving everything:\n${log.slice(-2000)}`);
    const url = /metrics on (http:\/\/\S+\/metrics)/.exec(log)?.[1];
    if (url === undefined) continue;
    const text = await fetch(url).then((r) => r.text(), () => '');
    // The worker publishes both after each commit, so the waiting count is read after the last input batch's.
    if (summed(text, 'skewless_records_total') >= records && summed(text, 'skewless_regroup_waiting_rows') === 0) break;
  }
  worker.kill('SIGTERM');
  await gone;
}

try {
  const data = join(dir, 'data');
  await must(['generate', 'card-transactions', '--events', String(EVENTS), '--seed', '3', '--out', data, '--format', 'avro']);
  const first = join(dir, 'first');
  await must(['produce', 'topologies/card-fraud.ts', '--source', 'merchant_tiers', '--input', join(data, 'merchant_tiers.avro'), '--topic', topics.mt, '--partitions', '8']);
  await must(['produce', 'topologies/card-fraud.ts', '--source', 'chargebacks', '--input', join(data, 'chargebacks.avro'), '--topic', topics.cb, '--partitions', '8']);
  await must(['produce', 'topologies/card-fraud.ts', '--source', 'transactions', '--input', join(data, 'transactions.avro'), '--topic', topics.tx, '--partitions', '8']);
  // The records the live tasks apply: every transaction and, card-fraud's table being an engine input, every tier version.
  await serve((await ends(topics.tx)) + (await ends(topics.mt)));
  const common = ['topologies/card-fraud.ts', '--sample', topics.parity, ...topicArgs, '--json'];
  const parityRuns: Array<{ stdout: string; seconds: number }> = [];
  for (let r = 0; r < RUNS; r++) parityRuns.push(await must(['parity', ...common]));
  const times = parityRuns.map((p) => p.seconds);
  const full = { stdout: parityRuns[0].stdout, seconds: [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)] };
  const withState = regrouped ? undefined : await must(['parity', ...common, '--state', join(dir, 'parity-state'), '--parity-rate', String(RATE)]);
  const baseline = await must(['backfill', 'topologies/card-fraud.ts', '--from-kafka', ...topicArgs, '--out', first, '--json']);
  const sampled = (JSON.parse(full.stdout) as { sample: { records: number } }).sample.records;
  process.stdout.write(
    `${EVENTS.toLocaleString('en-US')} card transactions, ${(RATE * 100).toFixed(1)} % sample (${sampled.toLocaleString('en-US')} sampled vectors): ` +
      `parity ${full.seconds.toFixed(1)} s (median of ${RUNS}: ${times.map((t) => t.toFixed(1)).join(' / ')})${regrouped ? ' (sampled cards; every transaction still feeds the merchants: card-fraud regroups)' : ''}; ` +
      `${withState === undefined ? 'no --state run (refused for a regrouped topology)' : `first --state run ${withState.seconds.toFixed(1)} s`}; ` +
      `baseline (what parity replayed before: a full backfill --from-kafka to Parquet) ${baseline.seconds.toFixed(1)} s; ` +
      `parity / baseline ${(full.seconds / baseline.seconds).toFixed(2)} (all from process start)\n`,
  );
} finally {
  if (KEEP) {
    process.stdout.write(`kept: skewless parity topologies/card-fraud.ts --sample ${topics.parity} ${topicArgs.join(' ')} --json\n`);
    await conn.close();
    process.exit(0);
  }
  await deleteGroup(conn, group).catch(() => undefined);
  await deleteTopics(conn, (await conn.admin.listTopics()).filter((t) => t.startsWith(id))).catch(() => undefined);
  await conn.close();
  rmSync(dir, { recursive: true, force: true });
}
