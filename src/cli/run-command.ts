import { startLiveWorker } from '../modes/live-worker.js';
import { loadTopology } from '../plan/load-topology.js';
import { MetricsRegistry, serveMetrics } from '../serve/metrics.js';
import { positiveInt } from './cli-args.js';
import { kafkaEndpoints } from './kafka-endpoints.js';

export interface RunFlags {
  state: string;
  group?: string;
  brokers?: string;
  registry?: string;
  metricsPort?: string;
  maxBatch?: string;
  topic?: string[];
  outputTopic?: string[];
  sidePrefix?: string;
  verbose?: boolean;
}

function pairs(list: readonly string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of list ?? []) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`${flag} ${p}: expected name=topic`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

/** `skewless run`: a long-lived live worker; SIGTERM / SIGINT checkpoint, commit and exit. */
export async function runLive(file: string, flags: RunFlags): Promise<void> {
  const plan = await loadTopology(file);
  const { brokers, registryUrl } = kafkaEndpoints(flags);
  const metrics = new MetricsRegistry();
  const server = flags.metricsPort === undefined ? undefined : await serveMetrics(metrics, Number(flags.metricsPort));
  const worker = await startLiveWorker({
    plan,
    brokers,
    registryUrl,
    stateDir: flags.state,
    group: flags.group,
    maxBatch: flags.maxBatch === undefined ? undefined : positiveInt(flags.maxBatch, '--max-batch'),
    sourceTopics: pairs(flags.topic, '--topic'),
    outputTopics: pairs(flags.outputTopic, '--output-topic'),
    sideTopicPrefix: flags.sidePrefix,
    metrics,
    verbose: flags.verbose,
  });
  process.stderr.write(`skewless: running ${plan.topology.name} version ${plan.version}${server ? `, metrics on http://127.0.0.1:${server.port}/metrics` : ''}\n`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      process.stderr.write(`skewless: ${sig}: finishing the batch in progress, checkpointing and committing\n`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await worker.stop();
  await server?.close();
  process.stderr.write('skewless: stopped cleanly\n');
}
