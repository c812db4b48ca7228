import { Command, Option } from 'commander';
import { runBackfill } from './backfill-command.js';
import { runDemo } from './demo-command.js';
import { runGenerate } from './generate-command.js';
import { runPlan } from './plan-command.js';

const program = new Command();
program
  .name('skewless')
  .description('Deterministic event-time feature pipelines: one topology, live over Kafka or replayed over history.')
  .option('--verbose', 'print stack traces on errors');

program
  .command('plan')
  .description('print the compiled operator graph and the topology version hash')
  .argument('<topology>', 'topology file, e.g. topologies/flight-delays.ts')
  .option('--json', 'print the canonical plan as JSON')
  .action(runPlan);

program
  .command('backfill')
  .description('replay archived source data (NDJSON, Avro OCF, Parquet) through the topology into training Parquet')
  .argument('<topology>', 'topology file')
  .requiredOption('--input <source=path...>', 'input per source: a file, or a directory with one file per partition')
  .requiredOption('--out <dir>', 'output directory (<out>/<output>/part-NNNNN.parquet)')
  .option('--partitions <n>', 'split a single input file into n partitions by the source key (Kafka murmur2)', '1')
  .option('--state <dir>', 'keep the final state in this LevelDB directory (default: temporary)')
  .option('--dead-letter <dir>', 'directory for malformed records with their reason, one NDJSON file per partition (default <out>/_dead_letters)')
  .option('--batch-size <n>', 'records per input batch', '4096')
  .option('--workers <n>', 'worker threads (partitions are split across them; default: number of cores)')
  .option('--json', 'print the summary as JSON')
  .action(runBackfill);

program
  .command('generate')
  .description('generate an example data set')
  .addArgument(new Command().createArgument('<dataset>', 'data set name').choices(['card-transactions']))
  .option('--events <n>', 'number of transactions', '100000')
  .option('--seed <n>', 'random seed (same seed, same bytes)', '42')
  .option('--out <dir>', 'output directory', 'data/card-transactions')
  .addOption(new Option('--format <format>', 'file format').choices(['ndjson', 'avro']).default('ndjson'))
  .option('--json', 'print the summary as JSON')
  .action(runGenerate);

program
  .command('demo')
  .description('generate card transactions, backfill card-fraud into training Parquet and summarise (what `npm start` runs)')
  .option('--events <n>', 'number of transactions', '200000')
  .option('--seed <n>', 'random seed', '42')
  .option('--out <dir>', 'working directory', 'out/demo')
  .action(runDemo);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const verbose = process.argv.includes('--verbose');
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`skewless: ${msg.replace(/^skewless: /, '')}\n`);
  if (verbose && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exitCode = 2;
}
