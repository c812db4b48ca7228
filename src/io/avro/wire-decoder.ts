/**
 * Decodes Confluent-framed Avro values into the topology's reader schema. The writer schema
 * comes from the registry by the id in each value; avsc's resolver (built once per id) applies
 * Avro's schema-resolution rules, so a record written with an older compatible schema reads
 * as the topology expects (e.g. an added field gets its default).
 *
 * A bad record never throws: decode returns `{ error }` with a reason (see
 * wire-format-error.ts) and the engine dead-letters it. Only a registry outage throws.
 */
import type avsc from 'avsc';
import type { InputRecord, SourceValue } from '../../engine/input.js';
import { strictUtf8Type } from './avro-strict-strings.js';
import { PlainValueDecoder } from './plain-record-reader.js';
import type { SchemaRegistryPort } from './registry-client.js';
import { HEADER_SIZE, readWireHeader, wireSchemaId } from './wire-format.js';
import { emptyValue, notAvroSchema, undecodableAvro, unknownSchemaId, unresolvableSchema } from './wire-format-error.js';

/** A Kafka message to decode; one `skewless produce` marked as a dead letter (io/kafka/produced-dead-letter.ts) is that error record as it is. */
export interface DecodableMessage {
  readonly offset: number;
  readonly value: Uint8Array | null;
  readonly deadLetter?: { readonly reason: string; readonly raw?: string | Uint8Array };
}

export type DecodeResult = { readonly value: SourceValue; readonly error?: undefined } | { readonly error: string; readonly value?: undefined };

/** How values of one writer schema id are read: directly (same schema) or through a resolver, or not at all. */
type Reading = { readonly decoder: PlainValueDecoder } | { readonly error: string };

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*[\r\n]+\s*/g, ' ');
}

export class WireDecoder {
  private readonly readerType: avsc.Type;
  private readonly readings = new Map<number, Reading>();

  constructor(
    private readonly registry: SchemaRegistryPort,
    /** The topology's schema for the source (its .avsc). */
    readerSchema: object,
  ) {
    // Strict UTF-8, as the archive readers: invalid text is an error record, never a merged key.
    this.readerType = strictUtf8Type(readerSchema);
  }

  /** Decode one value. */
  async decode(bytes: Uint8Array | null): Promise<DecodeResult> {
    return (await this.decodeAll([bytes]))[0];
  }

  /** Decode many values: the writer schemas they need are fetched first (once per id), then every value is decoded synchronously. */
  async decodeAll(values: ReadonlyArray<Uint8Array | null>): Promise<DecodeResult[]> {
    for (let i = 0; i < values.length; i++) await this.loadWriter(values[i]);
    return values.map((bytes) => {
      const value = this.read(bytes);
      return value === undefined ? { error: this.readError } : { value };
    });
  }

  /**
   * Engine records of Kafka messages, as decodeAll decodes their values, built straight from
   * them: a live worker reads every input record this way, and a results array between the two
   * was one more object per record. A value that cannot be read is an error record with its
   * bytes; with `keepRaw`, good records keep their bytes too (for a refusal further on). A
   * produced dead letter is its error record, with the reason and raw form the file reader gave.
   */
  async decodeRecords(messages: ReadonlyArray<DecodableMessage>, keepRaw: boolean): Promise<InputRecord[]> {
    for (let i = 0; i < messages.length; i++) if (messages[i].deadLetter === undefined) await this.loadWriter(messages[i].value);
    const records = new Array<InputRecord>(messages.length);
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      const dead = m.deadLetter;
      if (dead !== undefined) {
        records[i] = { offset: m.offset, error: dead.reason, raw: dead.raw };
        continue;
      }
      const value = this.read(m.value);
      const raw = m.value ?? undefined;
      records[i] = value === undefined ? { offset: m.offset, error: this.readError, raw } : keepRaw ? { offset: m.offset, value, raw } : { offset: m.offset, value };
    }
    return records;
  }

  /** Fetch the writer schema of a value's id unless it is known (a bad header is read's to report). */
  private async loadWriter(bytes: Uint8Array | null): Promise<void> {
    if (bytes === null) return;
    const id = wireSchemaId(bytes);
    if (id !== undefined && !this.readings.has(id)) this.readings.set(id, await this.load(id));
  }

  private async load(id: number): Promise<Reading> {
    const writer = await this.registry.writerSchema(id);
    if ('missing' in writer) return { error: unknownSchemaId(id) };
    if ('notAvro' in writer) return { error: notAvroSchema(id, writer.notAvro) };
    // Same canonical form: identical binary layout, so the reader type decodes it directly (faster than a resolver).
    if (writer.type.equals(this.readerType)) return { decoder: new PlainValueDecoder(this.readerType) };
    try {
      return { decoder: new PlainValueDecoder(this.readerType, this.readerType.createResolver(writer.type)) };
    } catch (e) {
      return { error: unresolvableSchema(id, errorText(e)) };
    }
  }

  /** Why the last read() returned undefined. */
  private readError = '';

  /** The value of a wire-framed record whose writer schema is loaded; undefined with readError set when it cannot be read (no object per record for the outcome). */
  private read(bytes: Uint8Array | null): SourceValue | undefined {
    if (bytes === null) return this.refuse(emptyValue());
    const id = wireSchemaId(bytes);
    if (id === undefined) return this.refuse((readWireHeader(bytes) as { error: string }).error);
    const reading = this.readings.get(id)!;
    if ('error' in reading) return this.refuse(reading.error);
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const size = buf.length - HEADER_SIZE;
    let value: unknown;
    try {
      value = reading.decoder.decode(buf, HEADER_SIZE);
    } catch (e) {
      return this.refuse(undecodableAvro(id, errorText(e)));
    }
    const end = reading.decoder.end < 0 ? -1 : reading.decoder.end - HEADER_SIZE;
    if (end < 0) return this.refuse(undecodableAvro(id, `truncated: the value ends inside the record (${size} bytes)`));
    // Extra bytes mean the framing is not what the header claims; accepting them would hide corruption.
    if (end !== size) return this.refuse(undecodableAvro(id, `${size - end} trailing bytes after the record`));
    return value as SourceValue;
  }

  private refuse(error: string): undefined {
    this.readError = error;
    return undefined;
  }
}
