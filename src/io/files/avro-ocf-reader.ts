import avsc from 'avsc';
import type { InputRecord, SourceValue } from '../../engine/input.js';
import { AVRO_CODECS, AVRO_PARTIAL_CODECS, type AvroBlockCodec } from './avro-codecs.js';
import { strictUtf8Type } from '../avro/avro-strict-strings.js';
import { PlainValueDecoder } from '../avro/plain-record-reader.js';
import { FileBytes } from './file-bytes.js';
import { describeError, FileInputError } from './file-input-error.js';
import { checkBatchSize, DEFAULT_BATCH_SIZE, type RecordBatches } from './record-batches.js';

export interface AvroReadOptions {
  readonly batchSize?: number;
  /**
   * The topology's reader schema. Files written with another (compatible) writer schema are
   * resolved through it by Avro's schema-resolution rules, e.g. added fields get defaults.
   */
  readonly readerSchema?: object;
}

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]); // "Obj\x01"
const SYNC_SIZE = 16;
// A block header is two zig-zag longs of at most 10 bytes each.
const BLOCK_HEADER_MAX = 20;

interface OcfHeader {
  readonly writerSchema: unknown;
  readonly codecName: string;
  readonly sync: Buffer;
  /** Byte position of the first block. */
  readonly end: number;
}

/** How records are decoded: avsc types built once per file. */
interface Decoding {
  /** Plain objects, as the Kafka decoder gives them: directly, or through a resolver into the reader schema. */
  readonly decoder: PlainValueDecoder;
  readonly writerSchema: unknown;
  /** Built on first need: finds the end of a record the normal decoder rejected. */
  skipper?: avsc.Type;
}

/**
 * Reads an Avro object container file block by block. Damage is contained: a record that
 * cannot be decoded becomes an error record, a block whose framing is broken becomes one
 * error record and reading resumes at the next sync marker, so a corrupt archive never
 * crashes a replay. Only an unreadable header (or an unknown codec) fails the whole file.
 */
