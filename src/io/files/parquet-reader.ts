import { parquetMetadataAsync, parquetRead, parquetSchema } from 'hyparquet';
import type { AsyncBuffer, DecodedArray, FileMetaData, ParquetParsers } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type { InputRecord, SourceValue } from '../../engine/input.js';
import { FileBytes } from './file-bytes.js';
import { decodeFlatChunk, dictionaryCodesOf, flatChunks, type FlatColumn } from './parquet-flat-decoder.js';
import { describeError, FileInputError } from './file-input-error.js';
import { checkBatchSize, DEFAULT_BATCH_SIZE, type RecordBatches } from './record-batches.js';
import { recordConformer, type RecordConformer } from './record-conformer.js';
import { zstdReady } from './zstd-pages.js';
import { compileRowBuilder, type RowBuilder } from './row-builder.js';

export interface ParquetReadOptions {
  readonly batchSize?: number;
  /**
   * The source's Avro reader schema: rows are built with its fields in its order (columns it
   * does not name are not read, a field without a column takes its default) and every row is
   * checked against it; a row that does not match is an error record naming the field.
   */
  readonly readerSchema?: object;
  /**
   * Read only these columns (those the file has), without a reader schema: rows hold just
   * them. For passes that need a few fields of every row, such as weighing a split by its key.
   */
  readonly columns?: readonly string[];
  /**
   * false: decode every row group with hyparquet, never with the flat-column decoder
   * (parquet-flat-decoder.ts), which is checked against it value for value. Default true.
   */
  readonly flatDecoder?: boolean;
}

/** How rows are built: from which columns, and checked by what. */
interface RowShape {
  readonly names: readonly string[];
  /** Column names to read. */
  readonly read: readonly string[];
  readonly conformer?: RecordConformer;
}

const MAGIC = Buffer.from('PAR1', 'latin1');

/**
 * Time columns become epoch milliseconds (a number), the representation event time has
 * everywhere in skewless. Timestamps without isAdjustedToUTC are taken as UTC wall clock,
 * i.e. their stored value is used as is. Division floors so that pre-1970 instants round
 * towards the past like every other time computation. An out-of-range value is returned as
 * a bigint, which the column pass below turns into an error record.
 */
const PARSERS: Partial<ParquetParsers> = {
  timestampFromMilliseconds: (ms: bigint) => safeNumber(ms),
  timestampFromMicroseconds: (us: bigint) => safeNumber(floorDiv(us, 1_000n)),
  timestampFromNanoseconds: (ns: bigint) => safeNumber(floorDiv(ns, 1_000_000n)),
  dateFromDays: (days: number) => days * 86_400_000,
};

/** Columns of one row group as JS arrays, plus the rows that could not be converted. */
export interface RowGroupColumns {
  readonly arrays: ArrayLike<unknown>[];
  readonly rowErrors: Map<number, string>;
}

/**
 * Reads a Parquet file row group by row group. Each group is decoded column-wise, converted
 * once per column, and only then turned into row objects, one batch at a time, so memory is
 * bounded by a row group and per-cell work is a single array read.
 */
export async function* readParquetRecords(path: string, options: ParquetReadOptions = {}): RecordBatches {
  const batchSize = checkBatchSize(options.batchSize ?? DEFAULT_BATCH_SIZE);
  let buildRow: RowBuilder | undefined;
  for await (const group of readParquetColumns(path, options)) {
    const { rows, groupStart, columns } = group;
    // Every group of a file has the same names: one compiled builder.
    buildRow ??= compileRowBuilder(group.names);
    for (let from = 0; from < rows; from += batchSize) {
      const to = Math.min(rows, from + batchSize);
      // A group that cannot be decoded keeps its row count, so later offsets do not shift.
      yield columns ? buildRecords(buildRow, columns, groupStart, from, to, group.conformer) : errorRecords(group.problem, groupStart, from, to);
    }
  }
}

