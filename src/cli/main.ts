import { Command, Option } from 'commander';
import { registerParityCommand } from './parity-command.js';
import { registerSchemasCommand, STRICT_DECIMALS_HELP } from './schemas-command.js';
import { CONFIG_HELP } from './kafka-endpoints.js';
import { redactOutputStreams, redactSecrets } from '../io/secret-redaction.js';

// Everything skewless prints goes through the redactor: configured secrets and URL passwords never leave the process.
redactOutputStreams();

/**
 * A command's code is loaded when that command runs: `skewless --help`, or one command, does
 * not load every other one's (kafkajs and the registry client, the replay, the live driver).
 * A file backfill starts its replay threads about 0.2 s sooner.
 */
function lazy<A extends unknown[]>(load: () => Promise<(...args: A) => unknown>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    await (await load())(...args);
  };
}

const METRICS_HOST_HELP = 'address the metrics endpoint binds to (default 127.0.0.1, this machine only; 0.0.0.0 serves every interface)';

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
  .action(lazy(async () => (await import('./plan-command.js')).runPlan));

program
  .command('backfill')
  .description('replay source history through the topology into training Parquet: archive files (NDJSON, Avro OCF, Parquet) or Kafka topics')
  .argument('<topology>', 'topology file')
  .option('--input <source=path...>', 'input per source: a file, or a directory with one file per partition')
  .option('--from-kafka', "read the sources' Kafka topics (Avro in Confluent wire format) instead of files")
  .requiredOption('--out <dir>', 'output directory (<out>/<output>/part-NNNNN.parquet)')
  .option('--partitions <n>', 'split a single input file into n partitions by the source key (Kafka murmur2; default 1)')
  .option('--topic <source=topic...>', "with --from-kafka: a source's topic (default the topology's, i.e. the source name)")
  .option('--since <iso>', 'with --from-kafka: start each input partition at the first record with a Kafka timestamp at or after this time')
  .option('--until <iso>', 'with --from-kafka: stop before the first record with a Kafka timestamp at or after this time (default: the end offsets when the backfill starts)')
  .option('--brokers <list>', 'with --from-kafka: Kafka bootstrap brokers host:port,... (default $KAFKA_BROKERS)')
  .option('--registry <url>', 'with --from-kafka: schema registry URL (default $SCHEMA_REGISTRY_URL)')
  .option('--config <file>', `with --from-kafka: ${CONFIG_HELP}`)
  .option('--state <dir>', 'keep the final state in this LevelDB directory (default: temporary)')
  .option('--dead-letter <dir>', 'directory for malformed records with their reason, position and raw form, one NDJSON file per partition (default <out>/_dead_letters)')
  .option('--batch-size <n>', 'records per input batch', '4096')
  .option('--workers <n>', 'worker threads (partitions are split across them; default: number of cores)')
  .option('--cache-keys <n>', "keys of state kept in memory per group and partition; past it colder keys go to the state store and are read back when they come again (default 250000, lowered by itself when a thread's heap runs short)")
  .option('--overwrite', "replace an earlier run's files in --out and --dead-letter and its task state in --state (only skewless's own files; default: refuse a non-empty --out or --dead-letter, or a used --state)")
  .option('--max-dead-letters <n>', 'exit with status 3 when more than n records were dead-lettered (the output is complete either way)', '0')
  .option('--json', 'print the summary as JSON')
  .action(lazy(async () => (await import('./backfill-command.js')).runBackfill));

program
  .command('produce')
  .description("load a data file into a source's Kafka topic: Avro in Confluent wire format, keyed by the source key, in file order")
  .argument('<topology>', 'topology file')
  .requiredOption('--source <name>', 'the source the records belong to (its schema and key)')
  .requiredOption('--input <file>', 'an NDJSON, Avro or Parquet file, in arrival order')
  .option('--topic <topic>', "topic to produce to (default the source's topic)")
  .option('--partitions <n>', 'partitions to create the topic with if it does not exist (an existing topic must have as many)', '8')
  .option('--brokers <list>', 'Kafka bootstrap brokers host:port,... (default $KAFKA_BROKERS)')
  .option('--registry <url>', 'schema registry URL (default $SCHEMA_REGISTRY_URL)')
  .option('--config <file>', CONFIG_HELP)
  .option('--batch-size <n>', 'messages per produce request', '4096')
  .option('--json', 'print the summary as JSON')
  .action(lazy(async () => (await import('./produce-command.js')).runProduce));

