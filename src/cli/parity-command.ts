import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { renderParityHtml } from '../parity/html-report.js';
import { runParity, type ParityRunResult } from '../parity/parity-run.js';
import { formatParityTerminal } from '../parity/terminal-report.js';
import { loadTopology } from '../plan/load-topology.js';
import { parseTopics, positiveInt } from './cli-args.js';
import { kafkaEndpoints } from './kafka-endpoints.js';

export interface ParityFlags {
  sample: string;
  topic?: string[];
  tolerance: string;
  json?: boolean;
  html?: string;
  brokers?: string;
  registry?: string;
  workers?: string;
}

/** JSON without bigints (none are expected, but a stray one must not crash the report). */
const toJson = (r: ParityRunResult): string => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2);

/** `skewless parity`: exit 0 when parity holds, 1 on alert, 2 on error (main.ts). */
export async function runParityCommand(file: string, flags: ParityFlags, command: Command): Promise<void> {
  const tolerance = Number(flags.tolerance);
  if (flags.tolerance.trim() === '' || !Number.isFinite(tolerance) || tolerance < 0) throw new Error(`--tolerance ${flags.tolerance}: expected a number >= 0 (a relative difference, 0.1 = 10%)`);
  const plan = await loadTopology(file);
  const result = await runParity({
    plan,
    ...kafkaEndpoints(flags),
    sampleTopic: flags.sample,
    topics: parseTopics(flags.topic ?? [], plan.topology.sources.map((s) => s.name)),
    tolerance,
    workers: flags.workers === undefined ? undefined : positiveInt(flags.workers, '--workers'),
    verbose: command.optsWithGlobals<{ verbose?: boolean }>().verbose === true,
  });
  if (flags.html !== undefined) writeFileSync(flags.html, renderParityHtml(result));
  process.stdout.write(`${flags.json ? toJson(result) : formatParityTerminal(result)}\n`);
  process.exitCode = result.alert ? 1 : 0;
}

export function registerParityCommand(program: Command): void {
  program
    .command('parity')
    .description('recompute sampled live vectors offline (replaying the source topics) and compare them per feature; exit 0 parity holds, 1 alert, 2 error')
    .argument('<topology>', 'topology file')
    .requiredOption('--sample <topic>', 'the parity log topic (skewless run --parity-topic)')
    .option('--topic <source=topic...>', "a source's topic (default the topology's)")
    .option('--tolerance <r>', 'relative difference above which a float value mismatches', '0.1')
    .option('--json', 'print the full result as JSON')
    .option('--html <file>', 'also write a self-contained HTML report')
    .option('--brokers <list>', 'Kafka bootstrap brokers host:port,... (default $KAFKA_BROKERS)')
    .option('--registry <url>', 'schema registry URL (default $SCHEMA_REGISTRY_URL)')
    .option('--workers <n>', 'replay worker threads (default: number of cores)')
    // Usage errors must exit 2 like every other error (commander's default is 1, which means "alert" here).
    .exitOverride((err) => {
      if (err.exitCode === 0) process.exit(0);
      process.exit(2);
    })
    .action(runParityCommand);
}
