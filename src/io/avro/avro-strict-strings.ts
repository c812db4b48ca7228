import avsc from 'avsc';
import { isUtf8 } from 'node:buffer';

interface Tap {
  buf: Buffer;
  pos: number;
  readLong(): number;
  _invalidate(): void;
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
