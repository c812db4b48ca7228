/**
 * Fault campaign for the live worker (issue 9, item 8): W workers of `skewless run`, each with
 * its own state root (as on separate hosts), consume card transactions while they are being
 * produced; random workers are SIGKILLed at random times and restarted (seeded, so a run
 * reproduces from its seed), and optionally the broker is killed with -9 and restarted, the
 * broker is slowed for a while (its JVM stopped and continued over and over, so every fetch,
 * produce, transaction and heartbeat stalls and then arrives in a burst), the registry's JVM is
 * paused, and one worker's state root is wiped. At the end everything is
 * produced, the workers catch up and stop on SIGTERM, and the whole feature topic (read with
 * read_committed) is compared per (partition, offset) of the input with the offline replay of
 * the same topic: lost, duplicated and divergent vectors. Exit code 1 when any is non-zero.
 *
 * The workers run topologies/card-fraud.ts, or with --topology another topology of the card data
 * set (transactions, and chargebacks and the merchant_tiers table when it declares them) with one
 * features output, e.g. the regrouped test/fixtures/card-merchants.ts. card-fraud itself regroups
 * (its merchant features and the merchants' risk tiers), so its internal repartition and answers
 * topics are under the kills too. The tier versions are produced in step with the transactions
 * (test/helpers/card-inputs.ts, tierGroupsInStep), as a feed of versions becoming valid would
 * bring them: versions produced up front would reach weeks past what a task has read, and a task
 * idle between two slices would release them and move its stream time past the next slice. In
 * step, a gap between two slices of the idle time does the same with one slice's versions, so
 * the workers then run with an --idle-ms longer than any gap (tierIdleMs) unless one is given.
 *
 *   npm run chaos -- --kills 100 --workers 3
 *   npm run chaos -- --topology test/fixtures/card-merchants.ts --kills 10
 *   KAFKA_BROKERS=... SCHEMA_REGISTRY_URL=... STACK_DIR=... npm run chaos -- --broker-kill --registry-pause-s 5 --wipe-state --json
 *   KAFKA_BROKERS=... SCHEMA_REGISTRY_URL=... STACK_DIR=... npm run chaos -- --broker-slow-s 20 --kills 20
 *
 * --broker-slow-s N: once, at a seeded time, for N seconds the broker's JVM is alternately
 * stopped (SIGSTOP, a seeded 200–900 ms) and continued (SIGCONT, 300 ms); it is always continued
 * at the end, on a failure and on exit. Like the other broker and registry faults it holds the
 * produce lock, so the campaign's own producer waits it out and the workers alone run slowed.
 *
 * The stack comes from KAFKA_BROKERS / SCHEMA_REGISTRY_URL (loopback only; without them the
 * local stack of scripts/stack is used). --broker-kill, --broker-slow-s and --registry-pause-s act
 * on the JVMs whose pid files are under STACK_DIR/run and refuse the default .stack of this
 * checkout, which other engineers' tests share: start a second stack with its own STACK_DIR and
 * ports for them.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildProgram, hasRegrouping, type OutputProgram, type Program } from '../../src/engine/program.js';
import { writeCardDataset } from '../../src/gen/write-card-dataset.js';
import { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { commitGroupOffsets, deleteGroup, deleteTopics, fetchOffsets } from '../../src/io/kafka/topic-admin.js';
import { regroupTopics } from '../../src/modes/live/live-regroup-task.js';
import { produceFile } from '../../src/modes/produce-file.js';
import { replayKafka } from '../../src/modes/replay-kafka.js';
import type { CompiledPlan } from '../../src/plan/compile.js';
import { loadTopology } from '../../src/plan/load-topology.js';
import { ensureStack, PORTS, restartKafka, stackPid, STACK_DIR } from '../../scripts/stack/stack.mjs';
import { ndjsonLines, produceLines, tierGroupsInStep } from '../helpers/card-inputs.js';
import { compareWindows, readLiveWindows, readReplayWindows, type WindowComparison } from '../helpers/live-windows.js';
import { compareVectors, exited, readLiveVectors, readReplayVectors, ROOT, sleep, spawnSkewless, topicEndOffsets, waitForTopic, type VectorComparison, type Worker } from '../helpers/live-run.js';
import { Rng } from '../helpers/prng.js';

export interface CampaignOptions {
  /** Topology file the workers run (relative to the repository root); default DEFAULTS.topology. */
  readonly topology?: string;
  readonly kills: number;
  readonly workers: number;
  readonly events: number;
  readonly partitions: number;
  readonly seed: number;
  /** Mean time between kill bursts (each burst waits 0.6–1.4× this). */
  readonly killIntervalMs: number;
  /** Kills per burst, 0.3–1.5 s apart: overlapping kills, so dead members expire together. */
  readonly burst: number;
  readonly brokerKill: boolean;
  /**
   * Slow the broker this long, once; 0 (the default) = never: its JVM stopped (SIGSTOP) for a
   * seeded BROKER_SLOW_STOP_MS, continued (SIGCONT) for BROKER_SLOW_RUN_MS, over and over.
   */
  readonly brokerSlowS?: number;
  /** Pause the registry JVM (SIGSTOP … SIGCONT) this long, once; 0 = never. */
  readonly registryPauseS: number;
  /** Once, mid-run: kill a worker, delete its state root, restart it. */
  readonly wipeState: boolean;
  /** Passed to `skewless run` as `--delivery <value>` when given. */
  readonly delivery?: string;
  /** Passed to `skewless run` as `--session-timeout-ms` when given: how long a killed worker holds its partitions. */
  readonly sessionTimeoutMs?: number;
  /** Passed to `skewless run` as `--standby` when given: warm copies of each task on other workers, placed by the group's leader. */
  readonly standby?: number;
  /** Passed to `skewless run` as `--max-held` when given: a regrouped topology's partitions running ahead are paused past it. */
  readonly maxHeld?: number;
  /**
   * Passed to `skewless run` as `--idle-ms` when given. The produce pauses are about
   * killIntervalMs × kills / slices long: a pause longer than this lets the tasks declare their
   * inputs idle mid-run (the idle rule, where a regrouped value may differ from replay). For a
   * topology reading the merchant_tiers table the default is longer than the longest gap
   * between two slices (tierIdleMs): there a pause of the idle time lets the next slice's tier
   * versions be released ahead of its transactions.
   */
  readonly idleMs?: number;
  /** Keep topics, group and directories. */
  readonly keep: boolean;
  /** How long the workers get to catch up once everything is produced. */
  readonly catchUpTimeoutMs: number;
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  /** Progress lines. */
  readonly log: (line: string) => void;
}

