import { loadTopology } from '../plan/load-topology.js';
import { replayFiles } from '../modes/replay-files.js';
import { parseInputs, positiveInt } from './cli-args.js';
import { Progress } from './progress.js';
import { formatReplaySummary } from './replay-report.js';

export interface BackfillFlags {
  input: string[];
  out: string;
  partitions: string;
  state?: string;
  deadLetter?: string;
  batchSize: string;
  workers?: string;
  json?: boolean;
}

export async function runBackfill(file: string, flags: BackfillFlags): Promise<void> {
  const plan = await loadTopology(file);
  const inputs = parseInputs(flags.input, plan.topology.sources.map((s) => s.name));
  const progress = new Progress('backfill');
  const started = Date.now();
  const summary = await replayFiles({
    plan,
    inputs,
    out: flags.out,
    partitions: positiveInt(flags.partitions, '--partitions'),
    stateDir: flags.state,
    deadLetterDir: flags.deadLetter,
    batchSize: positiveInt(flags.batchSize, '--batch-size'),
    workers: flags.workers === undefined ? undefined : positiveInt(flags.workers, '--workers'),
    onProgress: (n) => progress.update(n),
  });
  progress.done(summary.counters.processed);
  const seconds = (Date.now() - started) / 1000;
  if (flags.json) process.stdout.write(`${JSON.stringify({ ...summary, seconds }, null, 2)}\n`);
  else process.stdout.write(`${formatReplaySummary(summary, seconds)}\n`);
}
