/**
 * One card-fraud worker under a fault (a broker crash or hang, a registry pause, a full disk):
 * its topics, its input produced in parts (each after its tier versions, see card-inputs.ts),
 * the worker, and the final check that every vector the replay computes was served once and
 * equal. Shared by the fault tests, which differ only in the fault.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../src/engine/program.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { deleteTopics } from '../../src/io/kafka/topic-admin.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import type { CompiledPlan } from '../../src/plan/compile.js';
import { cardTopicArgs, liveInternalTopics, ndjsonLines, produceCardInputs, produceLines, tierGroupsInStep } from './card-inputs.js';
import { compareVectors, exited, readLiveVectors, readReplayVectors, ROOT, spawnSkewless, stopLeftoverWorkers, type Worker } from './live-run.js';
import { servedAll } from './live-served.js';
import type { TestStack } from './stack.js';
import type { Timeline } from './fault-timeline.js';

export const FAULT_PARTITIONS = 4;

export class CardFaultRun {
  readonly dir: string;
  readonly topics: { readonly transactions: string; readonly chargebacks: string; readonly merchant_tiers: string; readonly features: string; readonly daily: string; readonly side: string; readonly group: string };
  /** Every worker started: one still running when the test fails is killed by close(). */
  private readonly workers: Worker[] = [];
  private parts: string[][] = [];
  private tierGroups: string[][] = [];

  private constructor(
    readonly stack: TestStack,
    readonly plan: CompiledPlan,
    name: string,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `skewless-${name}-`));
    const run = randomUUID().slice(0, 8);
    this.topics = { transactions: `${name}-tx-${run}`, chargebacks: `${name}-cb-${run}`, merchant_tiers: `${name}-tiers-${run}`, features: `${name}-features-${run}`, daily: `${name}-daily-${run}`, side: `${name}-${run}`, group: `${name}-${run}` };
  }

  static async create(stack: TestStack, name: string): Promise<CardFaultRun> {
    return new CardFaultRun(stack, await loadTopology(join(ROOT, 'topologies/card-fraud.ts')), name);
  }

  /** Write 12,000 transactions of `seed`, split at `cuts`, and produce the chargebacks (the parts come with producePart). */
  async prepare(seed: number, cuts: readonly number[]): Promise<void> {
    const data = await writeCardDataset({ outDir: join(this.dir, 'data'), events: 12000, seed, format: 'ndjson' });
    const lines = ndjsonLines(data.transactionsPath);
    const bounds = [0, ...cuts, lines.length];
    this.parts = bounds.slice(1).map((end, i) => lines.slice(bounds[i], end));
    this.tierGroups = tierGroupsInStep(ndjsonLines(data.merchantTiersPath), this.parts, FAULT_PARTITIONS);
    await produceCardInputs({ plan: this.plan, data, topics: { chargebacks: this.topics.chargebacks }, partitions: FAULT_PARTITIONS, brokers: this.stack.brokers, registryUrl: this.stack.registryUrl });
  }

  /** The transactions of part `i`, as prepare split them. */
  part(i: number): readonly string[] {
    return this.parts[i];
  }

  /** Part `i`'s tier versions. */
  async produceTiers(i: number): Promise<void> {
    const t = this.topics;
    if (this.tierGroups[i].length > 0) await produceLines({ plan: this.plan, source: 'merchant_tiers', lines: this.tierGroups[i], file: join(this.dir, `tiers-${i}.ndjson`), topic: t.merchant_tiers, partitions: FAULT_PARTITIONS, brokers: this.stack.brokers, registryUrl: this.stack.registryUrl });
  }

  /** Part `i`'s tier versions, then its transactions. */
  async producePart(i: number): Promise<void> {
    await this.produceTiers(i);
    const file = join(this.dir, `transactions-${i}.ndjson`);
    writeFileSync(file, `${this.parts[i].join('\n')}\n`);
    await produceFile({ plan: this.plan, source: 'transactions', input: file, topic: this.topics.transactions, partitions: FAULT_PARTITIONS, brokers: this.stack.brokers, registryUrl: this.stack.registryUrl, batchSize: 200 });
  }

  /** `skewless run` of card-fraud on this run's topics, in batches of 50, its lines on `timeline`. */
  startWorker(stateDir: string, timeline: Timeline): Worker {
    const t = this.topics;
    const w = spawnSkewless(
      ['run', 'topologies/card-fraud.ts', '--state', stateDir, '--group', t.group, ...cardTopicArgs({ transactions: t.transactions, merchant_tiers: t.merchant_tiers }), '--output-topic', `card_features=${t.features}`, '--output-topic', `card_daily_spend=${t.daily}`, '--side-prefix', t.side, '--max-batch', '50'],
      this.stack.env,
    );
    this.workers.push(w);
    timeline.follow(w);
    return w;
  }

  /**
   * Replay the topics, wait until `w` has served every vector the replay computes (the last rows
   * wait for the idle rule, so committed input offsets are not all), stop it, and check that each
   * was served exactly once with the replay's bytes.
   */
  async assertServedOnceAsReplay(w: Worker): Promise<void> {
    const t = this.topics;
    const output = buildProgram(this.plan).outputs[0];
    const out = join(this.dir, 'replay');
    await replayKafka({ plan: this.plan, brokers: this.stack.brokers, registryUrl: this.stack.registryUrl, topics: { transactions: t.transactions, chargebacks: t.chargebacks, merchant_tiers: t.merchant_tiers }, out, workers: 1 });
    const replayed = await readReplayVectors(out, output.name);
    await servedAll({ brokers: this.stack.brokers, registryUrl: this.stack.registryUrl, output, topic: t.features, expected: replayed.keys(), workers: [w] });
    w.kill('SIGTERM');
    assert.equal(await exited(w), 0, w.log);
    const cmp = compareVectors(await readLiveVectors(this.stack.brokers, this.stack.registryUrl, output, t.features), replayed, output);
    assert.ok(cmp.expected > 11_800, `replay computed ${cmp.expected}`);
    // The worker's merge skips and idle releases, the places live may part from replay, explain a difference.
    const idleLines = w.log.split('\n').filter((l) => /merge skip|idle release/.test(l));
    assert.deepEqual({ lost: cmp.lost, duplicates: cmp.duplicates, divergent: cmp.divergent }, { lost: 0, duplicates: 0, divergent: 0 }, [...cmp.examples, ...idleLines].join('\n'));
  }

  /** Kill the workers still running, delete the directory and the topics. */
  async close(): Promise<void> {
    await stopLeftoverWorkers(this.workers);
    rmSync(this.dir, { recursive: true, force: true });
    const t = this.topics;
    const conn = await KafkaConnection.open({ brokers: this.stack.brokers });
    try {
      await deleteTopics(conn, [t.transactions, t.chargebacks, t.merchant_tiers, t.features, t.daily, `${t.side}-late`, `${t.side}-dead-letters`, ...liveInternalTopics(t.group, this.plan)]);
    } finally {
      await conn.close();
    }
  }
}