export interface CampaignResult {
  readonly ok: boolean;
  readonly run: string;
  /** The topology's name. */
  readonly topology: string;
  readonly seed: number;
  readonly workers: number;
  readonly partitions: number;
  readonly events: number;
  readonly produced: number;
  readonly kills: number;
  readonly wipes: number;
  readonly brokerKills: number;
  /** SIGSTOP/SIGCONT cycles of the broker's JVM under --broker-slow-s. */
  readonly brokerSlowCycles: number;
  /** How long the broker's JVM was stopped in all over those cycles (measured). */
  readonly brokerStoppedMs: number;
  readonly registryPauses: number;
  /** Worker exits nobody asked for (each restarted). */
  readonly crashes: number;
  readonly caughtUp: boolean;
  /** Group lag on the input topic when the workers were stopped. */
  readonly lag: number;
  /** Exit codes on the final SIGTERM (null: had to be killed). */
  readonly stopExitCodes: ReadonlyArray<number | null>;
  readonly replay: { readonly processed: number; readonly vectors: number; readonly late: number; readonly deadLetters: number };
  readonly lost: number;
  readonly duplicates: number;
  readonly divergent: number;
  readonly comparison: VectorComparison;
  /** Per window output: its served records against the windows the replay closed. */
  readonly windows: Readonly<Record<string, WindowComparison>>;
  /** Task opens in the workers' logs: how many, how many rebuilt from the changelog's start, and the changelog records applied in all. */
  readonly opens: { readonly tasks: number; readonly rebuilt: number; readonly appliedRecords: number };
  /** Worker runs that held back input partitions running ahead (regroup-backpressure.ts: said once per run). */
  readonly heldBack: number;
  readonly seconds: number;
  /** Where topics/dirs are, when kept. */
  readonly kept?: { readonly dir: string; readonly topics: readonly string[]; readonly group: string };
}

export const DEFAULTS = {
  topology: 'topologies/card-fraud.ts',
  kills: 30,
  workers: 3,
  events: 30_000,
  partitions: 6,
  seed: 1,
  killIntervalMs: 5_000,
  burst: 1,
  registryPauseS: 0,
  brokerSlowS: 0,
  catchUpTimeoutMs: 150_000,
} as const;

/** --broker-slow-s: each stop of the broker's JVM lasts a seeded [lo, hi] ms … */
export const BROKER_SLOW_STOP_MS = [200, 900] as const;
/** … and each is followed by this long running. */
export const BROKER_SLOW_RUN_MS = 300;

/**
 * The stops of a --broker-slow-s period of `totalMs`, drawn up front from the schedule's
 * generator (so a seed reproduces them): stop, run BROKER_SLOW_RUN_MS, stop, … until the period
 * is over; the last stop is cut so that the period never runs past `totalMs`.
 */
export function brokerSlowStops(rng: Rng, totalMs: number): number[] {
  const stops: number[] = [];
  for (let t = 0; t < totalMs; ) {
    const ms = Math.min(rng.int(BROKER_SLOW_STOP_MS[0], BROKER_SLOW_STOP_MS[1]), totalMs - t);
    stops.push(ms);
    t += ms + BROKER_SLOW_RUN_MS;
  }
  return stops;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[?::1\]?)$/;

function hostOf(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
}

/** Only loopback endpoints: a campaign kills and floods what it talks to. */
export function assertLoopback(brokers: readonly string[], registryUrl: string): void {
  for (const b of brokers) if (!LOOPBACK.test(hostOf(b).host)) throw new Error(`KAFKA_BROKERS ${b}: the chaos campaign runs against loopback addresses only`);
  const host = new URL(registryUrl).hostname;
  if (!LOOPBACK.test(host)) throw new Error(`SCHEMA_REGISTRY_URL ${registryUrl}: the chaos campaign runs against loopback addresses only`);
}

/**
 * Broker kills, broker slowing and registry pauses act on the JVMs of STACK_DIR. Refuse unless
 * STACK_DIR was given, is not this checkout's shared .stack, and its ports are the ones we talk to.
 */
