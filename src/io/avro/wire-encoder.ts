/**
 * Encodes source values as Confluent-framed Avro with a given schema id (the id the schema
 * was registered under). Encoding uses the same avsc type construction as decoding, so what
 * a file holds, what is produced and what a replay reads back are the same values.
 */
import type avsc from 'avsc';
import { avroReaderType } from './avro-reader-type.js';
import { toWireFormat } from './wire-format.js';

export type EncodeResult = { readonly bytes: Buffer; readonly error?: undefined } | { readonly error: string; readonly bytes?: undefined };

export class WireEncoder {
  private readonly type: avsc.Type;

  constructor(
    schema: object,
    readonly schemaId: number,
  ) {
    this.type = avroReaderType(schema);
  }

  /** The framed bytes, or why the value does not fit the schema (naming the offending fields). */
  encode(value: unknown): EncodeResult {
    try {
      return { bytes: toWireFormat(this.schemaId, this.type.toBuffer(value)) };
    } catch (e) {
      const paths: string[] = [];
      this.type.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(record)') });
      const detail = paths.length > 0 ? `invalid field(s) ${paths.join(', ')}` : e instanceof Error ? e.message : String(e);
      return { error: `does not match the Avro schema: ${detail}` };
    }
  }
}
