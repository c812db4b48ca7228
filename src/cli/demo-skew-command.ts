/**
 * `skewless demo skew`: training/serving skew and its cure in one command, on the local stack.
 *
 * 1. ensure Kafka + registry (started here only if none is reachable; stopped at the end then),
 * 2. generate card transactions, chargebacks and merchant risk tiers and produce them to fresh
 *    topics (card-fraud reads all three: the tiers through its regrouping by merchant),
 * 3. (a) run topologies/card-fraud.ts live with a parity log, then `parity` of the same topology:
 *        parity holds;
 *    (b) run topologies/card-fraud-skewed.ts (a serving path with deliberate skew bugs) live into
 *        its own parity log, then `parity` of the CORRECT topology over that log: it alerts and
 *        names the skewed features.
 *
 * runParity compares every sampled vector with the offline recomputation whatever version served
 * it (a different version only adds an explanation to the row and the report), so (b) measures
 * the skewed values against the correct training features.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { writeCardDataset } from '../gen/write-card-dataset.js';
import type { ClientSecurity } from '../io/client-security.js';
import { KafkaConnection } from '../io/kafka/kafka-connection.js';
import { redactSecrets } from '../io/secret-redaction.js';
import { committedOffsets, deleteGroup, deleteTopics, fetchOffsets } from '../io/kafka/topic-admin.js';
import { formatCount, formatSeconds } from '../io/number-format.js';
import { changelogTopic } from '../modes/live/changelog.js';
import { regroupTopics } from '../modes/live/live-regroup-task.js';
import { startLiveWorker } from '../modes/live-worker.js';
import { runParity } from '../modes/parity-replay.js';
import { produceFile } from '../modes/produce-file.js';
import { renderParityHtml } from '../parity/html-report.js';
import type { ParityRunResult } from '../parity/parity-run.js';
import { formatParityTerminal } from '../parity/terminal-report.js';
import { hasRegrouping, type CompiledPlan } from '../plan/compile.js';
import { loadTopology } from '../plan/load-topology.js';
import { MetricsRegistry } from '../serve/metrics.js';
import { positiveInt } from './cli-args.js';
import { kafkaEndpoints } from './kafka-endpoints.js';
import { ensureLocalStack } from './local-stack.js';
import { Progress } from './progress.js';

const TOPOLOGIES = resolve(fileURLToPath(import.meta.url), '../../../topologies');
const PARTITIONS = 4;
const PARITY_RATE = 0.2;
/** The features the skewed topology computes differently (topologies/card-fraud-skewed.ts). */
export const SKEWED_FEATURES = ['txn_count_24h', 'amount_sum_24h', 'amount_mean_24h'] as const;