function assertOwnStack(o: CampaignOptions): void {
  const brokerSlow = (o.brokerSlowS ?? 0) > 0;
  if (!o.brokerKill && !brokerSlow && o.registryPauseS <= 0) return;
  const what = o.brokerKill ? '--broker-kill' : brokerSlow ? '--broker-slow-s' : '--registry-pause-s';
  if (!process.env.STACK_DIR) throw new Error(`${what} needs STACK_DIR: the directory of a stack of your own (never the shared one)`);
  if (resolve(STACK_DIR) === resolve(ROOT, '.stack') || PORTS.kafka === 19092 || PORTS.registry === 18081) {
    throw new Error(`${what}: refusing to disrupt the shared stack (${STACK_DIR}, ports ${PORTS.kafka}/${PORTS.registry}); start a second one with its own STACK_DIR and STACK_*_PORT`);
  }
  if (o.brokers.length !== 1 || hostOf(o.brokers[0]).port !== PORTS.kafka) throw new Error(`KAFKA_BROKERS ${o.brokers.join(',')} is not the Kafka of ${STACK_DIR} (port ${PORTS.kafka}; set STACK_KAFKA_PORT)`);
  if (Number(new URL(o.registryUrl).port) !== PORTS.registry) throw new Error(`SCHEMA_REGISTRY_URL ${o.registryUrl} is not the registry of ${STACK_DIR} (port ${PORTS.registry}; set STACK_REGISTRY_PORT)`);
  if ((o.brokerKill || brokerSlow) && !stackPid('kafka')) throw new Error(`no running Kafka of ${STACK_DIR} (pid file ${STACK_DIR}/run/kafka.pid)`);
  if (o.registryPauseS > 0 && !stackPid('registry')) throw new Error(`no running registry of ${STACK_DIR} (pid file ${STACK_DIR}/run/registry.pid)`);
}

/**
 * The workers' idle time for a topology reading the tier table in step with the transactions:
 * longer than the longest gap between two slices (the pause, and the faults holding the produce
 * lock meanwhile: a broker's kill and restart, the broker's slow period, the registry's pause),
 * plus the default 5 s. Each slice's tier versions are produced just before its transactions;
 * after a gap of the idle time a task would take the transactions input for idle, release those
 * versions (a merge skip), move its stream time to them and find the slice's transactions late,
 * which replay does not. The faults are added up, not the longest taken: one that comes due while
 * another holds the lock is queued before the next slice, so two can run back to back in one gap.
 */
export function tierIdleMs(pauseMs: number, o: Pick<CampaignOptions, 'brokerKill' | 'registryPauseS' | 'brokerSlowS'>): number {
  // A broker kill: down 1-5 s, then a restart that took 12-15 s on 2 vCPUs.
  const kill = o.brokerKill ? 30_000 : 0;
  // A slow period: brokerSlowStops never runs past it; one stop's length more for the timers'
  // overshoot and the requests that piled up while it was stopped, which the broker answers first.
  const slow = (o.brokerSlowS ?? 0) > 0 ? (o.brokerSlowS ?? 0) * 1000 + BROKER_SLOW_STOP_MS[1] : 0;
  return pauseMs + kill + slow + o.registryPauseS * 1000 + 5000;
}

/** Runs one thing at a time: a produce slice never overlaps a broker kill, the broker's slow period or a registry pause. */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/** A worker slot: one host with its own state root, running one incarnation at a time. */
interface Slot {
  readonly index: number;
  readonly stateDir: string;
  readonly logFile: string;
  proc?: Worker;
  incarnations: number;
  /** Set while we kill or stop it on purpose. */
  expected: boolean;
  started?: Promise<void>;
}

/** Group lag of `topic`: Σ (high watermark − committed offset); uncommitted partitions count from their low offset. */
async function groupLag(brokers: readonly string[], group: string, topic: string): Promise<number> {
  const conn = await KafkaConnection.open({ brokers });
  try {
    const ends = await fetchOffsets(conn, topic);
    const committed = new Map((await commitGroupOffsets(conn, group, topic, [])).previous.map((p) => [p.partition, p.offset]));
    return ends.reduce((n, p) => n + p.high - (committed.get(p.partition) ?? p.low), 0);
  } finally {
    await conn.close();
  }
}

/** Rejects after `ms`: a read_committed read stays below an open transaction for good. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish in ${ms / 1000} s`)), ms)))]).finally(() => clearTimeout(timer));
}

/** The sources of the card data set the campaign produces, each when the topology reads it. */
const CARD_SOURCES: readonly string[] = ['transactions', 'chargebacks', 'merchant_tiers'];

/**
 * The campaign produces the card data set, so the topology must read `transactions` (and may
 * read `chargebacks` and the `merchant_tiers` table, which it then gets too) and nothing else;
 * its one features output is compared.
 */
function comparedOutput(plan: CompiledPlan, program: Program): OutputProgram {
  const sources = plan.topology.sources.map((s) => s.name);
  if (!sources.includes('transactions') || sources.some((n) => !CARD_SOURCES.includes(n))) {
    throw new Error(`${plan.file}: the campaign produces card transactions, chargebacks and merchant risk tiers only; this topology reads ${sources.join(', ')}`);
  }
  if (program.outputs.length !== 1) throw new Error(`${plan.file}: the campaign compares one features output; this topology has ${program.outputs.map((x) => x.name).join(', ') || 'none'}`);
  return program.outputs[0];
}

