/**
 * Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian int, then the
 * Avro binary encoding of the value (https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/index.html#wire-format).
 */
import { notWireFormat } from './wire-format-error.js';

export const MAGIC_BYTE = 0;
export const HEADER_SIZE = 5;

/** Header of a framed value, or the reason it is not one. */
export type WireHeader = { readonly schemaId: number; readonly payload: Uint8Array } | { readonly error: string };

export function readWireHeader(bytes: Uint8Array): WireHeader {
  if (bytes.length > 0 && bytes[0] !== MAGIC_BYTE) return { error: notWireFormat(`magic byte 0x${bytes[0].toString(16).padStart(2, '0')}`) };
  if (bytes.length < HEADER_SIZE) return { error: notWireFormat(`${bytes.length} bytes, shorter than the ${HEADER_SIZE}-byte header`) };
  const schemaId = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(1, false);
  return { schemaId, payload: bytes.subarray(HEADER_SIZE) };
}

/**
 * The schema id of a framed value (as readWireHeader reads it), or undefined when it is not
 * one (then readWireHeader says why). Allocates nothing: it runs twice per record when decoding.
 */
export function wireSchemaId(bytes: Uint8Array): number | undefined {
  if (bytes.length < HEADER_SIZE || bytes[0] !== MAGIC_BYTE) return undefined;
  return (bytes[1] << 24) | (bytes[2] << 16) | (bytes[3] << 8) | bytes[4];
}

/** Frame an Avro payload with its schema id. */
export function toWireFormat(schemaId: number, payload: Uint8Array): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) throw new RangeError(`schema id must be a non-negative 32-bit integer, got ${schemaId}`);
  const out = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  out[0] = MAGIC_BYTE;
  out.writeInt32BE(schemaId, 1);
  out.set(payload, HEADER_SIZE);
  return out;
}
