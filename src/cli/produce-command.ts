import type { Command } from 'commander';
import { produceFile, type ProduceSummary } from '../modes/produce-file.js';
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
  batchSize: string;
  json?: boolean;
}

function formatProduceSummary(s: ProduceSummary, seconds: number): string {
  const lines = [
    `produced ${s.produced.toLocaleString('en-US')} records to ${s.topic} (${s.partitions} partitions${s.topicCreated ? ', created' : ''}) in ${seconds.toFixed(1)} s`,
    `values: Avro in Confluent wire format, schema id ${s.schemaId} (subject ${s.subject})`,
  ];
  if (s.skipped > 0) {
    lines.push(`skipped ${s.skipped.toLocaleString('en-US')} records that could not be produced, e.g.:`);
    for (const e of s.skippedExamples) lines.push(`  record ${e.index}: ${e.reason}`);
  }
  return lines.join('\n');
}

export async function runProduce(file: string, flags: ProduceFlags, command: Command): Promise<void> {
  const verbose = command.optsWithGlobals<{ verbose?: boolean }>().verbose === true;
  const plan = await loadTopology(file);
  const { brokers, registryUrl } = kafkaEndpoints(flags);
  const progress = new Progress('produce');
  const started = Date.now();
  const summary = await produceFile({
    plan,
    source: flags.source,
    input: flags.input,
    topic: flags.topic,
    partitions: positiveInt(flags.partitions, '--partitions'),
    brokers,
    registryUrl,
    batchSize: positiveInt(flags.batchSize, '--batch-size'),
    verbose,
    onProgress: (n) => progress.update(n),
  });
  progress.done(summary.produced);
  const seconds = (Date.now() - started) / 1000;
  if (flags.json) process.stdout.write(`${JSON.stringify({ ...summary, seconds }, null, 2)}\n`);
  else process.stdout.write(`${formatProduceSummary(summary, seconds)}\n`);
}