export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  assertLoopback(o.brokers, o.registryUrl);
  assertOwnStack(o);
  const t0 = Date.now();
  const say = (s: string): void => o.log(`[chaos +${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);
  // The schedule (gaps, victims, fault times) from one generator, worker settings from another:
  // restarts interleave with the schedule by timing, so they must not draw from the same one.
  const rng = new Rng(o.seed);
  const workerRng = new Rng(o.seed + 1);
  const run = randomUUID().slice(0, 8);
  const plan = await loadTopology(resolve(ROOT, o.topology ?? DEFAULTS.topology));
  const program = buildProgram(plan);
  const output = comparedOutput(plan, program);
  // Live regrouping is exactly-once only: the worker refuses anything else and would crash-loop.
  if (hasRegrouping(program) && o.delivery !== undefined && o.delivery !== 'exactly-once') throw new Error(`${plan.file} regroups: --delivery ${o.delivery} is refused by skewless run (exactly-once only)`);
  const chargebacks = plan.topology.sources.some((s) => s.name === 'chargebacks');
  const tiers = plan.topology.sources.some((s) => s.name === 'merchant_tiers');
  const T = { tx: `chaos-tx-${run}`, cb: `chaos-cb-${run}`, mt: `chaos-mt-${run}`, features: `chaos-features-${run}`, side: `chaos-${run}` };
  /** Source → topic of this run, for the workers and the replay. */
  const sourceTopics: Record<string, string> = { transactions: T.tx, ...(chargebacks ? { chargebacks: T.cb } : {}), ...(tiers ? { merchant_tiers: T.mt } : {}) };
  // Every output to a topic of this run, never the topology's own (card-fraud's daily spend too).
  const outputTopics: Record<string, string> = { [output.name]: T.features, ...Object.fromEntries(plan.topology.windowOutputs.map((w) => [w.name, `chaos-${w.name}-${run}`])) };
  const group = `chaos-${run}`;
  // A regrouping's internal topics (named as live-worker.ts names them): kept with --keep, to dig in.
  const regroup = hasRegrouping(program) ? regroupTopics(group, plan.version, o.partitions) : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'skewless-chaos-'));
  mkdirSync(join(dir, 'logs'));
  mkdirSync(join(dir, 'input'));
  const env = { ...process.env, KAFKA_BROKERS: o.brokers.join(','), SCHEMA_REGISTRY_URL: o.registryUrl };
  const common = { plan, partitions: o.partitions, brokers: o.brokers, registryUrl: o.registryUrl };
  say(`run ${run}: ${plan.topology.name}, ${o.workers} workers, ${o.kills} kills, ${o.events} events on ${o.partitions} partitions, seed ${o.seed}; dir ${dir}`);

  let stopping = false;
  // Timers of the schedule, cleared when the campaign ends (a fault never fires after it).
  const timers = new Set<NodeJS.Timeout>();
  const pause = (ms: number): Promise<void> =>
    new Promise((r) => {
      const t = setTimeout(() => {
        timers.delete(t);
        r();
      }, ms);
      timers.add(t);
    });
  let crashes = 0;
  let kills = 0;
  let wipes = 0;
  let brokerKills = 0;
  let registryPauses = 0;
  let registryStopped: number | undefined;
  let brokerDown = false;
  let brokerSlowCycles = 0;
  let brokerStoppedMs = 0;
  /** The broker's JVM while --broker-slow-s has it stopped, and since when. */
  let brokerStopped: { readonly pid: number; readonly at: number } | undefined;
  const resumeRegistry = (): void => {
    if (registryStopped !== undefined) {
      try {
        process.kill(registryStopped, 'SIGCONT');
      } catch {}
      registryStopped = undefined;
    }
  };
  const resumeBroker = (): void => {
    if (brokerStopped !== undefined) {
      try {
        process.kill(brokerStopped.pid, 'SIGCONT');
      } catch {}
      brokerStoppedMs += Date.now() - brokerStopped.at;
      brokerStopped = undefined;
    }
  };
  /** Whatever this campaign stopped runs again, also when it exits on a failure or a signal. */
  const resumeStopped = (): void => {
    resumeBroker();
    resumeRegistry();
  };
  process.once('exit', resumeStopped);

  /** `--idle-ms` of the workers: the option, or for the tier table one longer than the produce gaps (set with the schedule below). */
  let workerIdleMs = o.idleMs;
  const slots: Slot[] = Array.from({ length: o.workers }, (_, i) => ({ index: i, stateDir: join(dir, `state-w${i}`), logFile: join(dir, 'logs', `w${i}.log`), incarnations: 0, expected: false }));
  const start = (s: Slot): void => {
    const args = ['run', plan.file, '--state', s.stateDir, '--group', group, '--max-batch', String(workerRng.int(20, 400)), '--cache-keys', '100'];
    for (const [source, topic] of Object.entries(sourceTopics)) args.push('--topic', `${source}=${topic}`);
    args.push('--side-prefix', T.side);
    for (const [name, topic] of Object.entries(outputTopics)) args.push('--output-topic', `${name}=${topic}`);
    if (o.delivery !== undefined) args.push('--delivery', o.delivery);
    if (o.sessionTimeoutMs !== undefined) args.push('--session-timeout-ms', String(o.sessionTimeoutMs));
    if (o.standby !== undefined) args.push('--standby', String(o.standby));
    if (o.maxHeld !== undefined) args.push('--max-held', String(o.maxHeld));
    if (workerIdleMs !== undefined) args.push('--idle-ms', String(workerIdleMs));
    s.incarnations++;
    s.expected = false;
    const w = spawnSkewless(args, env, s.logFile);
    s.proc = w;
    void exited(w).then((code) => {
      if (s.proc !== w) return;
      s.proc = undefined;
      if (s.expected || stopping) return;
      crashes++;
      say(`worker ${s.index} (pid ${w.pid}) exited by itself with ${code ?? w.signalCode}: ${w.log.trim().split('\n').slice(-3).join(' | ')}; restarting`);
      s.started = pause(2000).then(() => {
        if (!stopping && !s.proc) start(s);
      });
    });
  };
  const killSlot = async (s: Slot): Promise<number | undefined> => {
    await s.started;
    const w = s.proc;
    if (!w) return undefined;
    s.expected = true;
    w.kill('SIGKILL');
    await exited(w);
    return w.pid;
  };

  const disruption = new Mutex();
  const topics = [...Object.values(sourceTopics), ...Object.values(outputTopics), `${T.side}-late`, `${T.side}-dead-letters`, ...(regroup ? [regroup.messages, regroup.answers] : [])];
  let result: CampaignResult | undefined;
  try {
    const data = await writeCardDataset({ outDir: join(dir, 'data'), events: o.events, seed: o.seed, format: 'ndjson' });
    if (chargebacks) await produceFile({ ...common, source: 'chargebacks', input: data.chargebacksPath, topic: T.cb });

    // The kill schedule, drawn up front from the seed: bursts of `burst` kills, bursts ~killIntervalMs apart.
    const gaps = Array.from({ length: o.kills }, (_, k) => (k % o.burst === 0 ? Math.round(o.killIntervalMs * (0.6 + 0.8 * rng.next())) : rng.int(300, 1500)));
    const phaseMs = Math.max(10_000, gaps.reduce((a, b) => a + b, 0));
    const wipeAt = o.wipeState ? Math.floor(o.kills / 2) : -1;
    const slices = Math.max(4, Math.min(40, Math.ceil(o.events / 1000)));
    const pauseMs = Math.round(phaseMs / slices);
    if (tiers && workerIdleMs === undefined) {
      workerIdleMs = tierIdleMs(pauseMs, o);
      say(`workers run with --idle-ms ${workerIdleMs}: longer than any gap between two slices (produce pauses of ${pauseMs} ms and the faults), as the tier versions produced in step need`);
    } else if (tiers && workerIdleMs !== undefined && workerIdleMs < tierIdleMs(pauseMs, o)) {
      say(`--idle-ms ${workerIdleMs} is shorter than a gap between two slices may be (${tierIdleMs(pauseMs, o)} ms with the faults): a task may release a slice's tier versions ahead of its transactions and find them late, where replay does not`);
    }
    // Say so, since then a divergence may be the idle rule's rather than a fault's.
    const idleMs = workerIdleMs ?? 5000;
    if (regroup && pauseMs >= idleMs) say(`produce pauses of ${pauseMs} ms ≥ idle time ${idleMs} ms: origin tasks go idle between slices, so the campaign exercises the regrouping idle rule (a task whose input grew is waited for again)`);

    let produced = 0;
    // The transactions in slices with pauses, so the workers consume while the producer still
    // writes; each slice after the tier versions valid up to it, under the disruption lock.
    const lines = ndjsonLines(data.transactionsPath);
    const txSlices = Array.from({ length: slices }, (_, i) => lines.slice(Math.floor((i * lines.length) / slices), Math.floor(((i + 1) * lines.length) / slices)));
    const tierGroups = tiers ? tierGroupsInStep(ndjsonLines(data.merchantTiersPath), txSlices, o.partitions) : txSlices.map((): string[] => []);
    const producing = (async (): Promise<number> => {
      for (let i = 0; i < slices; i++) {
        await disruption.run(async () => {
          const input = (source: string): string => join(dir, 'input', `${source}-${i}.ndjson`);
          if (tierGroups[i].length > 0) await produceLines({ ...common, source: 'merchant_tiers', lines: tierGroups[i], file: input('merchant_tiers'), topic: T.mt, batchSize: 500 });
          produced += (await produceLines({ ...common, source: 'transactions', lines: txSlices[i], file: input('transactions'), topic: T.tx, batchSize: 500 })).produced;
        });
        say(`produced ${produced}/${lines.length}${tiers ? ` (with the tier versions valid up to them)` : ''}`);
        if (i < slices - 1) await sleep(pauseMs);
      }
      return produced;
    })();
    producing.catch(() => undefined); // awaited after the kills, where a failure ends the campaign through its clean-up
    // The first slice's tier versions go first (every merchant has one valid before the data start): both topics exist then.
    await waitForTopic(o.brokers, T.tx, 60_000);
    for (const s of slots) start(s);
    say(`started ${o.workers} workers (group ${group})`);

    // Broker kill, broker slow period and registry pause: once each, at a seeded time, never during a produce slice.
    const faults: Array<Promise<void>> = [];
    const fault = (at: number, jvm: 'kafka' | 'registry', act: (pid: number) => Promise<void>): void => {
      const f = pause(at).then(() =>
        disruption.run(async () => {
          if (stopping) return;
          const pid = stackPid(jvm);
          if (!pid) throw new Error(`${jvm} of ${STACK_DIR} is not running`);
          await act(pid);
        }),
      );
      f.catch(() => undefined); // awaited after the kills; no unhandled rejection meanwhile
      faults.push(f);
    };
    if (o.brokerKill) {
      const downMs = rng.int(1000, 5000);
      fault(Math.round(phaseMs * (0.3 + 0.3 * rng.next())), 'kafka', async (pid) => {
        say(`broker kill -9 (pid ${pid}); down for ${downMs} ms`);
        brokerDown = true;
        process.kill(pid, 'SIGKILL');
        while (stackPid('kafka') === pid) await sleep(100);
        brokerKills++;
        await sleep(downMs);
        const t = Date.now();
        const next = await restartKafka({ log: (m) => say(`stack: ${m}`) });
        brokerDown = false;
        say(`broker restarted (pid ${next}) in ${((Date.now() - t) / 1000).toFixed(1)} s`);
      });
    }
    if (o.registryPauseS > 0) {
      fault(Math.round(phaseMs * (0.2 + 0.6 * rng.next())), 'registry', async (pid) => {
        say(`registry SIGSTOP (pid ${pid}) for ${o.registryPauseS} s`);
        registryStopped = pid;
        process.kill(pid, 'SIGSTOP');
        registryPauses++;
        await pause(o.registryPauseS * 1000);
        resumeRegistry();
        say('registry SIGCONT');
      });
    }
    const brokerSlowS = o.brokerSlowS ?? 0;
    if (brokerSlowS > 0) {
      // Drawn after the other faults', so a seed's kill schedule, broker kill and registry pause stay as they were.
      const at = Math.round(phaseMs * (0.2 + 0.6 * rng.next()));
      const stops = brokerSlowStops(rng, brokerSlowS * 1000);
      fault(at, 'kafka', async (pid) => {
        say(`broker slow for ${brokerSlowS} s (pid ${pid}): ${stops.length} × SIGSTOP ${BROKER_SLOW_STOP_MS[0]}–${BROKER_SLOW_STOP_MS[1]} ms, SIGCONT ${BROKER_SLOW_RUN_MS} ms`);
        const t = Date.now();
        try {
          for (const [i, ms] of stops.entries()) {
            // Checked right before the stop: the clean-up sets `stopping` before it continues the broker.
            if (stopping) break;
            brokerStopped = { pid, at: Date.now() };
            process.kill(pid, 'SIGSTOP');
            brokerSlowCycles++;
            await sleep(ms);
            resumeBroker();
            if (i < stops.length - 1) await sleep(BROKER_SLOW_RUN_MS);
          }
        } finally {
          resumeBroker();
        }
        say(`broker slow period over: ${brokerSlowCycles} stops, ${(brokerStoppedMs / 1000).toFixed(1)} s stopped in ${((Date.now() - t) / 1000).toFixed(1)} s; broker SIGCONT`);
      });
    }

    for (let k = 0; k < o.kills; k++) {
      await pause(gaps[k]);
      const s = slots[rng.int(0, slots.length - 1)];
      const restartMs = rng.int(200, 1500);
      const pid = await killSlot(s);
      kills++;
      let what = 'SIGKILL';
      if (k === wipeAt) {
        rmSync(s.stateDir, { recursive: true, force: true });
        wipes++;
        what += ' + state root wiped';
      }
      say(`kill ${kills}/${o.kills}: worker ${s.index} (pid ${pid ?? 'not running'}, incarnation ${s.incarnations}) ${what}; restart in ${restartMs} ms`);
      s.started = pause(restartMs).then(() => {
        if (!s.proc) start(s);
      });
    }
    produced = await producing;
    await Promise.all(faults);
    await Promise.all(slots.map((s) => s.started));
    for (const s of slots) if (!s.proc) start(s);
    say(`all ${produced} events produced, ${kills} kills done; waiting for the workers to catch up`);

    // The input is complete: the replay (which the regrouped catch-up below needs) runs now.
    say('replaying the input offline');
    const summary = await replayKafka({ plan, brokers: o.brokers, registryUrl: o.registryUrl, topics: sourceTopics, out: join(dir, 'replay'), workers: 1 });
    const replayed = await readReplayVectors(join(dir, 'replay'), output.name);

    // Caught up: the group has committed the end of every input partition. With a regrouping
    // that is not enough: a row waits for its answers after its input offset is committed, and
    // the last rows until the idle rule (--idle-ms, 5 s) releases them, so there every replayed
    // input must also have been served. (The internal topics' lag says nothing: they are written
    // in transactions, so their high watermark counts the commit markers the group never commits past.)
    const deadline = Date.now() + o.catchUpTimeoutMs;
    let lag = Number.POSITIVE_INFINITY;
    let served = 0;
    let servedAtEnd = -1;
    let lastSaid = 0;
    for (;;) {
      lag = await groupLag(o.brokers, group, T.tx).catch(() => Number.POSITIVE_INFINITY);
      const end = await topicEndOffsets(o.brokers, T.features).catch(() => -1);
      // Decoding the whole topic is the costly part: only when nothing lags and it grew.
      if (regroup && lag === 0 && end !== servedAtEnd) {
        const live = await within(readLiveVectors(o.brokers, o.registryUrl, output, T.features), 60_000, `reading ${T.features}`).catch(() => undefined);
        if (live) [served, servedAtEnd] = [new Set(live.map((v) => v.id)).size, end];
      }
      if ((lag === 0 && (!regroup || served >= replayed.size)) || Date.now() > deadline) break;
      if (Date.now() - lastSaid > 10_000) {
        say(`lag ${lag}, ${end} records in the feature topic${regroup ? ` (${served} of ${replayed.size} inputs served when last read)` : ''}`);
        lastSaid = Date.now();
      }
      await sleep(1000);
    }
    const caughtUp = lag === 0 && (!regroup || served >= replayed.size);
    const unserved = regroup ? `, ${served} of ${replayed.size} inputs served` : '';
    say(caughtUp ? `caught up (group lag 0${unserved}); stopping the workers with SIGTERM` : `NOT caught up after ${o.catchUpTimeoutMs} ms (lag ${lag}${unserved}); stopping the workers`);
    stopping = true;
    const stopExitCodes = await Promise.all(
      slots.map(async (s) => {
        const w = s.proc;
        if (!w) return null;
        s.expected = true;
        w.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([exited(w), new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 45_000)))]);
        clearTimeout(timer);
        if (code !== 'timeout') return code;
        say(`worker ${s.index} did not stop in 45 s after SIGTERM; SIGKILL`);
        w.kill('SIGKILL');
        await exited(w);
        return null;
      }),
    );
    if (stopExitCodes.some((c) => c !== 0)) say(`exit codes on SIGTERM: ${stopExitCodes.join(', ')}`);

    say('reading the feature topic (read_committed)');
    // A transaction left open would hold read_committed below the end for good: bounded wait.
    const live = await within(readLiveVectors(o.brokers, o.registryUrl, output, T.features), 180_000, `reading ${T.features} with read_committed to its end (an open transaction?)`);
    say(`read ${live.length} live records; comparing them with the replay`);
    const c = compareVectors(live, replayed, output);
    // Window records (card-fraud's daily spend): every window the replay closed, served once, byte for byte.
    const windows: Record<string, WindowComparison> = {};
    for (const w of program.windowOps) {
      const served = await within(readLiveWindows(o.brokers, o.registryUrl, w, outputTopics[w.name]), 180_000, `reading ${outputTopics[w.name]} with read_committed to its end`);
      windows[w.name] = compareWindows(served, await readReplayWindows(join(dir, 'replay'), w.name), w);
    }
    const windowsBad = Object.values(windows).reduce((n, x) => n + x.lost + x.duplicates + x.divergent + x.unexpected, 0);
    const bad = c.lost + c.duplicates + c.divergent + c.unexpected + c.misplaced + windowsBad;
    result = {
      ok: bad === 0,
      run,
      topology: plan.topology.name,
      seed: o.seed,
      workers: o.workers,
      partitions: o.partitions,
      events: data.events,
      produced,
      kills,
      wipes,
      brokerKills,
      brokerSlowCycles,
      brokerStoppedMs,
      registryPauses,
      crashes,
      caughtUp,
      lag: Number.isFinite(lag) ? lag : -1,
      stopExitCodes,
      replay: { processed: summary.counters.processed, vectors: replayed.size, late: summary.lateRecords.count, deadLetters: summary.deadLetters.count },
      lost: c.lost,
      duplicates: c.duplicates,
      divergent: c.divergent,
      comparison: c,
      windows,
      opens: taskOpens(slots.map((x) => x.logFile)),
      heldBack: slots.reduce((n, x) => n + (existsSync(x.logFile) ? [...readFileSync(x.logFile, 'utf8').matchAll(/^skewless: holding back input partitions/gm)].length : 0), 0),
      seconds: Math.round((Date.now() - t0) / 100) / 10,
      ...(o.keep ? { kept: { dir, topics, group } } : {}),
    };
    return result;
  } finally {
    stopping = true;
    for (const t of timers) clearTimeout(t);
    resumeStopped();
    process.removeListener('exit', resumeStopped);
    if (brokerDown && !stackPid('kafka')) {
      o.log('[chaos] restarting the broker killed by this campaign');
      await restartKafka({ log: (m) => o.log(`[chaos] stack: ${m}`) }).catch((e: Error) => o.log(`[chaos] broker restart failed: ${e.message}`));
    }
    for (const s of slots) {
      if (s.proc) {
        s.proc.kill('SIGKILL');
        await exited(s.proc);
      }
    }
    if (!o.keep) {
      if (result) rmSync(dir, { recursive: true, force: true });
      else o.log(`[chaos] kept ${dir} (worker logs in logs/) after the failure`);
      const conn = await KafkaConnection.open({ brokers: o.brokers }).catch(() => undefined);
      if (conn) {
        try {
          // Every topic of this run, including any the workers created (changelogs, repartitions).
          const mine = (await conn.admin.listTopics()).filter((t) => t.includes(run));
          await deleteTopics(conn, [...new Set([...topics, ...mine])]);
          await deleteGroup(conn, group);
        } catch (e) {
          o.log(`[chaos] cleanup of run ${run} failed: ${e instanceof Error ? e.message : String(e)}`);
        } finally {
          await conn.close();
        }
      }
    }
  }
}

