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
import type { SchemaRegistryPort } from './registry-client.js';
import { readWireHeader } from './wire-format.js';
import { emptyValue, notAvroSchema, undecodableAvro, unknownSchemaId, unresolvableSchema } from './wire-format-error.js';

export type DecodeResult = { readonly value: SourceValue; readonly error?: undefined } | { readonly error: string; readonly value?: undefined };

type Resolver = ReturnType<avsc.Type['createResolver']>;

/** How values of one writer schema id are read: directly (same schema), through a resolver, or not at all. */
type Reading = { readonly resolver: Resolver | undefined } | { readonly error: string };

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*[\r\n]+\s*/g, ' ');
}

/**
 * avsc decodes records into instances of generated classes; sources get plain objects (as
 * JSON.parse gives for NDJSON), with the same field values. Bytes stay Buffers, arrays arrays.
 */
function toPlain(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v;
  if (Array.isArray(v)) return v.map(toPlain);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = toPlain((v as Record<string, unknown>)[k]);
  return out;
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
      const header = readWireHeader(bytes);
      if ('schemaId' in header && !this.readings.has(header.schemaId)) this.readings.set(header.schemaId, await this.load(header.schemaId));
    }
    return values.map((bytes) => this.decodeLoaded(bytes));
  }

  private async load(id: number): Promise<Reading> {
    const writer = await this.registry.writerSchema(id);
    if ('missing' in writer) return { error: unknownSchemaId(id) };
    if ('notAvro' in writer) return { error: notAvroSchema(id, writer.notAvro) };
    // Same canonical form: identical binary layout, so the reader type decodes it directly (faster than a resolver).
    if (writer.type.equals(this.readerType)) return { resolver: undefined };
    try {
      return { resolver: this.readerType.createResolver(writer.type) };
    } catch (e) {
      return { error: unresolvableSchema(id, errorText(e)) };
    }
  }

  private decodeLoaded(bytes: Uint8Array | null): DecodeResult {
    if (bytes === null) return { error: emptyValue() };
    const header = readWireHeader(bytes);
    if ('error' in header) return { error: header.error };
    const id = header.schemaId;
    const reading = this.readings.get(id)!;
    if ('error' in reading) return { error: reading.error };
    const payload = Buffer.isBuffer(header.payload) ? header.payload : Buffer.from(header.payload.buffer, header.payload.byteOffset, header.payload.byteLength);
    let decoded: { value: unknown; offset: number };
    try {
      decoded = this.readerType.decode(payload, 0, reading.resolver);
    } catch (e) {
      return { error: undecodableAvro(id, errorText(e)) };
    }
    if (decoded.offset < 0) return { error: undecodableAvro(id, `truncated: the value ends inside the record (${payload.length} bytes)`) };
    // Extra bytes mean the framing is not what the header claims; accepting them would hide corruption.
    if (decoded.offset !== payload.length) return { error: undecodableAvro(id, `${payload.length - decoded.offset} trailing bytes after the record`) };
    return { value: toPlain(decoded.value) as SourceValue };
  }
}
