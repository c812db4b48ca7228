import type { InputBatch, InputRange } from '../engine/input.js';
import type { Program } from '../engine/program.js';
import { SchemaRegistryClient } from '../io/avro/registry-client.js';
import { registryEndpoint } from '../io/avro/registry-http.js';
import { WireDecoder } from '../io/avro/wire-decoder.js';
import { KafkaConnection } from '../io/kafka/kafka-connection.js';
import { readTopicRanges, type PartitionRange, type TopicBatch } from '../io/kafka/topic-reader.js';
import type { CompiledPlan } from '../plan/compile.js';
import type { KafkaInputSpec, ReplayInput } from './replay-input.js';

/** Undecoded Kafka batches → engine batches: values decoded into the source's schema, bad ones carried as errors with their bytes. */
async function* decodeBatches(
  batches: AsyncIterable<TopicBatch>,
  sourceOfTopic: ReadonlyMap<string, string>,
  decoders: ReadonlyMap<string, WireDecoder>,
): AsyncGenerator<InputBatch> {
  for await (const b of batches) {
    const source = sourceOfTopic.get(b.topic)!;
    yield { source, partition: b.partition, records: await decoders.get(source)!.decodeRecords(b.records, false) };
  }
}

/**
 * Kafka topics as replay input: the offset ranges of the spec (snapshotted before the replay
 * started), values in Confluent wire format decoded through the registry into each source's
 * .avsc. Engine topics are read by one range reader, each label topic by another.
 */
export async function openKafkaReplayInput(
  plan: CompiledPlan,
  program: Program,
  spec: KafkaInputSpec,
  partitionFilter: (partition: number) => boolean = () => true,
): Promise<ReplayInput> {
  const registry = await SchemaRegistryClient.open(registryEndpoint(spec.registryUrl, spec.security?.registry));
  const conn = await KafkaConnection.open({ brokers: spec.brokers, security: spec.security?.kafka, verbose: spec.verbose });
  const bySource = new Map(spec.sources.map((s) => [s.source, s]));
  const decoders = new Map<string, WireDecoder>();
  const decoder = (source: string): WireDecoder => {
    let d = decoders.get(source);
    if (!d) {
      const schema = plan.schemas.get(source);
      if (!schema) throw new Error(`source "${source}" has no schema`);
      decoders.set(source, (d = new WireDecoder(registry, schema.json)));
    }
    return d;
  };
  const sourceSpec = (source: string): KafkaInputSpec['sources'][number] => {
    const s = bySource.get(source);
    if (!s) throw new Error(`no Kafka topic planned for source "${source}"`);
    return s;
  };

  const engine = program.sources.map((s) => sourceSpec(s.node.name));
  const ranges: InputRange[] = engine.flatMap((s) =>
    s.ranges.filter((r) => partitionFilter(r.partition)).map((r) => ({ source: s.source, partition: r.partition, origin: s.topic, firstOffset: r.start, endOffset: r.end })),
  );
  const read = (sources: ReadonlyArray<KafkaInputSpec['sources'][number]>, keep: (partition: number) => boolean): AsyncGenerator<InputBatch> => {
    const partitions: PartitionRange[] = sources.flatMap((s) => s.ranges.filter((r) => keep(r.partition)).map((r) => ({ topic: s.topic, partition: r.partition, start: r.start, end: r.end })));
    for (const s of sources) decoder(s.source);
    return decodeBatches(readTopicRanges(conn, partitions, { batchSize: spec.batchSize }), new Map(sources.map((s) => [s.topic, s.source])), decoders);
  };

  return {
    // Labels join by id across partitions, so every partition of a label topic is read.
    labelBatches: (source) => read([sourceSpec(source)], () => true),
    engineBatches: () => read(engine, partitionFilter),
    ranges: () => ranges.map((r) => ({ ...r })),
    close: () => conn.close(),
  };
}
