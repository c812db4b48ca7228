/**
 * The flights the live benchmarks feed: the first N flights of vega-datasets' flights-3m.parquet
 * as NDJSON (file order = arrival order), facts about them, and copies of real flights with
 * later dates to trickle into an input topic once the pre-loaded backlog is processed.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { WireEncoder } from '../../src/io/avro/wire-encoder.js';
import { readFileRecords } from '../../src/io/files/read-file-records.js';
import type { KafkaConnection } from '../../src/io/kafka/kafka-connection.js';
import { TopicProducer } from '../../src/io/kafka/topic-producer.js';
import { kafkaPartition } from '../../src/io/partitioning.js';

/** The first `wanted` flights of `parquet` as NDJSON at `path`; resolves to how many were written. */
export async function writeSlice(parquet: string, path: string, wanted: number): Promise<number> {
  const out = createWriteStream(path);
  let n = 0;
  for await (const batch of readFileRecords(parquet, 'parquet')) {
    let chunk = '';
    for (const rec of batch) {
      if (n >= wanted) break;
      if (rec.value === undefined) throw new Error(`flight ${rec.offset}: ${rec.error}`);
      chunk += `${JSON.stringify(rec.value)}\n`;
      n++;
    }
    if (!out.write(chunk)) await once(out, 'drain');
    if (n >= wanted) break;
  }
  out.end();
  await once(out, 'finish');
  return n;
}

export type FlightValue = Record<string, unknown> & { date: number; origin: string };

export interface SliceFacts {
  /** Sum of the records' Avro values as produced (Confluent framing: 5 header bytes + Avro body). */
  readonly valueBytes: number;
  readonly records: number;
  /** Latest event time in the slice: later flights are never late. */
  readonly maxDate: number;
  /** One real flight per partition (by the murmur2 partition of its key), to copy with later dates. */
  readonly templates: ReadonlyMap<number, FlightValue>;
}

/** Reads the slice through the Avro encoder exactly as produceFile does: value sizes, latest date, one flight per partition. */
export async function inspectSlice(path: string, flightSchema: object, partitions: number): Promise<SliceFacts> {
  const encoder = new WireEncoder(flightSchema, 1); // the id's value does not change the size
  let valueBytes = 0;
  let records = 0;
  let maxDate = -Infinity;
  const templates = new Map<number, FlightValue>();
  for await (const batch of readFileRecords(path, 'ndjson', { readerSchema: flightSchema })) {
    for (const rec of batch) {
      const v = rec.value as FlightValue | undefined;
      if (v === undefined) continue;
      const enc = encoder.encode(v);
      if (enc.error !== undefined) continue;
      valueBytes += enc.bytes.byteLength;
      records++;
      if (v.date > maxDate) maxDate = v.date;
      const p = kafkaPartition(String(v.origin), partitions);
      if (!templates.has(p)) templates.set(p, { ...v });
    }
  }
  if (templates.size < partitions) throw new Error(`the slice has flights for only ${templates.size} of ${partitions} partitions`);
  return { valueBytes, records, maxDate, templates };
}

/** Writes the slice and inspects it: its facts, and how long both took (ms); every flight must fit the Avro schema. */
export async function prepareSlice(parquet: string, path: string, wanted: number, flightSchema: object, partitions: number): Promise<SliceFacts & { readonly ms: number }> {
  const t0 = performance.now();
  const sliced = await writeSlice(parquet, path, wanted);
  const facts = await inspectSlice(path, flightSchema, partitions);
  if (facts.records !== sliced) throw new Error(`${sliced - facts.records} flights of the slice do not fit the Avro schema`);
  return { ...facts, ms: performance.now() - t0 };
}

/** Produces copies of real flights with ever later dates into one input topic, one per partition per round. */
export class LaterFlights {
  private seq = 0;
  private constructor(
    private readonly producer: TopicProducer,
    private readonly encoder: WireEncoder,
    private readonly topic: string,
    private readonly facts: SliceFacts,
  ) {}

  static async open(conn: KafkaConnection, topic: string, flightSchema: object, schemaId: number, facts: SliceFacts): Promise<LaterFlights> {
    return new LaterFlights(await TopicProducer.open(conn, { maxBatchMessages: 1 << 20 }), new WireEncoder(flightSchema, schemaId), topic, facts);
  }

  /** Sequence number the next round starts with (a round started later has a higher one). */
  get next(): number {
    return this.seq;
  }

  /**
   * One flight per partition, acknowledged when this resolves: all dated `date` when given,
   * else one second apart in event time from a minute after the slice's latest flight.
   */
  async round(date?: number): Promise<void> {
    for (const [p, f] of this.facts.templates) {
      const d = date ?? this.facts.maxDate + 60_000 + 1000 * this.seq;
      this.seq++;
      const enc = this.encoder.encode({ ...f, date: d });
      if (enc.error !== undefined) throw new Error(enc.error);
      this.producer.buffer(this.topic, { key: Buffer.from(String(f.origin), 'utf8'), value: enc.bytes, partition: p });
    }
    await this.producer.flush();
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}
