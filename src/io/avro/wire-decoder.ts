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
import type { SourceValue } from '../../engine/input.js';
import { strictUtf8Type } from './avro-strict-strings.js';
import { PlainValueDecoder } from './plain-record-reader.js';
import type { SchemaRegistryPort } from './registry-client.js';
import { HEADER_SIZE, readWireHeader, wireSchemaId } from './wire-format.js';
import { emptyValue, notAvroSchema, undecodableAvro, unknownSchemaId, unresolvableSchema } from './wire-format-error.js';

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
    for (const bytes of values) {
      if (bytes === null) continue;
      const id = wireSchemaId(bytes);
      if (id !== undefined && !this.readings.has(id)) this.readings.set(id, await this.load(id));
    }
    return values.map((bytes) => this.decodeLoaded(bytes));
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

  private decodeLoaded(bytes: Uint8Array | null): DecodeResult {
    if (bytes === null) return { error: emptyValue() };
    const id = wireSchemaId(bytes);
    if (id === undefined) return { error: (readWireHeader(bytes) as { error: string }).error };
    const reading = this.readings.get(id)!;
    if ('error' in reading) return { error: reading.error };
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const size = buf.length - HEADER_SIZE;
    let value: unknown;
    try {
      value = reading.decoder.decode(buf, HEADER_SIZE);
    } catch (e) {
      return { error: undecodableAvro(id, errorText(e)) };
    }
    const end = reading.decoder.end < 0 ? -1 : reading.decoder.end - HEADER_SIZE;
    if (end < 0) return { error: undecodableAvro(id, `truncated: the value ends inside the record (${size} bytes)`) };
    // Extra bytes mean the framing is not what the header claims; accepting them would hide corruption.
    if (end !== size) return { error: undecodableAvro(id, `${size - end} trailing bytes after the record`) };
    return { value: value as SourceValue };
  }
}
