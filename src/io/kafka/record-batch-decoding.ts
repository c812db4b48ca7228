/**
 * Kafka RecordBatch (magic 2) decoding for fetched, uncompressed batches, into exactly the
 * objects kafkajs' own decoder (protocol/recordBatch/v0/decoder.js) builds. kafkajs parses
 * each record's offset and timestamp through its Long type from decimal strings, twice per
 * record, and allocates a decoder per record: with the Long arithmetic that was about a tenth
 * of a live worker's CPU (bench/live-flights.ts). This decoder does the arithmetic on numbers
 * and takes a batch only when every offset and timestamp in it is a safe integer; anything
 * else (compressed, partial or out-of-range batches) is left to kafkajs' decoder, so
 * behaviour never depends on which path decoded a batch
 * (test/unit/io-record-batch-decoding.test.ts compares the two).
 *
 * Format: https://kafka.apache.org/documentation/#recordbatch
 */

/** kafkajs' context of one batch, shared by its records. */
export interface FetchedBatchContext {
  readonly firstOffset: string;
  readonly firstTimestamp: string;
  readonly partitionLeaderEpoch: number;
  readonly inTransaction: boolean;
  readonly isControlBatch: boolean;
  readonly lastOffsetDelta: number;
  readonly producerId: string;
  readonly producerEpoch: number;
  readonly firstSequence: number;
  readonly maxTimestamp: string;
  readonly timestampType: number;
}

export type FetchedHeaders = Record<string, Buffer | null | Array<Buffer | null>>;

/** One record as kafkajs hands it to its consumer. */
export interface FetchedRecord {
  readonly magicByte: number;
  readonly attributes: number;
  readonly timestamp: string;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: FetchedHeaders;
  readonly isControlRecord: boolean;
  readonly batchContext: FetchedBatchContext & { readonly magicByte: number };
}

export interface FetchedRecordBatch extends FetchedBatchContext {
  readonly records: FetchedRecord[];
}

const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_FLAG_MASK = 0x08;
const TRANSACTIONAL_FLAG_MASK = 0x10;
const CONTROL_FLAG_MASK = 0x20;
/** kafkajs' TimestampTypes. */
const CREATE_TIME = 0;
const LOG_APPEND_TIME = 1;
/** baseOffset(8) + batchLength(4). */
const LOG_OVERHEAD = 12;
/** Bytes from the batch length's end to the first record: epoch(4) magic(1) crc(4) attributes(2) lastOffsetDelta(4) timestamps(16) producer(8+2) sequence(4) count(4). */
const BATCH_HEADER = 49;
const TWO_32 = 4294967296;