/** What the workers' logs say about their task opens (a rebuild reads the whole changelog partition; a local copy only its tail). */
function taskOpens(logFiles: readonly string[]): CampaignResult['opens'] {
  let tasks = 0;
  let rebuilt = 0;
  let appliedRecords = 0;
  for (const f of logFiles) {
    const text = existsSync(f) ? readFileSync(f, 'utf8') : '';
    for (const m of text.matchAll(/^skewless: task \d+ ready at [^\n]*?(?: after applying ([\d,]+) changelog records)?$/gm)) {
      tasks++;
      appliedRecords += m[1] === undefined ? 0 : Number(m[1].replace(/,/g, ''));
    }
    rebuilt += [...text.matchAll(/^skewless: task \d+: rebuilding local state/gm)].length;
  }
  return { tasks, rebuilt, appliedRecords };
}

/** The report: one line per figure, or JSON. */
export function formatResult(r: CampaignResult): string {
  const c = r.comparison;
  return [
    `chaos run ${r.run} (${r.topology}, seed ${r.seed}): ${r.workers} workers, ${r.partitions} partitions, ${r.seconds} s`,
    `faults: ${r.kills} kills (SIGKILL), ${r.wipes} state wipes, ${r.brokerKills} broker kills, ${r.brokerSlowCycles} broker stops (${(r.brokerStoppedMs / 1000).toFixed(1)} s stopped in all), ${r.registryPauses} registry pauses, ${r.crashes} crashes by themselves`,
    `input: ${r.events} events generated, ${r.produced} produced; replay: ${r.replay.processed} processed, ${r.replay.vectors} vectors, ${r.replay.late} late, ${r.replay.deadLetters} dead letters`,
    `live: ${c.liveRecords} records, ${c.liveDistinct} distinct inputs; caught up: ${r.caughtUp ? 'yes' : `NO (lag ${r.lag})`}; exit codes on SIGTERM: ${r.stopExitCodes.join(', ')}`,
    `task opens: ${r.opens.tasks}, ${r.opens.rebuilt} of them rebuilt from the changelog's start; ${r.opens.appliedRecords} changelog records applied in all`,
    ...(r.heldBack > 0 ? [`backpressure: ${r.heldBack} worker runs held back input partitions running ahead`] : []),
    `lost:       ${r.lost}`,
    `duplicates: ${r.duplicates} inputs (${c.duplicateRecords} surplus records, ${c.duplicatesDiffering} not byte-identical)`,
    `divergent:  ${r.divergent}${c.unexpected ? ` (+${c.unexpected} vectors for inputs the replay gives none)` : ''}${c.misplaced ? ` (+${c.misplaced} in the wrong partition)` : ''}`,
    ...c.examples.map((e) => `  e.g. ${e}`),
    ...Object.entries(r.windows).flatMap(([name, w]) => [
      `windows ${name}: ${w.expected} closed by the replay, ${w.liveRecords} served; lost ${w.lost}, duplicates ${w.duplicates}, divergent ${w.divergent}, unexpected ${w.unexpected}`,
      ...w.examples.map((e) => `  e.g. ${e}`),
    ]),
    r.ok ? `OK: every replayed vector${Object.keys(r.windows).length > 0 ? ' and closed window' : ''} served exactly once, byte for byte` : 'FAILED',
    ...(r.kept ? [`kept: ${r.kept.dir}; group ${r.kept.group}; topics ${r.kept.topics.join(' ')}`] : []),
  ].join('\n');
}

