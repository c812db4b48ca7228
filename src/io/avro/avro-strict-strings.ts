import avsc from 'avsc';
import { isUtf8 } from 'node:buffer';

interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  _invalidate(): void;
}

/** Short strings are looked up here by their bytes (see shortAscii). */
const SHORT = 32;
const SLOTS = 4096;
const shortStrings = new Array<string | undefined>(SLOTS).fill(undefined);

/**
 * The string of bytes [start, end) when they are at most SHORT ASCII bytes, from a table of the
 * strings read before: ids, codes and categories repeat record after record, and a Buffer
 * decode is a native call per string (2.6 % of a live worker's CPU on flights, whose two
 * airport codes per record were 2,000,000 calls per million records). A repeated string is
 * also the same string object, whose hash the engine's key lookups then compute once.
 * Undefined for anything else (longer, or not ASCII): the caller decodes it.
 */
function shortAscii(buf: Buffer, start: number, end: number): string | undefined {
  const length = end - start;
  if (length > SHORT) return undefined;
  let h = length;
  for (let i = start; i < end; i++) {
    const b = buf[i];
    if (b >= 0x80) return undefined;
    h = Math.imul(h ^ b, 0x01000193);
  }
  const slot = (h ^ (h >>> 15)) & (SLOTS - 1);
  const cached = shortStrings[slot];
  if (cached !== undefined && cached.length === length) {
    let same = true;
    for (let i = 0; i < length; i++) {
      if (cached.charCodeAt(i) !== buf[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return cached;
  }
  // ASCII bytes are the same characters in Latin-1, whose decode validates nothing.
  const text = (buf as unknown as LatinSlices).latin1Slice(start, end);
  shortStrings[slot] = text;
  return text;
}

/** Buffer's own Latin-1 decode (what toString('latin1') calls after checking its arguments). */
interface LatinSlices {
  latin1Slice(start: number, end: number): string;
}

/**
 * avsc decodes strings leniently (invalid UTF-8 becomes U+FFFD), so two ids that differ only
 * in invalid bytes would read as one key. This string type reads strictly: the fast lenient
 * decode first, and only a string holding U+FFFD is checked against its bytes; invalid bytes
 * throw, and the reader turns that into an error record.
 */
class StrictStringType extends (avsc.types.StringType as unknown as new () => avsc.Type) {
  _read(tap: Tap): string | undefined {
    const length = tap.readLong();
    if (length < 0) {
      tap._invalidate();
      return '';
    }
    const start = tap.pos;
    tap.pos += length;
    if (tap.pos > tap.buf.length) return undefined;
    const short = shortAscii(tap.buf, start, tap.pos);
    if (short !== undefined) return short;
    const text = tap.buf.toString('utf8', start, tap.pos);
    if (text.includes('\uFFFD') && !isUtf8(tap.buf.subarray(start, tap.pos))) {
      throw new Error(`invalid UTF-8 in a string value (${JSON.stringify(text.length > 40 ? `${text.slice(0, 37)}...` : text)})`);
    }
    return text;
  }
}

function isStringSchema(schema: unknown): boolean {
  return schema === 'string' || (typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'string' && !('logicalType' in schema));
}

/** avsc's type for a schema, with strict UTF-8 strings; otherwise as avroReaderType builds it (default options). */
export function strictUtf8Type(schema: unknown): avsc.Type {
  return avsc.Type.forSchema(schema as avsc.Schema, { typeHook: (s) => (isStringSchema(s) ? new StrictStringType() : undefined) });
}
