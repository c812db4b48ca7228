import { RegistryUnreachableError } from '../io/avro/registry-client.js';
import { KafkaUnreachableError } from '../io/kafka/kafka-connection.js';
import { startLiveWorker, type Delivery, type LiveOptions, type LiveWorker } from '../modes/live-worker.js';
import { loadCheckedTopology } from './checked-topology.js';
import { metricsUrl, MetricsRegistry, serveMetrics } from '../serve/metrics.js';
import { nonNegativeInt, positiveInt } from './cli-args.js';
import { kafkaEndpoints } from './kafka-endpoints.js';
import { LiveStatus } from './live-status.js';

export interface RunFlags {
  state: string;
  group?: string;
  brokers?: string;
  registry?: string;
  config?: string;
  metricsPort?: string;
  metricsHost?: string;
  maxBatch?: string;
  fetchBytes?: string;
  concurrency?: string;
  cacheKeys?: string;
  sweepKeys?: string;
  standby?: string;
  topic?: string[];
  outputTopic?: string[];
  sidePrefix?: string;
  parityRate?: string;
  parityTopic?: string;
  parityFile?: string;
  delivery?: string;
  idleMs?: string;
  maxHeld?: string;
  purgeIntervalMs?: string;
  sessionTimeoutMs?: string;
  retryDeadlineMs?: string;
  verbose?: boolean;
}