export interface DemoSkewFlags {
  events: string;
  seed: string;
  out: string;
  keepTopics?: boolean;
  config?: string;
  verbose?: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const say = (s: string): void => void process.stdout.write(`${s}\n`);

async function topicSize(conn: KafkaConnection, topic: string): Promise<number> {
  return (await fetchOffsets(conn, topic).catch(() => [])).reduce((n, p) => n + p.high, 0);
}

/** Input offsets the group has committed, summed over the topic's partitions. */
async function committedTotal(conn: KafkaConnection, group: string, topic: string): Promise<number> {
  return (await committedOffsets(conn, group, topic)).reduce((n, p) => n + p.offset, 0);
}

/** A per-partition metric of the worker summed over every partition, or undefined while a partition has not published it yet. */
function summedOverPartitions(metrics: MetricsRegistry, name: string): number | undefined {
  let sum = 0;
  for (let p = 0; p < PARTITIONS; p++) {
    const v = metrics.get(name, { partition: String(p) });
    if (v === undefined) return undefined;
    sum += v;
  }
  return sum;
}

interface LiveRun {
  readonly vectors: number;
  readonly seconds: number;
}

/**
 * Runs a topology live in-process until it has committed every input record and served every
 * row. Exactly-once commits the consumer offsets in the transaction that holds a batch's vectors
 * and parity samples, so without a regrouping, once the group's offsets reach the input's end
 * offsets, both topics are complete. card-fraud's merchant features come through a regrouping:
 * a row then waits, after its input offset is committed, for the answers of the merchant's
 * task, and the last rows until the idle rule (--idle-ms, 5 s) releases them; so the run also
 * waits until no task holds a row waiting for its answers. The worker publishes that count
 * after each commit, and publishes its applied-record count at the same time: only once that
 * count covers every record of the inputs is the waiting count the one after the last input
 * batch (read before, it could still be the count from before that batch's rows).
 */
async function runLiveUntilCaughtUp(args: {
  plan: CompiledPlan;
  brokers: readonly string[];
  registryUrl: string;
  security: ClientSecurity;
  stateDir: string;
  group: string;
  sourceTopics: Record<string, string>;
  outputTopics: Record<string, string>;
  sidePrefix: string;
  parityTopic: string;
  verbose: boolean;
}): Promise<LiveRun> {
  const started = Date.now();
  const input = args.sourceTopics.transactions;
  const conn = await KafkaConnection.open({ brokers: args.brokers, security: args.security.kafka });
  try {
    const end = await topicSize(conn, input);
    // Every record of the topics the tasks apply (the label topic, chargebacks, is read by the
    // replay only); produced without transactions, so the end offsets count records only.
    let records = 0;
    for (const source of args.plan.engineSources) records += await topicSize(conn, args.sourceTopics[source]);
    // Records of every input the tasks apply (the tier versions too), as onBatchTiming counts them.
    const progress = new Progress('    live', { unit: 'records', total: records });
    let applied = 0;
    const metrics = new MetricsRegistry();
    const worker = await startLiveWorker({
      plan: args.plan,
      brokers: args.brokers,
      registryUrl: args.registryUrl,
      security: args.security,
      stateDir: args.stateDir,
      group: args.group,
      sourceTopics: args.sourceTopics,
      outputTopics: args.outputTopics,
      sideTopicPrefix: args.sidePrefix,
      parity: { rate: PARITY_RATE, topic: args.parityTopic },
      metrics,
      verbose: args.verbose,
      log: args.verbose ? (line) => progress.log(line) : () => {},
      onBatchTiming: (t) => progress.update((applied += t.records)),
    });
    try {
      const regrouping = hasRegrouping(args.plan.topology);
      const caughtUp = async (): Promise<void> => {
        const deadline = Date.now() + 300_000;
        for (;;) {
          await sleep(250);
          const committed = await committedTotal(conn, args.group, input);
          const done = summedOverPartitions(metrics, 'skewless_records_total') ?? 0;
          const waiting = summedOverPartitions(metrics, 'skewless_regroup_waiting_rows');
          if (committed >= end && (!regrouping || (done >= records && waiting === 0))) return;
          if (Date.now() > deadline) {
            const rows = regrouping ? `, ${formatCount(done)} of ${formatCount(records)} input records applied, ${waiting === undefined ? 'not every task open' : `${formatCount(waiting)} rows waiting for their regrouped features`}` : '';
            throw new Error(`live worker did not catch up within 5 minutes (${formatCount(committed)} of ${formatCount(end)} transactions committed${rows})`);
          }
        }
      };
      await progress.around(caughtUp(), () => records);
    } finally {
      await worker.stop();
    }
    // The worker's own count: the feature topic's end offsets also count its transactions' commit markers.
    return { vectors: summedOverPartitions(metrics, 'skewless_features_total') ?? 0, seconds: (Date.now() - started) / 1000 };
  } finally {
    await conn.close();
  }
}

const indent = (s: string): string => s.replace(/^/gm, '    ');

/** `skewless demo skew`: exit 0 when the correct topology holds parity and the skewed one alerts on its features. */
export async function runDemoSkew(flags: DemoSkewFlags): Promise<void> {
  const events = positiveInt(flags.events, '--events');
  const seed = Number(flags.seed);
  const verbose = flags.verbose === true;
  const out = resolve(flags.out);
  mkdirSync(out, { recursive: true });

  say('1/5 making sure Kafka and the schema registry are up');
  // A cluster configured with --config / SKEWLESS_CONFIG (e.g. the secured local stack) is used as it is.
  const configured = flags.config !== undefined || process.env.SKEWLESS_CONFIG ? kafkaEndpoints({ config: flags.config }) : undefined;
  const stack = configured
    ? { brokers: configured.brokers.join(','), registryUrl: configured.registryUrl, startedHere: false, stop: async () => {} }
    : await ensureLocalStack((m: string) => say(`    ${m}`));
  say(`    brokers ${stack.brokers}, registry ${stack.registryUrl}${stack.startedHere ? ' (started for this demo, stopped at the end)' : ''}`);
  const { brokers, registryUrl, security } = configured ?? kafkaEndpoints({}, { ...process.env, KAFKA_BROKERS: stack.brokers, SCHEMA_REGISTRY_URL: stack.registryUrl });

  const run = randomUUID().slice(0, 8);
  const topics = {
    transactions: `demo-skew-tx-${run}`,
    chargebacks: `demo-skew-cb-${run}`,
    merchant_tiers: `demo-skew-mt-${run}`,
  };
  const variant = (name: string) => ({
    features: `demo-skew-${name}-features-${run}`,
    daily: `demo-skew-${name}-daily-${run}`,
    side: `demo-skew-${name}-${run}`,
    parity: `demo-skew-${name}-parity-${run}`,
    group: `demo-skew-${name}-${run}`,
    state: join(out, 'state', name),
  });
  const correct = variant('correct');
  const skewed = variant('skewed');
  const allTopics = [...Object.values(topics), ...[correct, skewed].flatMap((v) => [v.features, v.daily, `${v.side}-late`, `${v.side}-dead-letters`, v.parity])];
  /** The topics a live run of `plan` under the variant's group creates itself: changelog, and the regrouping's repartition and answers topics. */
  const internalTopics = (p: CompiledPlan, v: ReturnType<typeof variant>): string[] => {
    const regroup = regroupTopics(v.group, p.version, PARTITIONS);
    return [changelogTopic(v.group, p.version), ...(hasRegrouping(p.topology) ? [regroup.messages, regroup.answers] : [])];
  };
  /** Filled once the plans are loaded: what to delete besides allTopics. */
  const createdByRuns: string[] = [];

  let ok = false;
  try {
    const dataDir = join(out, 'data');
    say(`2/5 generating ${formatCount(events)} card transactions (seed ${seed}) into ${dataDir}`);
    const generating = new Progress('    generate', { unit: 'transactions', total: events });
    const data = await generating.around(writeCardDataset({ outDir: dataDir, events, seed, format: 'avro', onProgress: (n) => generating.update(n) }), (d) => d.events);
    say(`    ${formatCount(data.cards)} cards, ${formatCount(data.fraudTransactions)} fraudulent transactions, ${formatCount(data.chargebacks)} chargebacks`);

    const plan = await loadTopology(join(TOPOLOGIES, 'card-fraud.ts'));
    const skewedPlan = await loadTopology(join(TOPOLOGIES, 'card-fraud-skewed.ts'));
    createdByRuns.push(...internalTopics(plan, correct), ...internalTopics(skewedPlan, skewed));
    say(`    producing to ${topics.transactions}, ${topics.chargebacks} and ${topics.merchant_tiers} (${PARTITIONS} partitions)`);
    const common = { plan, partitions: PARTITIONS, brokers, registryUrl, security, verbose };
    // All files at once: each keeps its own order, which is all that matters.
    const total = data.events + data.chargebacks + data.merchantTiers;
    const producing = new Progress('    produce', { total });
    const handled: Record<keyof typeof topics, number> = { transactions: 0, chargebacks: 0, merchant_tiers: 0 };
    const load = (source: keyof typeof topics, input: string): Promise<unknown> =>
      produceFile({
        ...common, source, input, topic: topics[source],
        onProgress: (n) => {
          handled[source] = n;
          producing.update(handled.transactions + handled.chargebacks + handled.merchant_tiers);
        },
      });
    await producing.around(
      Promise.all([load('merchant_tiers', data.merchantTiersPath), load('chargebacks', data.chargebacksPath), load('transactions', data.transactionsPath)]),
      () => total,
    );
    const sourceTopics: Record<string, string> = { ...topics };

    const live = async (p: CompiledPlan, v: ReturnType<typeof variant>): Promise<LiveRun> => {
      rmSync(v.state, { recursive: true, force: true });
      return runLiveUntilCaughtUp({
        plan: p, brokers, registryUrl, security, stateDir: v.state, group: v.group, sourceTopics,
        outputTopics: { card_features: v.features, card_daily_spend: v.daily },
        sidePrefix: v.side, parityTopic: v.parity, verbose,
      });
    };
    // One replay thread: each worker thread loads the topology and every module again (about
    // 1.5 s of CPU), more than the replay of the demo's topics takes.
    const parity = (sampleTopic: string): Promise<ParityRunResult> => {
      const progress = new Progress('    parity replay');
      const onReplayProgress = (done: number, total: number): void => progress.updateOf(done, total);
      return progress.around(runParity({ plan, brokers, registryUrl, security, sample: { topic: sampleTopic }, topics: sourceTopics, workers: 1, verbose, onReplayProgress }));
    };

    // (a) the correct topology served live, checked against itself offline.
    say(`3/5 (a) serving topologies/card-fraud.ts live (version ${plan.version}), sampling ${PARITY_RATE * 100}% of cards into ${correct.parity}`);
    const a = await live(plan, correct);
    say(`    caught up in ${formatSeconds(a.seconds)}: ${formatCount(a.vectors)} feature vectors served`);
    say('    parity: replaying the topics offline and comparing every sampled vector');
    const ra = await parity(correct.parity);
    const htmlA = join(out, 'parity-correct.html');
    writeFileSync(htmlA, redactSecrets(renderParityHtml(ra)));
    say(indent(formatParityTerminal(ra)));
    say(`    HTML report: ${htmlA}`);

    // (b) the skewed serving path, checked against the CORRECT topology offline.
    say(`4/5 (b) serving topologies/card-fraud-skewed.ts live (version ${skewedPlan.version}: 23h count, amounts including the current event)`);
    const b = await live(skewedPlan, skewed);
    say(`    caught up in ${formatSeconds(b.seconds)}: ${formatCount(b.vectors)} feature vectors served`);
    say(`    parity of topologies/card-fraud.ts (the training pipeline) over the skewed parity log ${skewed.parity}`);
    const rb = await parity(skewed.parity);
    const htmlB = join(out, 'parity-skewed.html');
    writeFileSync(htmlB, redactSecrets(renderParityHtml(rb)));
    say(indent(formatParityTerminal(rb)));
    say(`    HTML report: ${htmlB}`);

    // Verdict.
    say('5/5 verdict');
    const aHeld = !ra.alert && ra.mismatchCount === 0 && ra.sample.matched > 0;
    const flagged = rb.report.summary.differingFeatures;
    const named = SKEWED_FEATURES.filter((f) => flagged.includes(f) || rb.reasons.some((r) => r.includes(f)));
    const bAlerted = rb.alert && named.includes('txn_count_24h');
    say(`    (a) card-fraud live vs offline: ${aHeld ? 'parity holds' : 'UNEXPECTED ALERT'} — ${formatCount(ra.sample.matched)} sampled vectors, ${formatCount(ra.mismatchCount)} mismatching values`);
    say(`    (b) skewed serving vs card-fraud offline: ${bAlerted ? 'alert, as expected' : 'NO ALERT (unexpected)'} — ${formatCount(rb.mismatchCount)} mismatching values over ${formatCount(rb.sample.matched)} sampled vectors`);
    say(`        features flagged: ${flagged.length > 0 ? flagged.join(', ') : '(none)'}`);
    if (rb.sample.otherVersion > 0) say(`        served by version ${skewedPlan.version}, checked against ${plan.version}: the version differs, so the deploy pipeline would also have flagged this build`);
    const unexpected = flagged.filter((f) => !(SKEWED_FEATURES as readonly string[]).includes(f));
    if (unexpected.length > 0) say(`        also flagged (derived from a skewed feature or a distribution shift): ${unexpected.join(', ')}`);
    say(`    reports: ${htmlA}, ${htmlB}`);
    ok = aHeld && bAlerted;
    if (!ok) say('    demo did NOT behave as expected');
  } finally {
    if (!flags.keepTopics) {
      const conn = await KafkaConnection.open({ brokers, security: security.kafka });
      try {
        await deleteTopics(conn, [...allTopics, ...createdByRuns]).catch(() => {});
        for (const g of [correct.group, skewed.group]) await deleteGroup(conn, g).catch(() => {});
      } finally {
        await conn.close();
      }
      rmSync(join(out, 'state'), { recursive: true, force: true });
    }
    if (stack.startedHere) {
      say('    stopping the stack started for this demo');
      await stack.stop();
    }
  }
  process.exitCode = ok ? 0 : 1;
}
