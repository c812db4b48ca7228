/**
 * One card-only live test against the stack: its topics and group, a state dir, `skewless run`
 * workers on them (each one still running at close() is stopped), the card dataset produced in
 * parts, and the clean-up. Shared by the tests of a task's changelog (undecided, hanging, of an
 * older state format), which differ only in what they do to it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram, type OutputProgram } from '../../src/engine/program.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { changelogTopic } from '../../src/modes/live/changelog.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import type { CompiledPlan } from '../../src/plan/compile.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { cardRunFlags, cardRunTopicNames, cardRunTopics, liveInternalTopics, writeNdjsonParts, type CardRunTopics } from './card-inputs.js';
import { cleanUpKafka } from './kafka-cleanup.js';
import { compareVectors, readLiveVectors, readReplayVectors, ROOT, spawnSkewless, stopLeftoverWorkers, type Worker } from './live-run.js';
import { servedAll } from './live-served.js';
import type { TestStack } from './stack.js';

export const CARD_ONLY = 'test/fixtures/card-only.ts';
const PARTITIONS = 2;

export class CardOnlyRun {
  readonly t: CardRunTopics;
  readonly changelog: string;
  readonly dir: string;
  readonly state: string;
  /** card_features: the output the checks compare. */
  readonly output: OutputProgram;
  readonly workers: Worker[] = [];
  /** Groups besides t.group whose internal topics close() deletes. */
  readonly otherGroups: string[] = [];

  private constructor(
    readonly stack: TestStack,
    readonly plan: CompiledPlan,
    name: string,
  ) {
    this.t = cardRunTopics(name, randomUUID().slice(0, 8));
    this.changelog = changelogTopic(this.t.group, plan.version);
    this.dir = mkdtempSync(join(tmpdir(), `skewless-${name}-`));
    this.state = join(this.dir, 'state');
    this.output = buildProgram(plan).outputs.find((o) => o.name === 'card_features')!;
  }

  static async create(stack: TestStack, name: string): Promise<CardOnlyRun> {
    return new CardOnlyRun(stack, await loadTopology(join(ROOT, CARD_ONLY)), name);
  }

  /**
   * Write `events` card transactions of `seed`, split at `cuts`; produce the chargebacks and the
   * first part. Resolves to the parts' files (produce the others with produce()).
   */
  async prepare(events: number, seed: number, cuts: readonly number[]): Promise<string[]> {
    const data = await writeCardDataset({ outDir: join(this.dir, 'data'), events, seed, format: 'ndjson' });
    const parts = writeNdjsonParts(data.transactionsPath, cuts, this.dir, 'transactions');
    await this.produce(data.chargebacksPath, 'chargebacks');
    await this.produce(parts[0]);
    return parts;
  }

  /** Produce a file of `source` records to its topic of this run. */
  async produce(input: string, source: 'transactions' | 'chargebacks' = 'transactions'): Promise<void> {
    await produceFile({ plan: this.plan, source, input, topic: this.t[source], partitions: PARTITIONS, brokers: this.stack.brokers, registryUrl: this.stack.registryUrl });
  }

  /** `skewless run` of card-only on this run's topics, state dir and group, idle inputs skipped after 1 s. */
  startWorker(extra: readonly string[] = []): Worker {
    const w = spawnSkewless(['run', CARD_ONLY, '--state', this.state, '--group', this.t.group, '--idle-ms', '1000', ...cardRunFlags(this.t), ...extra], this.stack.env);
    this.workers.push(w);
    return w;
  }

  /** Replay this run's input topics, and wait until `worker` has served every vector replay computes; resolves to those. */
  async servedAsReplayed(worker: Worker): Promise<Map<string, Record<string, unknown>>> {
    const out = join(this.dir, 'replay');
    const { stack, t } = this;
    await replayKafka({ plan: this.plan, brokers: stack.brokers, registryUrl: stack.registryUrl, topics: { transactions: t.transactions, chargebacks: t.chargebacks }, out, workers: 1 });
    const replayed = await readReplayVectors(out, this.output.name);
    await servedAll({ brokers: stack.brokers, registryUrl: stack.registryUrl, output: this.output, topic: t.features, expected: replayed.keys(), workers: [worker] });
    return replayed;
  }

  /** What a read_committed reader of card_features sees: every vector of `replayed` (at least `least`) once and equal. */
  async assertServedOnce(replayed: ReadonlyMap<string, Record<string, unknown>>, least: number, log: string): Promise<void> {
    const cmp = compareVectors(await readLiveVectors(this.stack.brokers, this.stack.registryUrl, this.output, this.t.features), replayed, this.output);
    assert.ok(cmp.expected > least, `replay computed ${cmp.expected}`);
    assert.deepEqual({ lost: cmp.lost, duplicates: cmp.duplicates, divergent: cmp.divergent }, { lost: 0, duplicates: 0, divergent: 0 }, `${cmp.examples.join('\n')}\n${log}`);
  }

  async close(): Promise<void> {
    await stopLeftoverWorkers(this.workers);
    rmSync(this.dir, { recursive: true, force: true });
    const groups = [this.t.group, ...this.otherGroups];
    await cleanUpKafka(this.stack.brokers, [...cardRunTopicNames(this.t), ...groups.flatMap((g) => liveInternalTopics(g, this.plan))], groups);
  }
}