/** One row group's columns (in `names` order), or why the group cannot be read. */
export interface ParquetColumnGroup {
  readonly names: readonly string[];
  readonly rows: number;
  /** Row index in the file of the group's first row. */
  readonly groupStart: number;
  /** Undefined when the group is damaged: then `problem` says why. */
  readonly columns: RowGroupColumns | undefined;
  readonly problem: string;
  readonly conformer: RecordConformer | undefined;
}

/**
 * A Parquet file's row groups as converted columns, without building a row: for passes that
 * need a column's values rather than records (weighing a split by its key).
 */
export async function* readParquetColumns(path: string, options: ParquetReadOptions = {}): AsyncGenerator<ParquetColumnGroup> {
  await zstdReady();
  const bytes = await FileBytes.open(path);
  try {
    const metadata = await readMetadata(bytes);
    const file: AsyncBuffer = { byteLength: bytes.size, slice: (start, end) => bytes.copy(start, end ?? bytes.size) };
    const present = parquetSchema(metadata).children.map((child) => child.element.name);
    const shape = options.columns === undefined ? rowShape(present, options.readerSchema) : columnsShape(present, options.columns);
    let groupStart = 0;
    for (const [index, group] of metadata.row_groups.entries()) {
      const rows = Number(group.num_rows);
      let columns: RowGroupColumns | undefined;
      let problem = '';
      try {
        columns = (options.flatDecoder === false ? undefined : await readFlatRowGroup(file, metadata, index, shape, groupStart, rows)) ?? (await readRowGroup(file, metadata, shape, groupStart, rows));
      } catch (err) {
        problem = `corrupt Parquet row group #${index} (rows ${groupStart}..${groupStart + rows - 1}): ${describeError(err)}`;
      }
      yield { names: shape.names, rows, groupStart, columns, problem, conformer: shape.conformer };
      groupStart += rows;
    }
  } finally {
    await bytes.close();
  }
}

/**
 * Whether every row group of the file decodes through the flat-column decoder into plain
 * values (numbers, strings, null, the rare bigint), and every schema field the file lacks
 * defaults to such a value: rows of such a file can be shipped to another thread as columns.
 * False for a file that cannot be opened (the reader then reports it).
 */
export async function flatValuesOnly(path: string, options: ParquetReadOptions = {}): Promise<boolean> {
  let bytes: FileBytes;
  try {
    bytes = await FileBytes.open(path);
  } catch {
    return false;
  }
  try {
    const metadata = await readMetadata(bytes);
    const present = parquetSchema(metadata).children.map((child) => child.element.name);
    const shape = options.columns === undefined ? rowShape(present, options.readerSchema) : columnsShape(present, options.columns);
    for (let g = 0; g < metadata.row_groups.length; g++) if (flatChunks(metadata, g, shape.read) === undefined) return false;
    return shape.names.every((name, i) => {
      if (shape.read.includes(name)) return true;
      const d = shape.conformer?.defaultOf(i);
      return d === undefined || d === null || typeof d !== 'object';
    });
  } catch {
    return false;
  } finally {
    await bytes.close();
  }
}

/** The number of rows a Parquet file holds (its footer says), for a progress total. */
export async function countParquetRows(path: string): Promise<number> {
  const bytes = await FileBytes.open(path);
  try {
    return Number((await readMetadata(bytes)).num_rows);
  } finally {
    await bytes.close();
  }
}

async function readMetadata(bytes: FileBytes): Promise<FileMetaData> {
  const head = Buffer.from(await bytes.copy(0, MAGIC.length));
  const tail = Buffer.from(await bytes.copy(Math.max(0, bytes.size - MAGIC.length), bytes.size));
  if (bytes.size < 12 || !head.equals(MAGIC) || !tail.equals(MAGIC)) {
    const problem = head.equals(MAGIC) ? 'truncated Parquet file (no footer magic)' : 'not a Parquet file (bad magic)';
    throw new FileInputError(bytes.path, problem, 'Pass --format or check the path');
  }
  try {
    return await parquetMetadataAsync({ byteLength: bytes.size, slice: (start, end) => bytes.copy(start, end ?? bytes.size) });
  } catch (err) {
    throw new FileInputError(bytes.path, `corrupt Parquet footer: ${describeError(err)}`, 'The file is damaged; re-export it');
  }
}

