/**
 * A flight-delays topology run live against the local stack under throwaway names: its input,
 * feature and side topics, group and working directory, and the workers it starts; all of it
 * removed after the test file (the workers still running killed first).
 */
import { test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CompiledPlan } from '../../src/plan/compile.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { liveInternalTopics } from './card-inputs.js';
import { cleanUpKafka } from './kafka-cleanup.js';
import { ROOT, spawnSkewless, stopLeftoverWorkers, type Worker } from './live-run.js';
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

  /** `skewless run` of flight-delays on these topics with state in `state`, plus `args`. */
  startWorker(state: string, args: readonly string[] = []): Worker {
    const w = spawnSkewless(['run', 'topologies/flight-delays.ts', '--state', state, '--group', this.group, '--topic', `flights=${this.topic}`, '--output-topic', `flight_features=${this.features}`, '--side-prefix', this.side, ...args], this.stack.env);
    this.workers.push(w);
    return w;
  }
}
