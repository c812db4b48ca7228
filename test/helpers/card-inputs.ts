/**
 * The Kafka inputs of topologies/card-fraud.ts for tests: its three sources (transactions,
 * chargebacks, the merchant_tiers table), produced from a `writeCardDataset` data set to a test's
 * own topics with one partition count (engine sources must be co-partitioned, and produce
 * refuses an existing topic with another count), the `--topic` flags that point `skewless` at
 * them, and the internal topics a live run of a group creates (to clean up).
 *
 * Transactions that arrive in slices while workers run take the tier versions with them, in step
 * (tierGroupsInStep), as a feed of versions published when they become valid would: a live task
 * merges the table with the transactions, and when one of the two inputs is caught up and quiet
 * for --idle-ms it releases what it holds of the other (a merge skip), moving its stream time to
 * the latest of it. With all versions produced up front that is weeks ahead of the transactions
 * read so far, and the next slice's transactions are late live but not in replay (measured: 1,878
 * of 2,000 after one 4 s pause with --idle-ms 1000). In step, at the end of a slice a task holds
 * its transactions after its last version (they wait for the table), so that releasing them is
 * harmless; but a pause between two slices of --idle-ms or more is still harmful: the next slice's
 * versions arrive before its transactions while these have been quiet that long, and are
 * released at once (3,000 transactions on 4 partitions, two slices: 358 of 2,992 vectors never
 * served with --idle-ms 1000, and the same skip with 15000 where the test waited for every
 * transaction to be committed between slices: the tail of a slice is committed only once the
 * table has been quiet for --idle-ms, so such a wait is always that long). So in step works
 * when the slices follow each other within --idle-ms (produceCardInSlices with short pauses). A
 * test that waits between slices produces the whole table first and runs its workers with an
 * --idle-ms longer than its waits: its tasks then always hold versions ahead of their
 * transactions, never transactions, and nothing is skipped before the input ends
 * (test/integration/live-failover.test.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WriteCardDatasetResult } from '../../src/gen/write-card-dataset.js';
import { kafkaPartition } from '../../src/io/partitioning.js';
import { changelogTopic } from '../../src/modes/live/changelog.js';
import { regroupTopics } from '../../src/modes/live/live-regroup-task.js';
import { produceFile, type ProduceSummary } from '../../src/modes/produce-file.js';
import type { CompiledPlan } from '../../src/plan/compile.js';

/** The sources of card-fraud, in the order they are produced (the tables and labels before the stream a worker waits on). */
export const CARD_SOURCES = ['merchant_tiers', 'chargebacks', 'transactions'] as const;
export type CardSource = (typeof CARD_SOURCES)[number];

/** Source → topic; a test that produces a source itself (in slices, through the CLI) leaves it out of a produce call. */
export type CardTopics = Readonly<Partial<Record<CardSource, string>>>;

/** The files of a card data set, by source. */
export const cardInputFiles = (data: Pick<WriteCardDatasetResult, 'transactionsPath' | 'chargebacksPath' | 'merchantTiersPath'>): Readonly<Record<CardSource, string>> => ({
  transactions: data.transactionsPath,
  chargebacks: data.chargebacksPath,
  merchant_tiers: data.merchantTiersPath,
});

export interface CardProduce {
  readonly plan: CompiledPlan;
  readonly data: Pick<WriteCardDatasetResult, 'transactionsPath' | 'chargebacksPath' | 'merchantTiersPath'>;
  /** The sources to produce, each to its topic. */
  readonly topics: CardTopics;
  readonly partitions: number;
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  readonly batchSize?: number;
}

/** Produce each source named in `topics` from the data set's file; the summaries by source. */
export async function produceCardInputs(o: CardProduce): Promise<Partial<Record<CardSource, ProduceSummary>>> {
  const files = cardInputFiles(o.data);
  const out: Partial<Record<CardSource, ProduceSummary>> = {};
  for (const source of CARD_SOURCES) {
    const topic = o.topics[source];
    if (topic === undefined) continue;
    out[source] = await produceFile({ plan: o.plan, source, input: files[source], topic, partitions: o.partitions, brokers: o.brokers, registryUrl: o.registryUrl, batchSize: o.batchSize });
  }
  return out;
}

