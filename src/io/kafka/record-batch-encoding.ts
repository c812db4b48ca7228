/**
 * Kafka RecordBatch (magic 2) encoding into one buffer per partition: sizes first, then a
 * single allocation and straight writes. kafkajs' own encoder allocates a 512-byte buffer per
 * record and per header and a Buffer per varint, which made producing the feature vectors
 * most of live mode's CPU time (see bench/live-flights.ts); this encoder writes the same
 * bytes (test/unit/io-record-batch-encoding.test.ts compares them with kafkajs' encoder).
 *
 * Format: https://kafka.apache.org/documentation/#recordbatch
 */
import { createRequire } from 'node:module';

/** One record as kafkajs' producer hands it to the protocol layer. */
export interface BatchRecordInput {
  readonly key?: Buffer | string | null;
  readonly value: Buffer | string | null;
  /** Header values: bytes or UTF-8 text; an array gives the key several headers, in order. */
  readonly headers?: Readonly<Record<string, Buffer | string | null | ReadonlyArray<Buffer | string>>>;
  /** Milliseconds since the epoch, as a number or a decimal string; `now` when absent. */
  readonly timestamp?: number | string | null;
}

export interface RecordBatchOptions {
  /** Idempotent producer id (-1 when not idempotent). */
  readonly producerId: bigint;
  readonly producerEpoch: number;
  /** Sequence number of the batch's first record (idempotence). */
  readonly firstSequence: number;
  readonly transactional: boolean;
  /** Timestamp given to records without one (kafkajs uses its clock, Date.now()). */
  readonly now: number;
}

const MAGIC = 2;
const TRANSACTIONAL_ATTRIBUTE = 0x10;
/** baseOffset(8) + batchLength(4): the part the batch length does not count. */
const LOG_OVERHEAD = 12;
/** partitionLeaderEpoch(4) magic(1) crc(4) attributes(2) lastOffsetDelta(4) firstTimestamp(8) maxTimestamp(8) producerId(8) producerEpoch(2) baseSequence(4) count(4). */
const BATCH_HEADER = 49;
/** Offset of the attributes field, where the CRC-covered part begins. */
const CRC_START = LOG_OVERHEAD + 4 + 1 + 4;

const zigzag32 = (n: number): number => ((n << 1) ^ (n >> 31)) >>> 0;

function uvarintSize(u: number): number {
  let n = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    n++;
  }
  return n;
}

const varintSize = (n: number): number => uvarintSize(zigzag32(n));

/** Zig-zag for 64-bit values that fit a double exactly (|n| < 2^52, any real timestamp delta). */
const zigzag64 = (n: number): number => (n >= 0 ? 2 * n : -2 * n - 1);