function deliveryFlag(v: string | undefined): Delivery | undefined {
  if (v === undefined) return undefined;
  if (v === 'exactly-once' || v === 'at-least-once') return v;
  throw new Error(`--delivery ${v}: expected exactly-once or at-least-once`);
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

/** --parity-rate and --parity-topic come together: a rate without a log (or the reverse) is a mistake. */
function parityFlags(flags: RunFlags): { rate: number; topic: string; file?: string } | undefined {
  if (flags.parityRate === undefined && flags.parityTopic === undefined) {
    if (flags.parityFile !== undefined) throw new Error('--parity-file is a local copy of the parity log: pass it with --parity-rate and --parity-topic');
    return undefined;
  }
  if (flags.parityRate === undefined || flags.parityTopic === undefined) throw new Error('--parity-rate and --parity-topic go together: pass both to write a parity log');
  const rate = Number(flags.parityRate);
  if (flags.parityRate.trim() === '' || !Number.isFinite(rate) || rate < 0 || rate > 1) throw new Error(`--parity-rate ${flags.parityRate}: expected a number in [0, 1]`);
  return { rate, topic: flags.parityTopic, ...(flags.parityFile === undefined ? {} : { file: flags.parityFile }) };
}

/**
 * Start the worker, waiting (up to the retry deadline) while Kafka or the registry cannot be
 * reached: a worker restarted during a broker restart or a registry outage waits it out like a
 * running one. Undefined when a stop was requested meanwhile.
 */
async function startWhenReachable(options: LiveOptions, stopRequested: Promise<string>, log: (line: string) => void): Promise<LiveWorker | undefined> {
  const deadline = Date.now() + (options.retryDeadlineMs ?? 300_000);
  let stop = false;
  void stopRequested.then(() => (stop = true));
  for (let attempt = 0; ; attempt++) {
    try {
      return await startLiveWorker(options);
    } catch (e) {
      const unreachable = e instanceof KafkaUnreachableError || e instanceof RegistryUnreachableError;
      if (!unreachable || Date.now() > deadline) throw e;
      if (attempt === 0) log(`skewless: ${(e as Error).message}; retrying until it answers (--retry-deadline-ms)`);
      for (let waited = 0; waited < Math.min(5000, 250 * 2 ** attempt) && !stop; waited += 250) await new Promise((r) => setTimeout(r, 250));
      if (stop) return undefined;
    }
  }
}

/** `skewless run`: a long-lived live worker; SIGTERM / SIGINT checkpoint, commit and exit. */
export async function runLive(file: string, flags: RunFlags): Promise<void> {
  // Handlers first: a SIGTERM that arrives while the worker is still starting must also end in
  // a clean stop (after start-up), not in the default kill.
  const stopRequested = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const plan = await loadCheckedTopology(file);
  const { brokers, registryUrl, security } = kafkaEndpoints(flags);
  const metrics = new MetricsRegistry();
  // On a terminal: restore progress, then a status line; worker log lines print above them.
  const status = new LiveStatus();
  const log = (line: string): void => status.log(line);
  if (flags.metricsHost !== undefined && flags.metricsPort === undefined) throw new Error('--metrics-host needs --metrics-port <port>');
  const metricsHost = flags.metricsHost ?? '127.0.0.1';
  const server = flags.metricsPort === undefined ? undefined : await serveMetrics(metrics, Number(flags.metricsPort), metricsHost);
  const options: LiveOptions = {
    plan,
    brokers,
    registryUrl,
    security,
    stateDir: flags.state,
    group: flags.group,
    maxBatch: flags.maxBatch === undefined ? undefined : positiveInt(flags.maxBatch, '--max-batch'),
    maxBytesPerPartition: flags.fetchBytes === undefined ? undefined : positiveInt(flags.fetchBytes, '--fetch-bytes'),
    partitionsConcurrently: flags.concurrency === undefined ? undefined : positiveInt(flags.concurrency, '--concurrency'),
    maxCachedKeys: flags.cacheKeys === undefined ? undefined : positiveInt(flags.cacheKeys, '--cache-keys'),
    sweepEntries: flags.sweepKeys === undefined ? undefined : nonNegativeInt(flags.sweepKeys, '--sweep-keys'),
    standbyCopies: flags.standby === undefined ? undefined : nonNegativeInt(flags.standby, '--standby'),
    sourceTopics: pairs(flags.topic, '--topic'),
    outputTopics: pairs(flags.outputTopic, '--output-topic'),
    sideTopicPrefix: flags.sidePrefix,
    parity: parityFlags(flags),
    delivery: deliveryFlag(flags.delivery),
    idleMs: flags.idleMs === undefined ? undefined : positiveInt(flags.idleMs, '--idle-ms'),
    maxHeld: flags.maxHeld === undefined ? undefined : positiveInt(flags.maxHeld, '--max-held'),
    purgeIntervalMs: flags.purgeIntervalMs === undefined ? undefined : positiveInt(flags.purgeIntervalMs, '--purge-interval-ms'),
    sessionTimeoutMs: flags.sessionTimeoutMs === undefined ? undefined : positiveInt(flags.sessionTimeoutMs, '--session-timeout-ms'),
    retryDeadlineMs: flags.retryDeadlineMs === undefined ? undefined : positiveInt(flags.retryDeadlineMs, '--retry-deadline-ms'),
    metrics,
    verbose: flags.verbose,
    log,
    onRestoreProgress: (partition, applied, total) => status.restored(partition, applied, total),
    onBatchTiming: (t) => status.batch(t.topic, t.partition, t.records, metrics.get('skewless_consumer_lag', { topic: t.topic, partition: String(t.partition) })),
  };
  const worker = await startWhenReachable(options, stopRequested, log);
  if (worker === undefined) {
    status.close();
    await server?.close();
    return;
  }
  log(`skewless: running ${plan.topology.name} version ${plan.version}${server ? `, metrics on ${metricsUrl(metricsHost, server.port)}` : ''}`);
  status.started();
  const outcome = await Promise.race([stopRequested, worker.failed]);
  status.close();
  if (outcome instanceof Error) {
    await worker.stop().catch(() => undefined);
    await server?.close();
    throw outcome;
  }
  process.stderr.write(`skewless: ${outcome}: finishing the batch in progress and leaving the group\n`);
  await worker.stop();
  await server?.close();
  process.stderr.write('skewless: stopped cleanly\n');
  // Every applied batch is committed and every task closed. kafkajs may still hold a socket or a
  // timer of a group rejoin that raced the stop (seen when SIGTERM came during a rebalance):
  // those must not keep the process alive.
  setTimeout(() => process.exit(0), 2000).unref();
}