/** The topics and group of one card-only live test (card-only.ts: transactions, chargebacks, two outputs). */
export interface CardRunTopics {
  readonly transactions: string;
  readonly chargebacks: string;
  readonly features: string;
  readonly daily: string;
  /** Prefix of the late and dead-letter topics (`--side-prefix`). */
  readonly side: string;
  readonly group: string;
}

/** `<name>-tx-<run>`, `<name>-cb-<run>`, … : names no other test or run shares. */
export const cardRunTopics = (name: string, run: string): CardRunTopics => ({
  transactions: `${name}-tx-${run}`,
  chargebacks: `${name}-cb-${run}`,
  features: `${name}-features-${run}`,
  daily: `${name}-daily-${run}`,
  side: `${name}-${run}`,
  group: `${name}-${run}`,
});

/** The input, output and side-topic flags of `skewless run` on card-only.ts with the topics of `t`. */
export const cardRunFlags = (t: CardRunTopics): string[] => [
  ...cardTopicArgs({ transactions: t.transactions, chargebacks: t.chargebacks }),
  '--output-topic', `card_features=${t.features}`, '--output-topic', `card_daily_spend=${t.daily}`, '--side-prefix', t.side,
];

/** The topics of `t` a card-only live test produces to or has written: inputs, outputs, late records and dead letters. */
export const cardRunTopicNames = (t: CardRunTopics): string[] => [t.transactions, t.chargebacks, t.features, t.daily, `${t.side}-late`, `${t.side}-dead-letters`];

/** `--topic <source>=<topic>` for each source named in `topics` (for `run`, `backfill --from-kafka`, `bootstrap`). */
export const cardTopicArgs = (topics: CardTopics): string[] =>
  CARD_SOURCES.flatMap((source) => (topics[source] === undefined ? [] : ['--topic', `${source}=${topics[source]}`]));

/**
 * The topics `skewless run` creates for `group` besides its outputs: the changelog and, for a
 * regrouped topology (card-fraud's merchant features and tiers), the repartition and answers
 * topics. Deleting a topic that was never created is harmless, so this lists all three.
 */
export function liveInternalTopics(group: string, plan: CompiledPlan): string[] {
  const regroup = regroupTopics(group, plan.version, 0);
  return [changelogTopic(group, plan.version), regroup.messages, regroup.answers];
}

export interface LinesProduce {
  readonly plan: CompiledPlan;
  readonly source: string;
  /** NDJSON records in arrival order. */
  readonly lines: readonly string[];
  /** Where the lines are written for produce (it reads a file). */
  readonly file: string;
  readonly topic: string;
  readonly partitions: number;
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  readonly batchSize?: number;
}

/** Produce some NDJSON records of a source (a slice of a data set's file). */
export async function produceLines(o: LinesProduce): Promise<ProduceSummary> {
  writeFileSync(o.file, `${o.lines.join('\n')}\n`);
  return produceFile({ plan: o.plan, source: o.source, input: o.file, topic: o.topic, partitions: o.partitions, brokers: o.brokers, registryUrl: o.registryUrl, batchSize: o.batchSize });
}

/** The NDJSON lines of a data set's file. */
export const ndjsonLines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');

/**
 * The NDJSON file cut into consecutive parts ending before each of `ends` (the last part runs to
 * the end), each written to `<dir>/<name>-<i>.ndjson`; returns their paths, to produce one by one.
 */
export function writeNdjsonParts(file: string, ends: readonly number[], dir: string, name: string): string[] {
  const lines = ndjsonLines(file);
  const bounds = [0, ...ends, lines.length];
  return bounds.slice(1).map((end, i) => {
    const part = join(dir, `${name}-${i}.ndjson`);
    writeFileSync(part, `${lines.slice(bounds[i], end).join('\n')}\n`);
    return part;
  });
}

