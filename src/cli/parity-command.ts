import { statSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ParityRunResult } from '../parity/parity-run.js';
import { loadTopology } from '../plan/load-topology.js';
import { parseDuration } from '../dsl/duration.js';
import { parseInstant, parseTopics, positiveInt } from './cli-args.js';
import { CONFIG_HELP, kafkaEndpoints } from './kafka-endpoints.js';
import { Progress } from './progress.js';
import { redactSecrets } from '../io/secret-redaction.js';

export interface ParityFlags {
  sample: string;
  topic?: string[];
  tolerance: string;
  json?: boolean;
  html?: string;
  brokers?: string;
  registry?: string;
  config?: string;
  workers?: string;
  since?: string;
  until?: string;
  state?: string;
  parityRate?: string;
}

/** --state needs the live sampling rate: the state must hold every key the live workers sample. */
function parityState(flags: ParityFlags): { dir: string; rate: number } | undefined {
  if (flags.state === undefined) {
    if (flags.parityRate !== undefined) throw new Error('--parity-rate is only used with --state <dir> (an incremental parity state)');
    return undefined;
  }
  if (flags.parityRate === undefined) throw new Error('--state needs --parity-rate <r>: the rate the live workers sample at (skewless run --parity-rate)');
  const rate = Number(flags.parityRate);
  if (flags.parityRate.trim() === '' || !Number.isFinite(rate) || rate <= 0 || rate > 1) throw new Error(`--parity-rate ${flags.parityRate}: expected a number in (0, 1]`);
  return { dir: flags.state, rate };
}

/**
 * --since/--until: an ISO instant, or a duration back from now (`2h`, `1d`), which is what an
 * hourly cron job wants. Only the choice of sampled vectors uses the clock, never a feature value.
 */
export function parseSampleBound(value: string, flag: string, now: number): number {
  if (/^\s*\d+\s*(ms|s|m|h|d|w)\s*$/.test(value)) return now - parseDuration(value, flag);
  return parseInstant(value, flag);
}

/** --sample names a local parity file when such a file exists, else a topic. */
function sampleOf(value: string): { topic: string } | { file: string } {
  try {
    if (statSync(value).isFile()) return { file: value };
  } catch {
    // not a file: a topic name
  }
  return { topic: value };
}

/** JSON without bigints (none are expected, but a stray one must not crash the report). */
const toJson = (r: ParityRunResult): string => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2);

/** `skewless parity`: exit 0 when parity holds, 1 on alert, 2 on error (main.ts). */
export async function runParityCommand(file: string, flags: ParityFlags, command: Command): Promise<void> {
  const tolerance = Number(flags.tolerance);
  if (flags.tolerance.trim() === '' || !Number.isFinite(tolerance) || tolerance < 0) throw new Error(`--tolerance ${flags.tolerance}: expected a number >= 0 (a relative difference, 0.1 = 10%)`);
  const plan = await loadTopology(file);
  const now = Date.now();
  const since = flags.since === undefined ? undefined : parseSampleBound(flags.since, '--since', now);
  const until = flags.until === undefined ? undefined : parseSampleBound(flags.until, '--until', now);
  if (since !== undefined && until !== undefined && since >= until) throw new Error(`--since ${flags.since} is not before --until ${flags.until}`);
  const progress = new Progress('parity replay', { quiet: flags.json });
  // Loaded here, not at start-up: other commands need none of the replay or the reports.
  const [{ runParity }, { renderParityHtml }, { formatParityTerminal }] = await Promise.all([import('../modes/parity-replay.js'), import('../parity/html-report.js'), import('../parity/terminal-report.js')]);
  const result = await progress.around(runParity({
    plan,
    ...kafkaEndpoints(flags),
    sample: sampleOf(flags.sample),
    since,
    until,
    state: parityState(flags),
    topics: parseTopics(flags.topic ?? [], plan.topology.sources.map((s) => s.name)),
    tolerance,
    workers: flags.workers === undefined ? undefined : positiveInt(flags.workers, '--workers'),
    verbose: command.optsWithGlobals<{ verbose?: boolean }>().verbose === true,
    onReplayProgress: (done, total) => progress.updateOf(done, total),
  }));
  if (flags.html !== undefined) writeFileSync(flags.html, redactSecrets(renderParityHtml(result)));
  process.stdout.write(`${flags.json ? toJson(result) : formatParityTerminal(result)}\n`);
  process.exitCode = result.alert ? 1 : 0;
}

export function registerParityCommand(program: Command): void {
  program
    .command('parity')
    .description('recompute sampled live vectors offline (replaying the source topics) and compare them per feature; exit 0 parity holds, 1 alert, 2 error')
    .argument('<topology>', 'topology file')
    .requiredOption('--sample <topic|file>', 'the parity log: its topic (skewless run --parity-topic) or local file (--parity-file)')
    .option('--since <time>', 'only sampled vectors with event time from this ISO instant, or this long ago (e.g. 1h, 2d)')
    .option('--until <time>', 'only sampled vectors with event time before this ISO instant, or this long ago')
    .option('--state <dir>', 'keep the recomputed state of the sampled keys here between runs, so each run replays only new input (an hourly job); needs --parity-rate')
    .option('--parity-rate <r>', 'with --state: the rate the live workers sample at (skewless run --parity-rate)')
    .option('--topic <source=topic...>', "a source's topic (default the topology's)")
    .option('--tolerance <r>', 'relative difference above which a float value mismatches', '0.1')
    .option('--json', 'print the full result as JSON')
    .option('--html <file>', 'also write a self-contained HTML report')
    .option('--brokers <list>', 'Kafka bootstrap brokers host:port,... (default $KAFKA_BROKERS)')
    .option('--registry <url>', 'schema registry URL (default $SCHEMA_REGISTRY_URL)')
    .option('--config <file>', CONFIG_HELP)
    .option('--workers <n>', 'replay worker threads (default: number of cores)')
    // Usage errors must exit 2 like every other error (commander's default is 1, which means "alert" here).
    .exitOverride((err) => {
      if (err.exitCode === 0) process.exit(0);
      process.exit(2);
    })
    .action(runParityCommand);
}