function intFlag(v: string | undefined, name: string, fallback: number, min = 0): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} ${v}: expected an integer ≥ ${min}`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      topology: { type: 'string' },
      kills: { type: 'string' },
      workers: { type: 'string' },
      events: { type: 'string' },
      partitions: { type: 'string' },
      seed: { type: 'string' },
      'kill-interval-ms': { type: 'string' },
      burst: { type: 'string' },
      'broker-kill': { type: 'boolean' },
      'broker-slow-s': { type: 'string' },
      'registry-pause-s': { type: 'string' },
      'wipe-state': { type: 'boolean' },
      delivery: { type: 'string' },
      'session-timeout-ms': { type: 'string' },
      standby: { type: 'string' },
      'max-held': { type: 'string' },
      'idle-ms': { type: 'string' },
      'catch-up-timeout-s': { type: 'string' },
      keep: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      `usage: npm run chaos -- [--topology FILE=${DEFAULTS.topology}] [--kills N=${DEFAULTS.kills}] [--workers W=${DEFAULTS.workers}] [--events E=${DEFAULTS.events}] [--partitions P=${DEFAULTS.partitions}]\n` +
        `  [--seed S=${DEFAULTS.seed}] [--kill-interval-ms MS=${DEFAULTS.killIntervalMs}] [--burst B=${DEFAULTS.burst}] [--broker-kill] [--broker-slow-s N]\n` +
        `  [--registry-pause-s N] [--wipe-state] [--delivery exactly-once|at-least-once] [--session-timeout-ms MS] [--standby N] [--max-held N] [--idle-ms MS] [--catch-up-timeout-s S=${DEFAULTS.catchUpTimeoutMs / 1000}] [--keep] [--json]\n` +
        'Stack: KAFKA_BROKERS / SCHEMA_REGISTRY_URL (loopback), STACK_DIR for --broker-kill / --broker-slow-s / --registry-pause-s (never the shared stack).\n' +
        'Exit 0: nothing lost, duplicated or divergent; 1: something was; 2: the campaign itself failed.\n',
    );
    return 0;
  }
  // Ctrl-C / SIGTERM: exit through 'exit', which resumes a paused registry (workers get the signal with us).
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  // Checked before anything connects: ensureStack() would probe what the environment names.
  if (process.env.KAFKA_BROKERS && process.env.SCHEMA_REGISTRY_URL) assertLoopback(process.env.KAFKA_BROKERS.split(','), process.env.SCHEMA_REGISTRY_URL);
  const stack = await ensureStack();
  const r = await runCampaign({
    // Relative to where the command runs (npm run: the repository root).
    ...(values.topology === undefined ? {} : { topology: resolve(values.topology) }),
    kills: intFlag(values.kills, 'kills', DEFAULTS.kills),
    workers: intFlag(values.workers, 'workers', DEFAULTS.workers, 1),
    events: intFlag(values.events, 'events', DEFAULTS.events, 1),
    partitions: intFlag(values.partitions, 'partitions', DEFAULTS.partitions, 1),
    seed: intFlag(values.seed, 'seed', DEFAULTS.seed),
    killIntervalMs: intFlag(values['kill-interval-ms'], 'kill-interval-ms', DEFAULTS.killIntervalMs, 1),
    burst: intFlag(values.burst, 'burst', DEFAULTS.burst, 1),
    brokerKill: values['broker-kill'] === true,
    brokerSlowS: intFlag(values['broker-slow-s'], 'broker-slow-s', DEFAULTS.brokerSlowS),
    registryPauseS: intFlag(values['registry-pause-s'], 'registry-pause-s', DEFAULTS.registryPauseS),
    wipeState: values['wipe-state'] === true,
    ...(values.delivery === undefined ? {} : { delivery: values.delivery }),
    ...(values['session-timeout-ms'] === undefined ? {} : { sessionTimeoutMs: intFlag(values['session-timeout-ms'], 'session-timeout-ms', 0, 1) }),
    ...(values.standby === undefined ? {} : { standby: intFlag(values.standby, 'standby', 0) }),
    ...(values['max-held'] === undefined ? {} : { maxHeld: intFlag(values['max-held'], 'max-held', 0, 1) }),
    ...(values['idle-ms'] === undefined ? {} : { idleMs: intFlag(values['idle-ms'], 'idle-ms', 0, 1) }),
    keep: values.keep === true,
    catchUpTimeoutMs: intFlag(values['catch-up-timeout-s'], 'catch-up-timeout-s', DEFAULTS.catchUpTimeoutMs / 1000, 1) * 1000,
    brokers: stack.brokers.split(','),
    registryUrl: stack.registryUrl,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(values.json ? `${JSON.stringify(r, null, 2)}\n` : `${formatResult(r)}\n`);
  return r.ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`chaos: ${e instanceof Error ? (process.env.CHAOS_DEBUG ? e.stack : e.message) : String(e)}\n`);
      process.exit(2);
    },
  );
}