/** A signed 64-bit big-endian integer, or undefined when it is not a safe integer. */
function int64(buf: Buffer, at: number): number | undefined {
  const high = buf.readInt32BE(at);
  const low = buf.readUInt32BE(at + 4);
  const n = high * TWO_32 + low;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Decimal text of a signed 64-bit integer, as kafkajs' Long prints it. */
function int64Text(buf: Buffer, at: number): string {
  const n = int64(buf, at);
  return n !== undefined ? String(n) : buf.readBigInt64BE(at).toString();
}

/**
 * A cursor over one batch's records. Varints that do not fit a safe integer make the batch
 * undecodable here (`bad`), never a wrong value.
 */
class Cursor {
  bad = false;
  constructor(
    readonly buf: Buffer,
    public at: number,
  ) {}

  /** Zigzag varint of up to 32 bits, with kafkajs' readVarInt arithmetic. */
  varint(): number {
    const buf = this.buf;
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = buf[this.at++];
      if (b === undefined || shift > 28) {
        this.bad = true;
        return 0;
      }
      result += (b & 0x7f) << shift;
      shift += 7;
    } while (b >= 0x80);
    return (result >>> 1) ^ -(result & 1);
  }

  /** Zigzag varlong as a number; `bad` when beyond the safe range. */
  varlong(): number {
    const buf = this.buf;
    let result = 0;
    let scale = 1;
    let b: number;
    do {
      b = buf[this.at++];
      if (b === undefined || scale > 2 ** 49) {
        this.bad = true;
        return 0;
      }
      result += (b & 0x7f) * scale;
      scale *= 128;
    } while (b >= 0x80);
    if (!Number.isSafeInteger(result)) {
      this.bad = true;
      return 0;
    }
    // Zigzag without 32-bit operators: even → n / 2, odd → -(n + 1) / 2.
    return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
  }

  /** Length-prefixed bytes (a view, as kafkajs' slice gives), null for length -1. */
  bytes(end: number): Buffer | null {
    const n = this.varint();
    if (n === -1) return null;
    if (n < 0 || this.at + n > end) {
      this.bad = true;
      return null;
    }
    const out = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

/**
 * Decode the record batch at `start` of `buf`. Returns the batch and the offset after it, or
 * undefined when kafkajs' decoder must take it (compressed, cut short, or numbers beyond 2^53).
 */
export function decodeFetchedRecordBatch(buf: Buffer, start: number): { batch: FetchedRecordBatch; end: number } | undefined {
  if (buf.length - start < LOG_OVERHEAD + BATCH_HEADER) return undefined;
  const length = buf.readInt32BE(start + 8);
  const end = start + LOG_OVERHEAD + length;
  if (length < BATCH_HEADER || end > buf.length) return undefined;
  const first = int64(buf, start);
  let at = start + LOG_OVERHEAD;
  const partitionLeaderEpoch = buf.readInt32BE(at);
  const magicByte = buf.readInt8(at + 4);
  const attributes = buf.readInt16BE(at + 9);
  if ((attributes & COMPRESSION_MASK) !== 0 || first === undefined) return undefined;
  const lastOffsetDelta = buf.readInt32BE(at + 11);
  const firstTs = int64(buf, at + 15);
  if (firstTs === undefined || !Number.isSafeInteger(first + lastOffsetDelta)) return undefined;
  const maxTimestamp = int64Text(buf, at + 23);
  const producerId = int64Text(buf, at + 31);
  const producerEpoch = buf.readInt16BE(at + 39);
  const firstSequence = buf.readInt32BE(at + 41);
  const count = buf.readInt32BE(at + 45);
  at += BATCH_HEADER;
  const timestampType = (attributes & TIMESTAMP_TYPE_FLAG_MASK) > 0 ? LOG_APPEND_TIME : CREATE_TIME;
  const context: FetchedBatchContext = {
    firstOffset: String(first),
    firstTimestamp: String(firstTs),
    partitionLeaderEpoch,
    inTransaction: (attributes & TRANSACTIONAL_FLAG_MASK) > 0,
    isControlBatch: (attributes & CONTROL_FLAG_MASK) > 0,
    lastOffsetDelta,
    producerId,
    producerEpoch,
    firstSequence,
    maxTimestamp,
    timestampType,
  };
  const batchContext = { ...context, magicByte };
  const records: FetchedRecord[] = [];
  const c = new Cursor(buf, at);
  for (let i = 0; i < count; i++) {
    const size = c.varint();
    const recordEnd = c.at + size;
    // Six bytes is the least a record takes (attributes, then five one-byte varints): a shorter
    // one is malformed, and kafkajs' decoder answers for it as it always did.
    if (c.bad || size < 6 || recordEnd > end) return undefined;
    const recordAttributes = buf.readInt8(c.at++);
    const timestampDelta = c.varlong();
    const offsetDelta = c.varint();
    const key = c.bytes(recordEnd);
    const value = c.bytes(recordEnd);
    const headers: FetchedHeaders = {};
    const headerCount = c.varint();
    for (let h = 0; h < headerCount && !c.bad; h++) {
      const keyLength = c.varint();
      if (keyLength < -1 || c.at + keyLength > recordEnd) return undefined;
      // kafkajs names a header with a null key "null" (an object key of null).
      const name = keyLength === -1 ? 'null' : buf.toString('utf8', c.at, c.at + keyLength);
      // kafkajs makes it an own property; an assignment would set the prototype.
      if (name === '__proto__') return undefined;
      if (keyLength > 0) c.at += keyLength;
      const v = c.bytes(recordEnd);
      const prev = headers[name];
      headers[name] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const ts = firstTs + timestampDelta;
    if (c.bad || c.at > recordEnd || !Number.isSafeInteger(ts)) return undefined;
    c.at = recordEnd;
    records.push({
      magicByte,
      attributes: recordAttributes,
      timestamp: timestampType === LOG_APPEND_TIME && maxTimestamp ? maxTimestamp : String(ts),
      offset: String(first + offsetDelta),
      key,
      value,
      headers,
      isControlRecord: context.isControlBatch,
      batchContext,
    });
  }
  return { batch: { ...context, records }, end };
}