function writeUvarint(buf: Buffer, pos: number, u: number): number {
  while (u >= 0x80) {
    buf[pos++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  buf[pos++] = u;
  return pos;
}

/** Below this length a string key is measured and written char by char when it is ASCII. */
const SHORT = 64;

function byteLength(v: Buffer | string): number {
  if (typeof v !== 'string') return v.length;
  if (v.length < SHORT) {
    let i = 0;
    while (i < v.length && v.charCodeAt(i) < 0x80) i++;
    if (i === v.length) return i;
  }
  return Buffer.byteLength(v, 'utf8');
}

function writeBytes(buf: Buffer, pos: number, v: Buffer | string, len: number): number {
  if (typeof v !== 'string') v.copy(buf, pos);
  // Byte length equal to the char count: ASCII (any other char takes two bytes or more).
  else if (len === v.length && len < SHORT) for (let i = 0; i < len; i++) buf[pos + i] = v.charCodeAt(i);
  else buf.write(v, pos, len, 'utf8');
  return pos + len;
}

/** A record's headers as they appear on the wire: the count, then each key and value. */
function encodeHeaderBlock(headers: BatchRecordInput['headers']): Buffer {
  const entries: Array<readonly [Buffer, Buffer | null]> = [];
  if (headers) {
    for (const key of Object.keys(headers)) {
      const v = headers[key];
      const values: ReadonlyArray<Buffer | string | null> = Array.isArray(v) ? (v as ReadonlyArray<Buffer | string>) : [v as Buffer | string | null];
      for (const value of values) entries.push([Buffer.from(key, 'utf8'), value === null ? null : typeof value === 'string' ? Buffer.from(value, 'utf8') : value]);
    }
  }
  let size = varintSize(entries.length);
  for (const [k, v] of entries) size += varintSize(k.length) + k.length + varintSize(v === null ? -1 : v.length) + (v?.length ?? 0);
  const block = Buffer.allocUnsafe(size);
  let pos = writeUvarint(block, 0, zigzag32(entries.length));
  for (const [k, v] of entries) {
    pos = writeUvarint(block, pos, zigzag32(k.length));
    pos += k.copy(block, pos);
    pos = writeUvarint(block, pos, zigzag32(v === null ? -1 : v.length));
    if (v !== null) pos += v.copy(block, pos);
  }
  return block;
}

const NO_HEADERS = encodeHeaderBlock(undefined);
/**
 * Encoded blocks of frozen header objects: outputs share one frozen object per topology (its
 * version), so each is encoded once instead of once per record. Only frozen objects are kept:
 * a mutable one could change after its block was cached.
 */
const sharedHeaderBlocks = new WeakMap<object, Buffer>();

function headerBlock(headers: BatchRecordInput['headers']): Buffer {
  if (headers === undefined) return NO_HEADERS;
  if (!Object.isFrozen(headers)) return encodeHeaderBlock(headers);
  let block = sharedHeaderBlocks.get(headers);
  if (block === undefined) sharedHeaderBlocks.set(headers, (block = encodeHeaderBlock(headers)));
  return block;
}

const timestampOf = (r: BatchRecordInput, now: number): number => (r.timestamp === undefined || r.timestamp === null || r.timestamp === '' ? now : Number(r.timestamp));

/**
 * The encoded batch, from baseOffset (0; the broker assigns offsets) to the last record.
 * firstTimestamp / maxTimestamp are the smallest and largest record timestamp.
 */
export function encodeRecordBatch(records: readonly BatchRecordInput[], opts: RecordBatchOptions): Buffer {
  const n = records.length;
  if (n === 0) throw new Error('a record batch needs at least one record');
  const timestamps = new Float64Array(n);
  let first = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const t = timestampOf(records[i], opts.now);
    if (!Number.isSafeInteger(t)) throw new Error(`record ${i}: timestamp ${String(records[i].timestamp)} is not an integer number of milliseconds`);
    timestamps[i] = t;
    if (t < first) first = t;
    if (t > max) max = t;
  }

  // Pass 1: sizes.
  const bodySizes = new Array<number>(n);
  const headerBlocks = new Array<Buffer>(n);
  const keyLens = new Int32Array(n);
  const valueLens = new Int32Array(n);
  let total = LOG_OVERHEAD + BATCH_HEADER;
  for (let i = 0; i < n; i++) {
    const r = records[i];
    const key = r.key ?? null;
    const keyLen = key === null ? -1 : byteLength(key);
    const valueLen = r.value === null ? -1 : byteLength(r.value);
    const headers = headerBlock(r.headers);
    let size = 1 + uvarintSize(zigzag64(timestamps[i] - first)) + varintSize(i);
    size += varintSize(keyLen) + Math.max(keyLen, 0) + varintSize(valueLen) + Math.max(valueLen, 0);
    size += headers.length;
    bodySizes[i] = size;
    headerBlocks[i] = headers;
    keyLens[i] = keyLen;
    valueLens[i] = valueLen;
    total += varintSize(size) + size;
  }

  // Pass 2: one allocation (unpooled contents are all overwritten), straight writes.
  const buf = Buffer.allocUnsafe(total);
  buf.writeBigInt64BE(0n, 0);
  buf.writeInt32BE(total - LOG_OVERHEAD, 8);
  buf.writeInt32BE(0, 12); // partition leader epoch: set by the broker
  buf.writeInt8(MAGIC, 16);
  // crc at 17..20, written last
  buf.writeInt16BE(opts.transactional ? TRANSACTIONAL_ATTRIBUTE : 0, 21);
  buf.writeInt32BE(n - 1, 23);
  buf.writeBigInt64BE(BigInt(first), 27);
  buf.writeBigInt64BE(BigInt(max), 35);
  buf.writeBigInt64BE(BigInt.asIntN(64, opts.producerId), 43);
  buf.writeInt16BE(opts.producerEpoch, 51);
  buf.writeInt32BE(opts.firstSequence, 53);
  buf.writeInt32BE(n, 57);
  let pos = LOG_OVERHEAD + BATCH_HEADER;
  for (let i = 0; i < n; i++) {
    const r = records[i];
    pos = writeUvarint(buf, pos, zigzag32(bodySizes[i]));
    buf[pos++] = 0; // record attributes: none defined
    pos = writeUvarint(buf, pos, zigzag64(timestamps[i] - first));
    pos = writeUvarint(buf, pos, zigzag32(i));
    pos = writeUvarint(buf, pos, zigzag32(keyLens[i]));
    if (keyLens[i] >= 0) pos = writeBytes(buf, pos, r.key as Buffer | string, keyLens[i]);
    pos = writeUvarint(buf, pos, zigzag32(valueLens[i]));
    if (valueLens[i] >= 0) pos = writeBytes(buf, pos, r.value as Buffer | string, valueLens[i]);
    pos += headerBlocks[i].copy(buf, pos);
  }
  if (pos !== total) throw new Error(`record batch encoding wrote ${pos} of ${total} bytes`);
  buf.writeUInt32BE(batchCrc(buf.subarray(CRC_START, total)), 17);
  return buf;
}

/**
 * CRC-32C with the CPU's instruction where @node-rs/crc32's prebuilt binary loads (about ten
 * times the table code below, which was 4 % of a live worker's CPU), the table code otherwise.
 */
function loadNativeCrc(): ((b: Buffer) => number) | undefined {
  try {
    const native = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c(b: Buffer): number };
    if (native.crc32c(Buffer.from('123456789')) >>> 0 === 0xe3069283) return (b) => native.crc32c(b) >>> 0;
  } catch {
    // No binary for this platform: the table code is correct, only slower.
  }
  return undefined;
}
const nativeCrc = loadNativeCrc();
const batchCrc: (b: Buffer) => number = nativeCrc ?? ((b) => crc32c(b));

/** Whether record batches are checksummed by the native CRC-32C. */
export const nativeBatchCrc = nativeCrc !== undefined;

/** CRC-32C (Castagnoli, reflected 0x82F63B78), slice-by-8 tables: the portable fallback. */
const CRC_TABLES: Uint32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    tables[0][i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) for (let t = 1; t < 8; t++) tables[t][i] = (tables[t - 1][i] >>> 8) ^ tables[0][tables[t - 1][i] & 0xff];
  return tables;
})();

/** CRC-32C of buf[start, end). */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC_TABLES;
  let crc = 0xffffffff;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    crc ^= buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    crc =
      t7[crc & 0xff] ^
      t6[(crc >>> 8) & 0xff] ^
      t5[(crc >>> 16) & 0xff] ^
      t4[crc >>> 24] ^
      t3[buf[i + 4]] ^
      t2[buf[i + 5]] ^
      t1[buf[i + 6]] ^
      t0[buf[i + 7]];
  }
  for (; i < end; i++) crc = t0[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