function rowShape(columns: readonly string[], readerSchema: object | undefined): RowShape {
  if (!readerSchema) return { names: columns, read: columns };
  const conformer = recordConformer(readerSchema);
  return { names: conformer.fields, read: conformer.fields.filter((f) => columns.includes(f)), conformer };
}

function columnsShape(present: readonly string[], wanted: readonly string[]): RowShape {
  const names = present.filter((name) => wanted.includes(name));
  return { names, read: names };
}

/**
 * A row group through the flat-column decoder; undefined when it does not cover one of the
 * columns, or cannot read a page: hyparquet then decodes the group (and reports a damaged one).
 */
async function readFlatRowGroup(file: AsyncBuffer, metadata: FileMetaData, index: number, shape: RowShape, groupStart: number, rows: number): Promise<RowGroupColumns | undefined> {
  const chunks = flatChunks(metadata, index, shape.read);
  if (chunks === undefined) return undefined;
  const decoded = new Map<string, FlatColumn>();
  try {
    for (const chunk of chunks) {
      const column = decodeFlatChunk(new Uint8Array(await file.slice(chunk.start, chunk.end)), chunk, rows);
      if (column === undefined) return undefined;
      decoded.set(chunk.name, column);
    }
  } catch {
    return undefined;
  }
  return groupColumns(shape, groupStart, rows, (name) => decoded.get(name)!);
}

async function readRowGroup(
  file: AsyncBuffer,
  metadata: FileMetaData,
  shape: RowShape,
  groupStart: number,
  rows: number,
): Promise<RowGroupColumns> {
  const chunks = new Map<string, { rowStart: number; data: DecodedArray }[]>();
  await parquetRead({
    file,
    metadata,
    compressors,
    parsers: PARSERS,
    columns: [...shape.read],
    rowStart: groupStart,
    rowEnd: groupStart + rows,
    onChunk: ({ columnName, columnData, rowStart }) => {
      let list = chunks.get(columnName);
      if (!list) chunks.set(columnName, (list = []));
      list.push({ rowStart: rowStart - groupStart, data: columnData });
    },
  });
  return groupColumns(shape, groupStart, rows, (name) => joinChunks(name, chunks.get(name), rows));
}

/** The row group's columns in row order: each read column converted (toJsColumn), each unread schema field its default. */
function groupColumns(shape: RowShape, groupStart: number, rows: number, read: (name: string) => ArrayLike<unknown>): RowGroupColumns {
  const rowErrors = new Map<number, string>();
  const arrays = shape.names.map((name, i) => (shape.read.includes(name) ? toJsColumn(name, read(name), groupStart, rowErrors) : constantColumn(shape.conformer?.defaultOf(i), rows)));
  return { arrays, rowErrors };
}

/** A schema field the file has no column for: its default in every row (undefined, i.e. missing, when it has none). */
function constantColumn(value: unknown, rows: number): unknown[] {
  return new Array<unknown>(rows).fill(value);
}

function joinChunks(name: string, chunks: { rowStart: number; data: DecodedArray }[] | undefined, rows: number): ArrayLike<unknown> {
  if (!chunks || chunks.length === 0) {
    if (rows === 0) return [];
    throw new Error(`column "${name}" has no data`);
  }
  if (chunks.length === 1 && chunks[0].rowStart === 0 && chunks[0].data.length === rows) return chunks[0].data;
  const joined = new Array<unknown>(rows);
  for (const { rowStart, data } of chunks) {
    for (let i = 0; i < data.length && rowStart + i < rows; i++) joined[rowStart + i] = data[i];
  }
  return joined;
}

/**
 * One pass per column: missing values become null, 64-bit integers become numbers (or row
 * errors when they do not fit), nested values are normalized the same way recursively.
 */
