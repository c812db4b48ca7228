import type { Command } from 'commander';
import { countInputRecords } from '../io/files/input-record-count.js';
import { formatCount, formatSeconds } from '../io/number-format.js';
import { produceFile, type ProduceSummary } from '../modes/produce-file.js';
import { PRODUCED_DEAD_LETTER_HEADER } from '../io/kafka/produced-dead-letter.js';
import { loadTopology } from '../plan/load-topology.js';
import { positiveInt } from './cli-args.js';
import { kafkaEndpoints } from './kafka-endpoints.js';
import { Progress } from './progress.js';

export interface ProduceFlags {
  source: string;
  input: string;
  partitions: string;
  topic?: string;
  brokers?: string;
  registry?: string;
  config?: string;
  batchSize: string;
  json?: boolean;
}

function formatProduceSummary(s: ProduceSummary, seconds: number): string {
  const t = s.timestamps;
  const lines = [
    `produced ${formatCount(s.produced)} records to ${s.topic} (${s.partitions} partitions${s.topicCreated ? ', created' : ''}) in ${formatSeconds(seconds)}`,
    `values: Avro in Confluent wire format, schema id ${s.schemaId} (subject ${s.subject})`,
    `record timestamps: event time for ${formatCount(t.eventTime)} records${t.loadTime > 0 ? `, load time for ${formatCount(t.loadTime)}` : ''} (backfill --from-kafka --since/--until select by them)`,
  ];
  for (const r of t.loadTimeReasons) lines.push(`  load time for ${formatCount(r.records)}: ${r.reason}`);
  if (s.deadLetters > 0) {
    lines.push(`dead letters: ${formatCount(s.deadLetters)} records could not be encoded; they went to partition 0 with their reason (header ${PRODUCED_DEAD_LETTER_HEADER}), where a file backfill puts them, and every replay and worker dead-letters them alike, e.g.:`);
    for (const e of s.deadLetterExamples) lines.push(`  record ${e.index}: ${e.reason}`);
  }
  return lines.join('\n');
}

export async function runProduce(file: string, flags: ProduceFlags, command: Command): Promise<void> {
  const verbose = command.optsWithGlobals<{ verbose?: boolean }>().verbose === true;
  const plan = await loadTopology(file);
  const { brokers, registryUrl, security } = kafkaEndpoints(flags);
  const progress = new Progress('produce', { quiet: flags.json });
  // A file that cannot be counted is reported by produceFile, with its reason.
  if (progress.drawn) await countInputRecords(flags.input).then((n) => progress.setTotal(n), () => undefined);
  const started = Date.now();
  const summary = await progress.around(produceFile({
    plan,
    source: flags.source,
    input: flags.input,
    topic: flags.topic,
    partitions: positiveInt(flags.partitions, '--partitions'),
    brokers,
    registryUrl,
    security,
    batchSize: positiveInt(flags.batchSize, '--batch-size'),
    verbose,
    onProgress: (n) => progress.update(n),
  }), (s) => s.produced + s.deadLetters);
  const seconds = (Date.now() - started) / 1000;
  if (flags.json) process.stdout.write(`${JSON.stringify({ ...summary, seconds }, null, 2)}\n`);
  else process.stdout.write(`${formatProduceSummary(summary, seconds)}\n`);
}