program
  .command('run')
  .description('run the topology live: consume its source topics as a consumer group, produce feature vectors; SIGTERM stops cleanly')
  .argument('<topology>', 'topology file')
  .option('--state <dir>', 'state root (one LevelDB per task)', '.state')
  .option('--group <id>', 'consumer group (default skewless-<topology>)')
  .option('--brokers <list>', 'Kafka bootstrap brokers host:port,... (default $KAFKA_BROKERS)')
  .option('--registry <url>', 'schema registry URL (default $SCHEMA_REGISTRY_URL)')
  .option('--config <file>', CONFIG_HELP)
  .option('--metrics-port <port>', 'serve Prometheus metrics on <metrics-host>:<port>/metrics')
  .option('--metrics-host <host>', METRICS_HOST_HELP)
  .option('--max-batch <n>', 'apply at most n records per engine step (checkpoint after each)')
  .option('--fetch-bytes <n>', 'bytes fetched per partition and request; a fetched batch is one engine step and one commit (default 2097152)')
  .option('--concurrency <n>', 'batches of different partitions processed at once: one task computes while another commits; exactly-once transactions take turns (default 1)')
  .option('--cache-keys <n>', 'keys of lookback state kept in memory per group and partition; colder keys are evicted at checkpoints and read back from LevelDB (default 250000)')
  .option('--standby <n>', "warm copies of each task's state kept on other workers of the group, following its changelog, so a task that moves (a worker killed or gone) catches up from the changelog's tail instead of restoring it all; give every worker the same n (default 0)")
  .option('--sweep-keys <n>', "state keys each task walks per commit to free quiet keys' state (a key with no event for its longest window plus grace); 0 turns it off (default 4096)")
  .option('--topic <source=topic...>', "a source's topic (default the topology's)")
  .option('--output-topic <output=topic...>', "an output's topic (default the topology's)")
  .option('--side-prefix <prefix>', 'prefix of the <prefix>-late and <prefix>-dead-letters topics (default the topology name)')
  .option('--parity-rate <r>', 'sample served vectors of this fraction of keys (0..1, by key hash) into the parity log (needs --parity-topic)')
  .option('--parity-topic <topic>', 'parity log topic for --parity-rate (checked by `skewless parity`)')
  .option('--parity-file <path>', 'also append the parity log to this local file (NDJSON; `skewless parity --sample <path>` reads it)')
  .option('--delivery <mode>', 'exactly-once (default: outputs, state changelog and offsets of each batch in one Kafka transaction) or at-least-once (identical duplicates after a crash)')
  .option('--idle-ms <ms>', 'a multi-source task skips an input that is caught up with the broker and idle this long (default 5000); each skip is logged and counted')
  .option('--purge-interval-ms <ms>', 'how often a regrouped topology\'s internal topics are purged below what their tasks committed (default 30000)')
  .option('--max-held <n>', 'a regrouped topology: past n messages held by this worker\'s regrouped tasks, input partitions running ahead in event time are paused until the others catch up (default: no limit until the heap runs short)')
  .option('--session-timeout-ms <ms>', 'group session timeout: how soon a killed worker\'s partitions move to others (default 10000)')
  .option('--retry-deadline-ms <ms>', 'keep retrying through a broker or registry outage this long before exiting (default 300000)')
  .action(async (file: string, flags: Record<string, unknown>) => {
    const { runLive } = await import('./run-command.js');
    return runLive(file, { ...flags, verbose: program.opts().verbose === true } as Parameters<typeof runLive>[1]);
  });

