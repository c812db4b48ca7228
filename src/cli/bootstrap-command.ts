import type { Command } from 'commander';
import { bootstrap, defaultGroup } from '../modes/bootstrap.js';
import { loadCheckedTopology } from './checked-topology.js';
import { parseTopics, positiveInt } from './cli-args.js';
import { kafkaEndpoints } from './kafka-endpoints.js';
import { Progress } from './progress.js';
import { formatReplaySummary } from './replay-report.js';
import { runLive } from './run-command.js';

export interface BootstrapFlags {
  state: string;
  group?: string;
  topic?: string[];
  outputTopic?: string[];
  sidePrefix?: string;
  brokers?: string;
  registry?: string;
  config?: string;
  out?: string;
  workers?: string;
  batchSize: string;
  force?: boolean;
  /** false with --no-run. */
  run: boolean;
  metricsPort?: string;
  metricsHost?: string;
  maxBatch?: string;
  cacheKeys?: string;
  json?: boolean;
}

/**
 * `skewless bootstrap`: replay the sources' history from Kafka into fresh state, set the
 * consumer group's offsets to the state's positions, then (unless --no-run) run live on that
 * state and group exactly as `skewless run` does.
 */
export async function runBootstrap(file: string, flags: BootstrapFlags, command: Command): Promise<void> {
  if (!flags.run) {
    for (const [flag, v] of [['--output-topic', flags.outputTopic], ['--side-prefix', flags.sidePrefix], ['--metrics-port', flags.metricsPort], ['--metrics-host', flags.metricsHost], ['--max-batch', flags.maxBatch], ['--cache-keys', flags.cacheKeys]] as const) {
      if (v !== undefined) throw new Error(`${flag} configures the live worker, which --no-run does not start: pass it to \`skewless run\``);
    }
  }
  const verbose = command.optsWithGlobals<{ verbose?: boolean }>().verbose === true;
  const plan = await loadCheckedTopology(file);
  const endpoints = kafkaEndpoints(flags);
  const topics = parseTopics(flags.topic ?? [], plan.topology.sources.map((s) => s.name));
  const group = flags.group ?? defaultGroup(plan);
  const progress = new Progress('bootstrap replay', { quiet: flags.json });
  const started = Date.now();
  const result = await progress.around(bootstrap({
    plan,
    ...endpoints,
    stateDir: flags.state,
    group,
    topics,
    out: flags.out,
    force: flags.force === true,
    workers: flags.workers === undefined ? undefined : positiveInt(flags.workers, '--workers'),
    batchSize: positiveInt(flags.batchSize, '--batch-size'),
    onProgress: (n) => progress.update(n),
    onTotal: (n) => progress.setTotal(n),
    verbose,
  }), (r) => r.replay.counters.processed);
  const seconds = (Date.now() - started) / 1000;
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ...result, seconds }, null, 2)}\n`);
  } else {
    const lines = [formatReplaySummary(result.replay, seconds)];
    if (result.out === undefined) lines.push('training output discarded (pass --out <dir> to keep it)');
    lines.push(`state: ${result.stateDir} (${new Set(result.offsets.map((o) => o.partition)).size} tasks)`);
    if (result.replaced.length > 0) lines.push(`--force: replaced the offsets group ${group} had committed`);
    const byTopic = new Map<string, string[]>();
    for (const o of result.offsets) byTopic.set(o.topic, [...(byTopic.get(o.topic) ?? []), `${o.partition}:${o.offset}`]);
    for (const [topic, ps] of byTopic) lines.push(`group ${group} committed at ${topic} ${ps.join(' ')}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (!flags.run) {
    process.stderr.write(`skewless: bootstrapped; start live with \`skewless run ${file} --state ${flags.state} --group ${group}\` (plus the same --topic flags)\n`);
    return;
  }
  // The live worker exactly as `skewless run` starts it, on the bootstrapped state and group.
  await runLive(file, {
    state: flags.state,
    group,
    brokers: flags.brokers,
    registry: flags.registry,
    config: flags.config,
    metricsPort: flags.metricsPort,
    metricsHost: flags.metricsHost,
    maxBatch: flags.maxBatch,
    cacheKeys: flags.cacheKeys,
    topic: Object.entries(topics).map(([source, topic]) => `${source}=${topic}`),
    outputTopic: flags.outputTopic,
    sidePrefix: flags.sidePrefix,
    verbose,
  });
}
