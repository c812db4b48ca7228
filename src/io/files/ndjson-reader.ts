import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import type { SourceValue } from '../../engine/input.js';
import { describeError, fileOpenError } from './file-input-error.js';
import type { FileRecord } from './file-record.js';
import { checkBatchSize, DEFAULT_BATCH_SIZE, type RecordBatches } from './record-batches.js';
import { recordConformer, type RecordConformer } from './record-conformer.js';

export interface NdjsonReadOptions {
  readonly batchSize?: number;
  /** The source's Avro reader schema: every object is checked and read through it (see record-conformer.ts). */
  readonly readerSchema?: object;
}

const NEWLINE = 0x0a;

/**
 * Reads newline-delimited JSON, one object per line, streaming.
 *
 * Positions: a record's offset is its 0-based index among the non-blank lines, so blank
 * lines (common at the end of hand-edited files) never shift offsets; error messages give
 * the 1-based physical line number, which is what a user opens the file at, and every record
 * carries it (`line`) for its dead letter, with the line's text as `raw`.
 *
 * Text is strict UTF-8: a line with an invalid byte sequence is an error record naming the
 * line and the byte, with the line's bytes as `raw`, never text with U+FFFD in it (two ids
 * that differ only in invalid bytes would otherwise become one key).
 */
export async function* readNdjsonRecords(path: string, options: NdjsonReadOptions = {}): RecordBatches {
  const batchSize = checkBatchSize(options.batchSize ?? DEFAULT_BATCH_SIZE);
  const conformer = options.readerSchema ? recordConformer(options.readerSchema) : undefined;
  const handle = await open(path, 'r').catch((err: unknown) => {
    throw fileOpenError(path, err);
  });
  const stream = handle.createReadStream({ highWaterMark: 1 << 20 });
  let lineNumber = 0;
  let offset = 0;
  let batch: FileRecord[] = [];
  let carry: Buffer = Buffer.alloc(0);

  const take = (line: string): void => {
    lineNumber++;
    if (lineNumber === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') return;
    batch.push(parseLine(line, lineNumber, offset++, conformer));
  };
  /** Lines [start, end) of `bytes`, each ending in a newline except perhaps the last. */
  const takeLines = (bytes: Buffer): void => {
    if (isUtf8(bytes)) {
      // The common case: the whole stretch is valid, decode it at once and split the text.
      const text = bytes.toString('utf8');
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        take(text.slice(start, nl));
        start = nl + 1;
      }
      if (start < text.length) take(text.slice(start));
      return;
    }
    let start = 0;
    while (start < bytes.length) {
      const nl = bytes.indexOf(NEWLINE, start);
      const end = nl === -1 ? bytes.length : nl;
      const line = bytes.subarray(start, end);
      if (isUtf8(line)) take(line.toString('utf8'));
      else {
        lineNumber++;
        const at = firstInvalidUtf8(line);
        batch.push({ offset: offset++, line: lineNumber, error: `invalid UTF-8 at line ${lineNumber}, byte ${at + 1} of the line (0x${line[at].toString(16).padStart(2, '0')})`, raw: Buffer.from(line) });
      }
      start = end + 1;
    }
  };

  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const last = data.lastIndexOf(NEWLINE);
      if (last === -1) {
        carry = data;
        continue;
      }
      // Complete lines only: a line (or a multi-byte character) split across chunks waits for the rest.
      carry = Buffer.from(data.subarray(last + 1));
      takeLines(data.subarray(0, last));
      while (batch.length >= batchSize) {
        const rest = batch.splice(batchSize);
        yield batch;
        batch = rest;
      }
    }
    if (carry.length > 0) takeLines(carry);
    if (batch.length > 0) yield batch;
  } catch (err) {
    throw fileOpenError(path, err);
  } finally {
    stream.destroy();
    await handle.close().catch(() => undefined);
  }
}

/** Bytes a blank line may hold: ASCII whitespace and the parts of a UTF-8 byte-order mark. */
const BLANK = new Set([0x20, 0x09, 0x0d, 0x0b, 0x0c, 0xef, 0xbb, 0xbf]);

/**
 * The number of records readNdjsonRecords yields (its non-blank lines), for a progress total.
 * Exact except for a line holding only non-ASCII whitespace, which the reader skips and this
 * counts; a scan of the bytes, without decoding.
 */
export async function countNdjsonRecords(path: string): Promise<number> {
  const handle = await open(path, 'r').catch((err: unknown) => {
    throw fileOpenError(path, err);
  });
  const stream = handle.createReadStream({ highWaterMark: 1 << 20 });
  let count = 0;
  /** The line in progress (it may span chunks) has a byte that is not blank. */
  let content = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      while (start < chunk.length) {
        const nl = chunk.indexOf(NEWLINE, start);
        const end = nl === -1 ? chunk.length : nl;
        // Almost every line starts with its content, so this stops at the first byte.
        for (let i = start; i < end && !content; i++) if (!BLANK.has(chunk[i])) content = true;
        if (nl === -1) break;
        if (content) count++;
        content = false;
        start = nl + 1;
      }
    }
  } catch (err) {
    throw fileOpenError(path, err);
  } finally {
    stream.destroy();
    await handle.close().catch(() => undefined);
  }
  return content ? count + 1 : count;
}

function parseLine(line: string, lineNumber: number, offset: number, conformer: RecordConformer | undefined): FileRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    return { offset, line: lineNumber, error: `invalid JSON at line ${lineNumber}: ${describeError(err)}`, raw: line };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const got = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    return { offset, line: lineNumber, error: `invalid record at line ${lineNumber}: expected a JSON object, got ${got}`, raw: line };
  }
  if (!conformer) return { offset, line: lineNumber, value: parsed as SourceValue, raw: line };
  const value = conformer.conform(parsed as SourceValue);
  if (value === undefined) {
    return { offset, line: lineNumber, error: `invalid record at line ${lineNumber}: ${conformer.problem(parsed as SourceValue)}`, raw: line };
  }
  return { offset, line: lineNumber, value, raw: line };
}

/** Index of the first byte of `bytes` that breaks UTF-8 (only called when there is one). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const need = b < 0x80 ? 0 : b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    if (need > 0 && !isUtf8(bytes.subarray(i, i + need + 1))) return i;
    i += need + 1;
  }
  return 0;
}