export async function* readAvroRecords(path: string, options: AvroReadOptions = {}): RecordBatches {
  const batchSize = checkBatchSize(options.batchSize ?? DEFAULT_BATCH_SIZE);
  const bytes = await FileBytes.open(path);
  try {
    const header = await readHeader(bytes);
    const codec = AVRO_CODECS[header.codecName];
    if (!codec) {
      throw new FileInputError(
        path,
        `unsupported Avro codec "${header.codecName}" (supported: ${Object.keys(AVRO_CODECS).join(', ')})`,
        'Rewrite the archive with one of the supported codecs',
      );
    }
    const decoding = createDecoding(path, header.writerSchema, options.readerSchema);

    let batch: InputRecord[] = [];
    let offset = 0;
    const push = (record: Omit<InputRecord, 'offset'>): void => {
      batch.push({ offset: offset++, ...record });
    };

    let pos = header.end;
    for (let block = 0; pos < bytes.size; block++) {
      const framed = await readBlock(bytes, pos, header.sync);
      if ('problem' in framed) {
        // Reading resumes after the next sync marker; the records the damaged stretch declared
        // become error records (one per record when the count is plausible), so none is lost silently.
        const after = framed.after === undefined ? undefined : await readBlock(bytes, framed.after, header.sync);
        if (after !== undefined && !('problem' in after)) {
          // Only this block's marker or body is damaged: the next block frames cleanly, resume there.
          pushLost(push, framed.declared, `corrupt Avro block #${block} at byte ${pos}: ${framed.problem}; the next block at byte ${framed.after} reads normally`, framed.body);
          pos = framed.after!;
          continue;
        }
        const next = await bytes.indexOf(header.sync, pos);
        if (next === -1 && framed.cut) {
          // The file ends inside this block: read what it holds up to the cut.
          salvageCutBlock(framed.cut, block, pos, bytes.size, header.codecName, decoding, push);
          pos = bytes.size;
        } else {
          const end = next === -1 ? bytes.size : next;
          const skipped = next === -1 ? `the rest of the file (${end - pos} bytes) was skipped` : `${end - pos} bytes skipped to the next sync marker at byte ${next}`;
          pushLost(push, framed.declared, `corrupt Avro block #${block} at byte ${pos}: ${framed.problem}; ${skipped}`);
          pos = next === -1 ? bytes.size : next + SYNC_SIZE;
        }
      } else {
        decodeBlock(framed, block, pos, codec, decoding, push);
        pos = framed.next;
      }
      // A block can hold more records than a batch: hand them out in batch-sized pieces.
      while (batch.length >= batchSize) {
        const rest = batch.splice(batchSize);
        yield batch;
        batch = rest;
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    await bytes.close();
  }
}

/**
 * The number of records an Avro object container file declares, for a progress total: the
 * block headers are read and the bodies skipped. Counting stops at the first damaged block
 * (the reader then salvages what it can, so the count is a lower bound there).
 */
export async function countAvroRecords(path: string): Promise<number> {
  const bytes = await FileBytes.open(path);
  try {
    const header = await readHeader(bytes);
    let count = 0;
    for (let pos = header.end; pos < bytes.size; ) {
      const head = await bytes.read(pos, BLOCK_HEADER_MAX);
      const records = readLong(head, 0);
      const size = records && readLong(head, records.next);
      if (!records || !size || records.value < 0 || size.value < 0) break;
      count += records.value;
      pos += size.next + size.value + SYNC_SIZE;
    }
    return count;
  } finally {
    await bytes.close();
  }
}

function createDecoding(path: string, writerSchema: unknown, readerSchema: object | undefined): Decoding {
  let writerType: avsc.Type;
  try {
    writerType = strictUtf8Type(writerSchema);
  } catch (err) {
    throw new FileInputError(path, `invalid writer schema in the file header: ${describeError(err)}`, 'The file is damaged or not written by an Avro writer');
  }
  if (!readerSchema) return { decoder: new PlainValueDecoder(requireRecord(path, writerType, 'writer')), writerSchema };
  let readerType: avsc.Type;
  try {
    // avroReaderType's construction (shared with the Kafka decoder, so archived and live records
    // become the same JS values), with strict UTF-8 strings.
    readerType = strictUtf8Type(readerSchema);
  } catch (err) {
    throw new FileInputError(path, `invalid reader schema: ${describeError(err)}`, "Fix the source's .avsc schema");
  }
  requireRecord(path, readerType, 'reader');
  // Same canonical form: identical binary layout, read directly (as the Kafka decoder does).
  if (readerType.equals(writerType)) return { decoder: new PlainValueDecoder(readerType), writerSchema };
  try {
    return { decoder: new PlainValueDecoder(readerType, readerType.createResolver(writerType)), writerSchema };
  } catch (err) {
    throw new FileInputError(
      path,
      `the file's writer schema cannot be read with the reader schema: ${describeError(err)}`,
      'Run `skewless schemas check` and make the reader schema compatible (e.g. give new fields defaults)',
    );
  }
}

/** Source values are objects, so an archive of bare strings or numbers is not a source. */
function requireRecord(path: string, type: avsc.Type, which: string): avsc.Type {
  if (type.typeName !== 'record') {
    throw new FileInputError(path, `the ${which} schema is a ${type.typeName}, not a record`, 'Source archives must hold Avro records');
  }
  return type;
}

interface FramedBlock {
  readonly count: number;
  readonly body: Buffer;
  /** Position after the block's sync marker. */
  readonly next: number;
}

/** A block whose framing is broken: why, and what its header declared when it could be read. */
interface BrokenBlock {
  readonly problem: string;
  /** The record count the header declares, when it is plausible. */
  readonly declared?: number;
  /** The file ends inside the block: its declared count and size, and the body bytes up to the end. */
  readonly cut?: { readonly count: number; readonly size: number; readonly body: Buffer };
  /** Sync marker mismatch: where the next block would start if only this one is damaged, and this block's body. */
  readonly after?: number;
  readonly body?: Buffer;
}

async function readBlock(bytes: FileBytes, pos: number, sync: Buffer): Promise<FramedBlock | BrokenBlock> {
  const head = await bytes.read(pos, BLOCK_HEADER_MAX);
  const count = readLong(head, 0);
  const size = count && readLong(head, count.next);
  if (!count || !size) return { problem: 'truncated block header' };
  if (count.value < 0 || size.value < 0) return { problem: `negative block count or size (${count.value}, ${size.value})` };
  // A record takes at least one byte (a source record has fields), so a larger count is noise.
  const declared = count.value <= Math.max(size.value, 1) ? count.value : undefined;
  const bodyStart = pos + size.next;
  if (bodyStart + size.value + SYNC_SIZE > bytes.size) {
    const body = Buffer.from(await bytes.read(bodyStart, bytes.size - bodyStart));
    return {
      problem: `block of ${size.value} bytes runs past the end of the file (truncated file?)`,
      declared,
      cut: declared === undefined ? undefined : { count: declared, size: size.value, body },
    };
  }
  const framed = await bytes.read(bodyStart, size.value + SYNC_SIZE);
  if (!framed.subarray(size.value).equals(sync)) {
    return { problem: 'sync marker mismatch', declared, after: bodyStart + size.value + SYNC_SIZE, body: Buffer.from(framed.subarray(0, size.value)) };
  }
  return { count: count.value, body: framed.subarray(0, size.value), next: bodyStart + size.value + SYNC_SIZE };
}

type Push = (record: Omit<InputRecord, 'offset'>) => void;

/**
 * Error records for the records a damaged stretch held: one per declared record, so the
 * dead-letter count is the number of records lost, or one when the count cannot be trusted.
 */
function pushLost(push: Push, declared: number | undefined, reason: string, raw?: Buffer): void {
  const lost = declared ?? 1;
  const error = declared === undefined ? `${reason}; its record count is unreadable` : `${reason}; the ${lost} record(s) it declares are lost`;
  for (let i = 0; i < lost; i++) push(i === 0 && raw ? { error, raw } : { error });
}

/**
 * The last block of a truncated file: decode its records up to the cut (null and deflate
 * blocks can be read partially), and one error record for each record the cut lost.
 */
function salvageCutBlock(
  cut: NonNullable<BrokenBlock['cut']>,
  index: number,
  pos: number,
  fileSize: number,
  codecName: string,
  decoding: Decoding,
  push: Push,
): void {
  let data: Buffer | undefined;
  try {
    data = AVRO_PARTIAL_CODECS[codecName]?.(cut.body);
  } catch {
    data = undefined;
  }
  let recovered = 0;
  let p = 0;
  while (data && recovered < cut.count) {
    let value: unknown;
    try {
      value = decoding.decoder.decode(data, p);
    } catch {
      break;
    }
    if (decoding.decoder.end < 0) break;
    push({ value: value as SourceValue });
    p = decoding.decoder.end;
    recovered++;
  }
  const reason =
    `truncated Avro file: block #${index} at byte ${pos} declares ${cut.count} records in ${cut.size} bytes but the file ends after ${cut.body.length} of them (byte ${fileSize}); ` +
    `${recovered} records before the cut were read, records ${recovered}..${cut.count - 1} of the block are lost`;
  const lost = cut.count - recovered;
  for (let i = 0; i < lost; i++) push(i === 0 ? { error: reason, raw: Buffer.from(data ? data.subarray(p) : cut.body) } : { error: reason });
}

function decodeBlock(
  block: FramedBlock,
  index: number,
  pos: number,
  codec: AvroBlockCodec,
  decoding: Decoding,
  push: Push,
): void {
  const where = `Avro block #${index} at byte ${pos}`;
  let data: Buffer;
  try {
    data = codec(block.body);
  } catch (err) {
    // The count is trustworthy (the sync marker matched), so every lost record keeps its offset.
    const error = `corrupt ${where}: cannot decompress: ${describeError(err)}`;
    for (let i = 0; i < block.count; i++) push(i === 0 ? { error, raw: Buffer.from(block.body) } : { error });
    return;
  }

  let p = 0;
  for (let i = 0; i < block.count; i++) {
    let problem: string;
    try {
      const value = decoding.decoder.decode(data, p);
      if (decoding.decoder.end >= 0) {
        push({ value: value as SourceValue });
        p = decoding.decoder.end;
        continue;
      }
      problem = 'block ends in the middle of a record';
    } catch (err) {
      problem = describeError(err);
      const end = recordEnd(decoding, data, p);
      if (end > p) {
        push({ error: `undecodable record ${i} of ${block.count} in ${where}: ${problem}`, raw: Buffer.from(data.subarray(p, end)) });
        p = end;
        continue;
      }
    }
    // Record boundaries are lost from here on: the remaining records of the block are errors.
    for (let j = i; j < block.count; j++) {
      const error = `corrupt record ${j} of ${block.count} in ${where}: ${problem}`;
      push(j === i ? { error, raw: Buffer.from(data.subarray(p)) } : { error });
    }
    return;
  }
}

/**
 * End of the record starting at `pos`, decoded with a writer-schema type whose longs are
 * never range-checked (a long beyond 2^53 is a bad value, not lost framing), or -1.
 */
function recordEnd(decoding: Decoding, data: Buffer, pos: number): number {
  decoding.skipper ??= avsc.Type.forSchema(decoding.writerSchema as avsc.Schema, {
    typeHook: (schema) => (isLongSchema(schema) ? uncheckedLong : undefined),
  });
  try {
    return decoding.skipper.decode(data, pos).offset;
  } catch {
    return -1;
  }
}

function isLongSchema(schema: unknown): boolean {
  return schema === 'long' || (typeof schema === 'object' && schema !== null && (schema as { type?: unknown }).type === 'long');
}

const uncheckedLong = avsc.types.LongType.__with(
  {
    fromBuffer: () => 0,
    toBuffer: () => Buffer.alloc(8),
    fromJSON: Number,
    toJSON: Number,
    isValid: () => true,
    compare: () => 0,
  },
  true,
);

async function readHeader(bytes: FileBytes): Promise<OcfHeader> {
  const magic = await bytes.read(0, MAGIC.length);
  if (!magic.equals(MAGIC)) {
    throw new FileInputError(bytes.path, 'not an Avro object container file (bad magic)', 'Pass --format or check the path');
  }
  // The header holds the schema, which can be large: parse with a growing prefix of the file.
  for (let length = 64 * 1024; ; length *= 4) {
    const prefix = await bytes.read(0, length);
    const header = parseHeader(prefix);
    if (header === 'truncated') {
      if (prefix.length < length) {
        throw new FileInputError(bytes.path, 'truncated Avro header', 'The file is damaged; re-export it');
      }
      continue;
    }
    if (typeof header === 'string') {
      throw new FileInputError(bytes.path, `invalid Avro header: ${header}`, 'The file is damaged; re-export it');
    }
    return header;
  }
}

function parseHeader(buf: Buffer): OcfHeader | 'truncated' | string {
  const meta = new Map<string, Buffer>();
  let pos = MAGIC.length;
  for (;;) {
    const count = readLong(buf, pos);
    if (!count) return 'truncated';
    pos = count.next;
    if (count.value === 0) break;
    let entries = count.value;
    if (entries < 0) {
      // A negative count is followed by the block's byte size, which we do not need.
      const size = readLong(buf, pos);
      if (!size) return 'truncated';
      pos = size.next;
      entries = -entries;
    }
    for (let i = 0; i < entries; i++) {
      const key = readBytes(buf, pos);
      if (!key) return 'truncated';
      const value = readBytes(buf, key.next);
      if (!value) return 'truncated';
      meta.set(key.value.toString('utf8'), value.value);
      pos = value.next;
    }
  }
  if (pos + SYNC_SIZE > buf.length) return 'truncated';
  const schemaBytes = meta.get('avro.schema');
  if (!schemaBytes) return 'no avro.schema entry';
  let writerSchema: unknown;
  try {
    writerSchema = JSON.parse(schemaBytes.toString('utf8'));
  } catch (err) {
    return `avro.schema is not JSON: ${describeError(err)}`;
  }
  return {
    writerSchema,
    codecName: meta.get('avro.codec')?.toString('utf8') || 'null',
    sync: Buffer.from(buf.subarray(pos, pos + SYNC_SIZE)),
    end: pos + SYNC_SIZE,
  };
}

interface Read<T> {
  readonly value: T;
  readonly next: number;
}

/** An Avro zig-zag varint long, or undefined when the buffer ends first or it is malformed. */
function readLong(buf: Buffer, pos: number): Read<number> | undefined {
  let n = 0;
  let scale = 1;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    const b = buf[i];
    n += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) {
      // Float arithmetic, as in avsc: exact up to 2^53, which bounds any real count or size.
      return { value: n % 2 === 0 ? n / 2 : -(n + 1) / 2, next: i + 1 };
    }
  }
  return undefined;
}

function readBytes(buf: Buffer, pos: number): Read<Buffer> | undefined {
  const length = readLong(buf, pos);
  if (!length || length.value < 0 || length.next + length.value > buf.length) return undefined;
  return { value: buf.subarray(length.next, length.next + length.value), next: length.next + length.value };
}