function toJsColumn(name: string, data: ArrayLike<unknown>, groupStart: number, rowErrors: Map<number, string>): ArrayLike<unknown> {
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const numbers = new Float64Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const n = safeNumber(data[i]);
      // Rare: redo through the generic path, which keeps the bigint for the dead-letter copy.
      if (typeof n === 'bigint') return toJsColumn(name, Array.from(data), groupStart, rowErrors);
      numbers[i] = n;
    }
    return numbers;
  }
  if (!Array.isArray(data)) return data; // other typed arrays hold plain numbers
  if (dictionaryCodesOf(data) !== undefined) return data; // strings and nulls only
  for (let i = 0; i < data.length; i++) {
    const v: unknown = data[i];
    if (v === undefined) data[i] = null;
    else if (typeof v === 'bigint') {
      const n = safeNumber(v);
      if (typeof n === 'bigint') flagOverflow(rowErrors, name, groupStart, i, n);
      else data[i] = n;
    } else if (v instanceof Uint8Array) {
      // Avro bytes are Buffers (as the Kafka decoder gives them); a view, not a copy.
      if (!Buffer.isBuffer(v)) data[i] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    } else if (typeof v === 'object' && v !== null) {
      const problem = normalizeNested(v);
      if (problem) rowErrors.set(i, `${problem} in column "${name}" at row ${groupStart + i}`);
    }
  }
  return data;
}

function flagOverflow(rowErrors: Map<number, string>, name: string, groupStart: number, i: number, value: bigint): void {
  if (!rowErrors.has(i)) {
    rowErrors.set(i, `INT64 value ${value} in column "${name}" at row ${groupStart + i} is not a safe integer (beyond ±2^53-1)`);
  }
}

/** Rewrites bigint / undefined inside lists, maps and structs in place; returns a problem or ''. */
function normalizeNested(container: object): string {
  const entries = container as Record<string | number, unknown>;
  for (const key of Object.keys(entries)) {
    const v = entries[key];
    if (v === undefined) entries[key] = null;
    else if (typeof v === 'bigint') {
      const n = safeNumber(v);
      if (typeof n === 'bigint') return `INT64 value ${n} is not a safe integer`;
      entries[key] = n;
    } else if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
      const problem = normalizeNested(v);
      if (problem) return problem;
    }
  }
  return '';
}

/** Records [from, to) of a row group: its rows built and checked against the reader schema (error records where they fail). */
export function buildRecords(buildRow: RowBuilder, columns: RowGroupColumns, groupStart: number, from: number, to: number, conformer: RecordConformer | undefined): InputRecord[] {
  const { arrays, rowErrors } = columns;
  const records = new Array<InputRecord>(to - from);
  for (let i = from; i < to; i++) {
    const value = buildRow(arrays, i);
    const offset = groupStart + i;
    let error = rowErrors.size > 0 ? rowErrors.get(i) : undefined;
    if (error === undefined && conformer && !conformer.check(value)) error = `row ${offset} does not match the schema: ${conformer.problem(value)}`;
    records[i - from] = error === undefined ? { offset, value: value as SourceValue } : { offset, error, raw: jsonWithBigints(value) };
  }
  return records;
}

/** Records [from, to) of a row group that cannot be read, each carrying why. */
export function errorRecords(error: string, groupStart: number, from: number, to: number): InputRecord[] {
  const records = new Array<InputRecord>(to - from);
  for (let i = from; i < to; i++) records[i - from] = { offset: groupStart + i, error };
  return records;
}

function jsonWithBigints(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/**
 * The number for a 64-bit integer, or the bigint itself when no number holds it exactly.
 * Number() rounds monotonically and 2^53 is representable, so any bigint beyond ±(2^53-1)
 * converts to a non-safe number: checking the result is exact and cheaper than comparing bigints.
 */
function safeNumber(value: bigint): number | bigint {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a < 0n && q * b !== a ? q - 1n : q;
}
