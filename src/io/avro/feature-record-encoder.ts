/**
 * Encodes a feature vector straight into the Confluent-framed Avro bytes of
 * featureRecordSchema, without building a value object per vector and walking it with avsc:
 * the live hot path emits one of these per input event. The bytes are those avsc writes for
 * the same record (tested against avsc on random vectors); any value this encoder cannot
 * write exactly as avsc would (a non-integer or unsafe long, a column type it does not know)
 * is handed to the avsc encoder, which writes it or names the field that does not fit. Strings
 * are written with Buffer.write, so a lone surrogate becomes U+FFFD (valid UTF-8; avsc would
 * write bytes a strict reader refuses).
 */
import { outputValue, type OutputColumn } from '../../engine/outputs.js';
import type { AggValue } from '../../ops/aggregation.js';
import { featureRecordSchema } from './feature-record-schema.js';
import { WireEncoder, type EncodeResult } from './wire-encoder.js';
import { HEADER_SIZE, MAGIC_BYTE } from './wire-format.js';

/** What a feature vector carries besides its values. */
export interface FeatureVectorHead {
  readonly key: string;
  readonly eventTime: number;
  readonly partition: number;
  readonly offset: number;
}

/** avsc's range for longs held as JS numbers (2^53 − 2): outside it avsc refuses, and so must this. */
const MAX_LONG = 9007199254740990;

/** Bytes of each arena the encoded records are cut from. */
const ARENA_BYTES = 64 * 1024;

/**
 * Avro's primitive encodings, written straight into an arena that the framed records are cut
 * from as views: one arena per ~300 vectors instead of a scratch copy into a new buffer per vector.
 */
class AvroWriter {
  private buf: Buffer = Buffer.allocUnsafe(ARENA_BYTES);
  /** Where the record being written starts (its Confluent header). */
  private start = 0;
  pos = 0;

  /** Start a record: the Confluent header first. An unfinished record before it is dropped. */
  begin(schemaId: number): void {
    this.pos = this.start;
    this.ensure(HEADER_SIZE);
    this.buf[this.pos] = MAGIC_BYTE;
    this.buf.writeInt32BE(schemaId, this.pos + 1);
    this.pos += HEADER_SIZE;
  }

