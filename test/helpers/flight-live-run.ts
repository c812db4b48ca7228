/**
 * A flight-delays topology run live against the local stack under throwaway names: its input,
 * feature and side topics, group and working directory, and the workers it starts; all of it
 * removed after the test file (the workers still running killed first).
 */
import { test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompiledPlan } from '../../src/plan/compile.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayFiles } from '../../src/modes/replay-files.js';
import { liveInternalTopics } from './card-inputs.js';
import { cleanUpKafka } from './kafka-cleanup.js';
import { ROOT, spawnSkewless, stopLeftoverWorkers, type Worker } from './live-run.js';
import { Rng } from './prng.js';
import type { TestStack } from './stack.js';

export class FlightLiveRun {
  readonly topic: string;
  readonly features: string;
  readonly side: string;
  readonly group: string;
  private readonly workers: Worker[] = [];

  private constructor(
    private readonly stack: TestStack,
    readonly plan: CompiledPlan,
    readonly dir: string,
    name: string,
  ) {
    const run = randomUUID().slice(0, 8);
    this.topic = `test-${name}-flights-${run}`;
    this.features = `test-${name}-features-${run}`;
    this.side = `test-${name}-${run}`;
    this.group = `${name}-${run}`;
  }

  /** Names for `name`, cleaned up after the test file. */
  static async create(stack: TestStack, name: string): Promise<FlightLiveRun> {
    const plan = await loadTopology(join(ROOT, 'topologies/flight-delays.ts'));
    const r = new FlightLiveRun(stack, plan, mkdtempSync(join(tmpdir(), `skewless-${name}-`)), name);
    test.after(async () => {
      await stopLeftoverWorkers(r.workers);
      rmSync(r.dir, { recursive: true, force: true });
      await cleanUpKafka(stack.brokers, [r.topic, r.features, `${r.side}-late`, `${r.side}-dead-letters`, ...liveInternalTopics(r.group, plan)], [r.group]);
    });
    return r;
  }

  /**
   * `count` flights one minute apart from 2001-01-01, each between two of `airports` random
   * airports (never to its own origin), as NDJSON lines; the same for the same seed.
   */
  static randomFlights(seed: number, count: number, airports: number): string[] {
    const rng = new Rng(seed);
    const names = Array.from({ length: airports }, (_, i) => `A${String(i).padStart(2, '0')}`);
    const t0 = Date.UTC(2001, 0, 1);
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const origin = rng.pick(names);
      let destination = rng.pick(names);
      if (destination === origin) destination = names[(names.indexOf(origin) + 1) % names.length];
      lines.push(JSON.stringify({ date: t0 + i * 60_000, delay: rng.int(-15, 120), distance: 500, origin, destination }));
    }
    return lines;
  }

  /** `lines` written to `name` in the run's directory; its path. */
  writeLines(name: string, lines: readonly string[]): string {
    const path = join(this.dir, name);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  }

  /** An NDJSON file of flights produced to the input topic, split into `partitions` partitions by origin. */
  async produce(file: string, partitions: number): Promise<void> {
    await produceFile({ plan: this.plan, source: 'flights', input: file, topic: this.topic, partitions, brokers: this.stack.brokers, registryUrl: this.stack.registryUrl });
  }

  /** The file backfill of `file` in `partitions` partitions (what live must equal); its output directory. */
  async replay(file: string, partitions: number): Promise<string> {
    const out = join(this.dir, 'replay');
    await replayFiles({ plan: this.plan, inputs: { flights: file }, out, partitions, workers: 1 });
    return out;
  }

  /** `skewless run` of flight-delays on these topics with state in `state`, plus `args`. */
  startWorker(state: string, args: readonly string[] = []): Worker {
    const w = spawnSkewless(['run', 'topologies/flight-delays.ts', '--state', state, '--group', this.group, '--topic', `flights=${this.topic}`, '--output-topic', `flight_features=${this.features}`, '--side-prefix', this.side, ...args], this.stack.env);
    this.workers.push(w);
    return w;
  }
}