/**
 * The tier versions to produce before each slice of transactions: per partition (the merchant's
 * for a version, the card's for a transaction), the versions valid up to the latest event time
 * of that partition's transactions so far and not produced yet; the last group also takes the
 * versions after the last transaction. Each version is there before the first transaction after
 * it: the order of the canonical merge, as in replay. Between slices a task
 * then holds no version ahead of the transactions it has read (the versions up to its latest
 * transaction all sort before that transaction); see the module comment for the window after.
 */
export function tierGroupsInStep(tierLines: readonly string[], slices: ReadonlyArray<readonly string[]>, partitions: number): string[][] {
  const tiers = tierLines.map((line) => {
    const v = JSON.parse(line) as { merchant_id: string; valid_from: number };
    return { line, partition: kafkaPartition(v.merchant_id, partitions), validFrom: Number(v.valid_from) };
  });
  const reached = new Array<number>(partitions).fill(-Infinity);
  let next = tiers.map(() => true);
  return slices.map((slice, i) => {
    for (const line of slice) {
      const x = JSON.parse(line) as { card_id: string; event_time: number };
      const p = kafkaPartition(x.card_id, partitions);
      reached[p] = Math.max(reached[p], Number(x.event_time));
    }
    const last = i === slices.length - 1;
    const take = tiers.map((t, j) => next[j] && (last || t.validFrom <= reached[t.partition]));
    next = next.map((n, j) => n && !take[j]);
    return tiers.filter((_, j) => take[j]).map((t) => t.line);
  });
}

export interface InStepProduce {
  readonly plan: CompiledPlan;
  readonly data: Pick<WriteCardDatasetResult, 'transactionsPath' | 'merchantTiersPath'>;
  readonly topics: { readonly transactions: string; readonly merchant_tiers: string };
  readonly partitions: number;
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  /** Where the slice files go. */
  readonly dir: string;
  readonly slices: number;
  /** Pause after each slice. */
  readonly pauseMs: number;
  readonly batchSize?: number;
}

/**
 * Produce the transactions in slices with pauses, so workers consume while the producer is still
 * writing, each slice after its tier versions (tierGroupsInStep). Resolves to the records produced.
 */
export async function produceCardInSlices(o: InStepProduce): Promise<{ transactions: number; merchant_tiers: number }> {
  const lines = ndjsonLines(o.data.transactionsPath);
  const slices = Array.from({ length: o.slices }, (_, i) => lines.slice(Math.floor((i * lines.length) / o.slices), Math.floor(((i + 1) * lines.length) / o.slices)));
  const groups = tierGroupsInStep(ndjsonLines(o.data.merchantTiersPath), slices, o.partitions);
  const common = { plan: o.plan, partitions: o.partitions, brokers: o.brokers, registryUrl: o.registryUrl, batchSize: o.batchSize };
  const produced = { transactions: 0, merchant_tiers: 0 };
  for (let i = 0; i < o.slices; i++) {
    // The first group is never empty (every merchant has a version valid before the data start), so the topic exists before the first transaction.
    if (groups[i].length > 0) produced.merchant_tiers += (await produceLines({ ...common, source: 'merchant_tiers', lines: groups[i], file: join(o.dir, `merchant_tiers-${i}.ndjson`), topic: o.topics.merchant_tiers })).produced;
    produced.transactions += (await produceLines({ ...common, source: 'transactions', lines: slices[i], file: join(o.dir, `transactions-${i}.ndjson`), topic: o.topics.transactions })).produced;
    if (i < o.slices - 1) await new Promise<void>((r) => setTimeout(r, o.pauseMs));
  }
  return produced;
}

/** How many of card-fraud's feature rows carry real merchant values: a comparison of nulls with nulls would prove little. */
export function merchantCoverage(rows: Iterable<Readonly<Record<string, unknown>>>): { readonly rows: number; readonly withTier: number; readonly withMerchantHistory: number } {
  let n = 0;
  let withTier = 0;
  let withMerchantHistory = 0;
  for (const r of rows) {
    n++;
    if (r.merchant_risk_tier !== null && r.merchant_risk_tier !== undefined) withTier++;
    if (Number(r.merchant_txn_count_24h ?? 0) > 0) withMerchantHistory++;
  }
  return { rows: n, withTier, withMerchantHistory };
}