  /** The record written since begin(), as a view of the arena no later record overwrites. */
  finish(): Buffer {
    const out = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    return out;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    // A new arena, with the record begun so far moved to its start; earlier views keep the old one.
    const next = Buffer.allocUnsafe(Math.max(ARENA_BYTES, 2 * (this.pos - this.start + n)));
    this.buf.copy(next, 0, this.start, this.pos);
    this.pos -= this.start;
    this.start = 0;
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Zig-zag varint of a safe integer (arithmetic, not 32-bit bitwise: event times exceed 2^31). */
  long(n: number): void {
    this.ensure(10);
    if (n >= -0x40000000 && n < 0x40000000) {
      // Fits 31 bits after zig-zag: the bitwise path.
      let z = (n << 1) ^ (n >> 31);
      z >>>= 0;
      while (z > 0x7f) {
        this.buf[this.pos++] = (z & 0x7f) | 0x80;
        z >>>= 7;
      }
      this.buf[this.pos++] = z;
      return;
    }
    let z = n >= 0 ? n * 2 : -n * 2 - 1;
    while (z >= 128) {
      this.buf[this.pos++] = (z % 128) | 0x80;
      z = Math.floor(z / 128);
    }
    this.buf[this.pos++] = z;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  string(s: string): void {
    // Keys are mostly short ASCII (airport codes, ids): written char by char, without the two
    // native calls (length, then write) a UTF-8 string costs. A length below 64 is one varint byte.
    if (s.length < 64) {
      this.ensure(1 + s.length);
      const at = this.pos + 1;
      let i = 0;
      for (; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        this.buf[at + i] = c;
      }
      if (i === s.length) {
        this.buf[this.pos] = s.length << 1;
        this.pos = at + s.length;
        return;
      }
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.long(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }

}

const DIRECT_TYPES: ReadonlySet<string> = new Set(['int64', 'double', 'string', 'boolean', 'list<double>', 'list<string>', 'map<int64>', 'map<double>']);

const isLong = (n: number): boolean => Number.isInteger(n) && n >= -MAX_LONG && n <= MAX_LONG;

export class FeatureRecordEncoder {
  private readonly fallback: WireEncoder;
  private readonly served: ReadonlyArray<{ readonly index: number; readonly column: OutputColumn }>;
  private readonly direct: boolean;
  private readonly w = new AvroWriter();

  constructor(
    readonly output: string,
    private readonly columns: readonly OutputColumn[],
    readonly schemaId: number,
  ) {
    this.fallback = new WireEncoder(featureRecordSchema(output, columns), schemaId);
    this.served = columns.map((column, index) => ({ index, column })).filter((c) => c.column.role !== 'label');
    this.direct = this.served.every((c) => DIRECT_TYPES.has(c.column.type));
  }

  /** The record as avsc sees it (the parity log and the fallback use it). */
  value(head: FeatureVectorHead, values: readonly AggValue[]): Record<string, unknown> {
    const value: Record<string, unknown> = { key: head.key, event_time: head.eventTime, partition: head.partition, offset: head.offset };
    for (const { index, column } of this.served) {
      // Lists and maps are copied so the record shares nothing with the engine's values.
      const v = outputValue(values[index], column);
      value[column.name] = Array.isArray(v) ? [...v] : typeof v === 'object' && v !== null ? { ...v } : v;
    }
    return value;
  }

  encode(head: FeatureVectorHead, values: readonly AggValue[]): EncodeResult {
    const bytes = this.direct ? this.tryDirect(head, values) : undefined;
    return bytes !== undefined ? { bytes } : this.fallback.encode(this.value(head, values));
  }

  /** The framed bytes, or undefined when a value needs avsc's judgement. */
  private tryDirect(head: FeatureVectorHead, values: readonly AggValue[]): Buffer | undefined {
    const w = this.w;
    if (typeof head.key !== 'string' || !isLong(head.eventTime) || !Number.isInteger(head.partition) || head.partition < -2147483648 || head.partition > 2147483647 || !isLong(head.offset)) return undefined;
    w.begin(this.schemaId);
    w.string(head.key);
    w.long(head.eventTime);
    w.long(head.partition);
    w.long(head.offset);
    for (const { index, column } of this.served) {
      const v = values[index];
      if (v === null) {
        w.byte(0);
        continue;
      }
      switch (column.type) {
        case 'int64':
          if (typeof v !== 'number' || !isLong(v)) return undefined;
          w.byte(2);
          w.long(v);
          break;
        case 'double':
          if (typeof v !== 'number') return undefined;
          w.byte(2);
          w.double(v);
          break;
        case 'string':
          if (typeof v !== 'string') return undefined;
          w.byte(2);
          w.string(v);
          break;
        case 'boolean':
          if (v !== 0 && v !== 1) return undefined;
          w.byte(2);
          w.byte(v);
          break;
        case 'list<double>':
        case 'list<string>': {
          // One block of all items, then the empty block that ends an Avro array (avsc writes the same).
          const item = column.type === 'list<double>' ? 'number' : 'string';
          if (!Array.isArray(v) || !v.every((x) => typeof x === item)) return undefined;
          w.byte(2);
          if (v.length > 0) {
            w.long(v.length);
            for (const x of v) {
              if (item === 'number') w.double(x as number);
              else w.string(x as string);
            }
          }
          w.long(0);
          break;
        }
        case 'map<int64>':
        case 'map<double>': {
          // As an array: one block of (key, value) pairs in the object's key order, then the end block.
          if (typeof v !== 'object' || Array.isArray(v)) return undefined;
          const entries = Object.entries(v);
          const longs = column.type === 'map<int64>';
          if (!entries.every(([, x]) => (longs ? isLong(x) : x === null || typeof x === 'number'))) return undefined;
          w.byte(2);
          if (entries.length > 0) {
            w.long(entries.length);
            for (const [k, x] of entries) {
              w.string(k);
              if (longs) w.long(x as number);
              // map<double> values are the union ["null", "double"]: branch 0 or branch 1 and the double.
              else if (x === null) w.byte(0);
              else {
                w.byte(2);
                w.double(x);
              }
            }
          }
          w.long(0);
          break;
        }
        default:
          return undefined;
      }
    }
    return w.finish();
  }
}
