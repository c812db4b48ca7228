import type { Command } from 'commander';
import { loadCheckedTopology } from './checked-topology.js';
import { replayFiles, type ReplaySummary } from '../modes/replay-files.js';
import { replayKafka } from '../modes/replay-kafka.js';
import { prepareReplayTargets } from '../modes/replay-targets.js';
import { nonNegativeInt, parseInputs, parseInstant, parseTopics, positiveInt } from './cli-args.js';
import { kafkaEndpoints } from './kafka-endpoints.js';
import { formatCount } from '../io/number-format.js';
import { Progress } from './progress.js';
import { formatReplaySummary } from './replay-report.js';
import { hasRegrouping } from '../plan/compile.js';

export interface BackfillFlags {
  input?: string[];
  fromKafka?: boolean;
  topic?: string[];
  since?: string;
  until?: string;
  brokers?: string;
  registry?: string;
  config?: string;
  out: string;
  partitions?: string;
  state?: string;
  deadLetter?: string;
  batchSize: string;
  workers?: string;
  json?: boolean;
  overwrite?: boolean;
  maxDeadLetters?: string;
  cacheKeys?: string;
}

/** Exit status of a backfill that finished but dead-lettered more records than --max-dead-letters allows. */
export const EXIT_DEAD_LETTERS = 3;

/** Flags that only make sense for one of the two inputs: a clear error instead of silently ignoring them. */
function checkFlagMix(flags: BackfillFlags): void {
  if (flags.fromKafka) {
    if (flags.input) throw new Error('--input and --from-kafka exclude each other: replay either files or Kafka topics');
    if (flags.partitions !== undefined) throw new Error('--partitions applies to file input; with --from-kafka the topics have their partitions');
    return;
  }
  if (!flags.input) throw new Error('nothing to replay: pass --input <source=path> (files) or --from-kafka (topics)');
  for (const [flag, v] of [['--topic', flags.topic], ['--since', flags.since], ['--until', flags.until], ['--brokers', flags.brokers], ['--registry', flags.registry], ['--config', flags.config]] as const) {
    if (v !== undefined) throw new Error(`${flag} needs --from-kafka`);
  }
}

export async function runBackfill(file: string, flags: BackfillFlags, command: Command): Promise<void> {
  checkFlagMix(flags);
  const maxDeadLetters = nonNegativeInt(flags.maxDeadLetters ?? '0', '--max-dead-letters');
  const plan = await loadCheckedTopology(file);
  prepareReplayTargets({ out: flags.out, deadLetterDir: flags.deadLetter, stateDir: flags.state, overwrite: flags.overwrite === true });
  const sources = plan.topology.sources.map((s) => s.name);
  const progress = new Progress('backfill', { quiet: flags.json });
  const started = Date.now();
  const common = {
    plan,
    out: flags.out,
    stateDir: flags.state,
    deadLetterDir: flags.deadLetter,
    batchSize: positiveInt(flags.batchSize, '--batch-size'),
    workers: flags.workers === undefined ? undefined : positiveInt(flags.workers, '--workers'),
    cacheKeys: flags.cacheKeys === undefined ? undefined : positiveInt(flags.cacheKeys, '--cache-keys'),
    onProgress: (n: number) => progress.update(n),
    // Counting file records costs a pass over NDJSON input: only when a bar shows it.
    onTotal: progress.drawn ? (n: number) => progress.setTotal(n) : undefined,
  };
  let run: Promise<ReplaySummary & { warnings?: readonly string[] }>;
  if (flags.fromKafka) {
    const since = flags.since === undefined ? undefined : parseInstant(flags.since, '--since');
    const until = flags.until === undefined ? undefined : parseInstant(flags.until, '--until');
    if (since !== undefined && until !== undefined && since >= until) throw new Error(`--since ${flags.since} is not before --until ${flags.until}`);
    run = replayKafka({
      ...common,
      ...kafkaEndpoints(flags),
      topics: parseTopics(flags.topic ?? [], sources),
      since,
      until,
      verbose: command.optsWithGlobals<{ verbose?: boolean }>().verbose === true,
    });
  } else {
    run = replayFiles({ ...common, inputs: parseInputs(flags.input!, sources), partitions: positiveInt(flags.partitions ?? '1', '--partitions') });
  }
  const summary = await progress.around(run, (s) => s.counters.processed);
  for (const w of summary.warnings ?? []) process.stderr.write(`skewless: warning: ${w}\n`);
  if (flags.state !== undefined && hasRegrouping(plan.topology)) {
    // run refuses such a state (task-store.ts MissingRegroupedStateError): say so while the user is here.
    process.stderr.write(
      `skewless: note: ${flags.state} holds the origin tasks' state only: ${plan.topology.name} regroups by another entity, whose state a backfill does not keep, so \`skewless run\` refuses it; \`skewless bootstrap\` builds a state live continues from\n`,
    );
  }
  const seconds = (Date.now() - started) / 1000;
  if (flags.json) process.stdout.write(`${JSON.stringify({ ...summary, seconds }, null, 2)}\n`);
  else process.stdout.write(`${formatReplaySummary(summary, seconds)}\n`);
  const dead = summary.deadLetters.count;
  if (dead > maxDeadLetters) {
    process.stderr.write(`skewless: backfill finished, but ${formatCount(dead)} records were dead-lettered (--max-dead-letters ${maxDeadLetters}): see ${summary.deadLetters.dir}\n`);
    process.exitCode = EXIT_DEAD_LETTERS;
  }
}