program
  .command('bootstrap')
  .description("replay the sources' Kafka history into fresh state, set the consumer group's offsets to exactly where it ends, then run live from there")
  .argument('<topology>', 'topology file')
  .requiredOption('--state <dir>', 'state root to fill (one LevelDB per task); must not hold task state yet')
  .option('--group <id>', 'consumer group to hand over to (default skewless-<topology>); must have no committed offsets unless --force')
  .option('--topic <source=topic...>', "a source's topic (default the topology's)")
  .option('--output-topic <output=topic...>', "live: an output's topic (default the topology's)")
  .option('--side-prefix <prefix>', 'live: prefix of the <prefix>-late and <prefix>-dead-letters topics (default the topology name)')
  .option('--brokers <list>', 'Kafka bootstrap brokers host:port,... (default $KAFKA_BROKERS)')
  .option('--registry <url>', 'schema registry URL (default $SCHEMA_REGISTRY_URL)')
  .option('--config <file>', CONFIG_HELP)
  .option('--out <dir>', "keep the replay's training output here (default: a temporary directory, removed)")
  .option('--workers <n>', 'replay worker threads (default: number of cores)')
  .option('--batch-size <n>', 'replay: records per input batch', '4096')
  .option('--force', 'overwrite offsets the group has already committed')
  .option('--no-run', 'stop after the handoff (state filled, group offsets set) instead of running live')
  .option('--metrics-port <port>', 'live: serve Prometheus metrics on <metrics-host>:<port>/metrics')
  .option('--metrics-host <host>', `live: ${METRICS_HOST_HELP}`)
  .option('--max-batch <n>', 'live: apply at most n records per engine step (checkpoint after each)')
  .option('--cache-keys <n>', 'live: keys of lookback state kept in memory per group and partition; colder keys are evicted at checkpoints and read back from LevelDB (default 250000)')
  .option('--json', 'print the bootstrap summary as JSON')
  .action(lazy(async () => (await import('./bootstrap-command.js')).runBootstrap));

program
  .command('generate')
  .description('generate an example data set')
  .addArgument(new Command().createArgument('<dataset>', 'data set name').choices(['card-transactions']))
  .option('--events <n>', 'number of transactions', '100000')
  .option('--seed <n>', 'random seed (same seed, same bytes)', '42')
  .option('--out <dir>', 'output directory', 'data/card-transactions')
  .addOption(new Option('--format <format>', 'file format').choices(['ndjson', 'avro']).default('ndjson'))
  .option('--json', 'print the summary as JSON')
  .action(lazy(async () => (await import('./generate-command.js')).runGenerate));

const demo = program
  .command('demo')
  .description('generate card transactions, backfill card-fraud into training Parquet and summarise (what `npm start` runs); `demo skew`: parity catching a skewed serving path')
  .option('--events <n>', 'number of transactions', '200000')
  .option('--seed <n>', 'random seed', '42')
  .option('--out <dir>', 'working directory', 'out/demo')
  .action(lazy(async () => (await import('./demo-command.js')).runDemo));
demo
  .command('skew')
  .description('on the local stack (started if needed): serve card-fraud live and a deliberately skewed copy, check both with parity against card-fraud offline; exit 0 when the first holds and the second alerts')
  .option('--events <n>', 'number of transactions', '20000')
  .option('--seed <n>', 'random seed', '42')
  .option('--out <dir>', 'working directory (data, parity-correct.html, parity-skewed.html)', 'out/demo-skew')
  .option('--keep-topics', 'keep the demo topics and consumer groups instead of deleting them')
  .option('--config <file>', CONFIG_HELP)
  .action(async (flags: Record<string, unknown>) => {
    // Commander matches `demo skew --events/--seed/--out` against demo's own options of the same names: take them from there when given.
    const given = Object.fromEntries(['events', 'seed', 'out'].filter((k) => demo.getOptionValueSource(k) === 'cli').map((k) => [k, demo.opts()[k]]));
    const { runDemoSkew } = await import('./demo-skew-command.js');
    return runDemoSkew({ ...flags, ...given, verbose: program.opts().verbose === true } as Parameters<typeof runDemoSkew>[0]);
  });

registerSchemasCommand(program);
program.command('deploy').description('gate a deploy: schemas check, version check of --state, then schemas register (--dry-run: change nothing)').argument('<topology>', 'topology file').option('--state <dir>', 'state root the topology will run on (checked for task state of another version)').option('--dry-run', 'check and print what would be registered; change nothing').option('--registry <url>', 'schema registry URL (default $SCHEMA_REGISTRY_URL)').option('--config <file>', CONFIG_HELP).option('--strict-decimals', STRICT_DECIMALS_HELP).option('--json', 'print the outcome as JSON').action(lazy(async () => (await import('./deploy-command.js')).runDeploy));
registerParityCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  const verbose = process.argv.includes('--verbose');
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(redactSecrets(`skewless: ${msg.replace(/^skewless: /, '')}\n`));
  if (verbose && e instanceof Error && e.stack) process.stderr.write(redactSecrets(`${e.stack}\n`));
  // A failed command may leave client sockets (Kafka, registry) open; they must not keep a
  // failed worker alive. Exit once stderr is flushed.
  process.stderr.write('', () => process.exit(2));
}
