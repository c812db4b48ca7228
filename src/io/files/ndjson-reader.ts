import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import type { InputRecord, SourceValue } from '../../engine/input.js';
import { describeError, fileOpenError } from './file-input-error.js';
import { checkBatchSize, DEFAULT_BATCH_SIZE, type RecordBatches } from './record-batches.js';

export interface NdjsonReadOptions {
  readonly batchSize?: number;
}

/**
 * Reads newline-delimited JSON, one object per line, streaming.
 *
 * Positions: a record's offset is its 0-based index among the non-blank lines, so blank
 * lines (common at the end of hand-edited files) never shift offsets; error messages give
 * the 1-based physical line number, which is what a user opens the file at.
 */
export async function* readNdjsonRecords(path: string, options: NdjsonReadOptions = {}): RecordBatches {
  const batchSize = checkBatchSize(options.batchSize ?? DEFAULT_BATCH_SIZE);
  const handle = await open(path, 'r').catch((err: unknown) => {
    throw fileOpenError(path, err);
  });
  const stream = handle.createReadStream({ highWaterMark: 1 << 20 });
  // StringDecoder keeps a multi-byte UTF-8 character that straddles two chunks intact.
  const decoder = new StringDecoder('utf8');
  let lineNumber = 0;
  let offset = 0;
  let batch: InputRecord[] = [];
  let carry = '';

  const take = (line: string): void => {
    lineNumber++;
    if (lineNumber === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') return;
    batch.push(parseLine(line, lineNumber, offset++));
  };

  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const text = carry + decoder.write(chunk);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        take(text.slice(start, nl));
        start = nl + 1;
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
      carry = text.slice(start);
    }
    carry += decoder.end();
    if (carry !== '') take(carry);
    if (batch.length > 0) yield batch;
  } catch (err) {
    throw fileOpenError(path, err);
  } finally {
    stream.destroy();
    await handle.close().catch(() => undefined);
  }
}

function parseLine(line: string, lineNumber: number, offset: number): InputRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    return { offset, error: `invalid JSON at line ${lineNumber}: ${describeError(err)}`, raw: line };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    const got = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`;
    return { offset, error: `invalid record at line ${lineNumber}: expected a JSON object, got ${got}`, raw: line };
  }
  return { offset, value: parsed as SourceValue };
}
