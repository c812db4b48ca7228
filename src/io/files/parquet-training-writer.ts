import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { NullableNumbers, plainValues, type ColumnValues } from './nullable-numbers.js';
import { ByteBuf } from './parquet-encoding.js';
import { writeFileMetaData, type RowGroupMeta } from './parquet-thrift.js';
import { EncodeContext, createColumnBuffer, schemaElements, type ColumnSpec } from './training-columns.js';
import { writeFailureText } from '../../state/storage-problem.js';

export type { ColumnSpec, ColumnType } from './training-columns.js';

export interface TrainingWriterOptions {
  readonly path: string;
  readonly columns: readonly ColumnSpec[];
  /** Rows per row group (default 131072). Every group but the last has exactly this many. */
  readonly rowGroupSize?: number;
  /** Key-value metadata computed at close (e.g. input ranges, known only at the end). */
  readonly metadata?: () => Record<string, string>;
}

export interface TrainingFileSummary {
  readonly path: string;
  readonly rows: number;
  readonly rowGroups: number;
  readonly bytes: number;
}

export interface TrainingWriter {
  /**
   * Appends `rowCount` rows given column-wise. Every spec column must be present, except
   * nullable ones, which are null when absent; names outside the spec are an error.
   * Values: string → string; int32/int64 → integer number (int64 also bigint);
   * double → number; boolean → boolean; timestamp-ms → epoch milliseconds (number, bigint
   * or Date). null/undefined → null (nullable columns only).
   */
  appendColumns(columns: Readonly<Record<string, ColumnValues>>, rowCount: number): void;
  /** Appends one row; keys outside the column spec are ignored. */
  appendRow(row: Readonly<Record<string, unknown>>): void;
  /** Writes the last row group and the footer with `kv` (over `metadata()`), then publishes the file. */
  close(kv?: Readonly<Record<string, string>>): TrainingFileSummary;
  /** Discards everything written; the target path is left untouched. */
  abort(): void;
  readonly rowsWritten: number;
}

const DEFAULT_ROW_GROUP_SIZE = 131072;

/**
 * A training file could not be written: one line naming the file, what went wrong and, when the
 * machine is at fault (a full disk), what to do. The writer has removed its partial file.
 */
export class TrainingWriteError extends Error {
  constructor(
    readonly path: string,
    err: unknown,
  ) {
    super(writeFailureText(`training file ${path}`, err, 'then run the replay again (nothing was published for this file)'));
    this.name = 'TrainingWriteError';
  }
}

/**
 * Streams training rows into a Parquet file, one row group at a time. Pages are encoded here
 * from typed arrays (see training-columns.ts): one uncompressed v1 data page per column chunk,
 * definition levels for nullable columns, dictionary encoding where values repeat (keys,
 * versions, categorical features), DELTA_BINARY_PACKED for other int64 columns (offsets,
 * times) and PLAIN for the rest. Uncompressed because a JavaScript compressor costs more CPU
 * than all the encoding, and the encodings already shrink what compresses well.
 *
 * The data goes to a hidden `.<name>.partial` file next to the target and is renamed over it
 * only after the footer is written and synced, so a crashed run never leaves a file that
 * looks complete. File I/O is synchronous: this is a batch sink, and a row group is encoded
 * in one go anyway. Output bytes depend only on the rows, spec and metadata (no clock), and
 * row groups are cut at fixed row counts whatever the caller's append sizes.
 */
export function createTrainingWriter(options: TrainingWriterOptions): TrainingWriter {
  const columns = checkColumns(options.columns);
  const rowGroupSize = options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE;
  if (!Number.isInteger(rowGroupSize) || rowGroupSize < 1) {
    throw new RangeError(`rowGroupSize must be a positive integer, got ${rowGroupSize}`);
  }

  const target = options.path;
  const partial = join(dirname(target), `.${basename(target)}.partial`);
  let fd: number;
  try {
    mkdirSync(dirname(target), { recursive: true });
    fd = openSync(partial, 'w');
  } catch (err) {
    throw new TrainingWriteError(target, err);
  }
  let fileOffset = 0;
  const writeOut = (bytes: Uint8Array): void => {
    try {
      for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written);
    } catch (err) {
      throw new TrainingWriteError(target, err);
    }
    fileOffset += bytes.length;
  };
  const rowGroupMetas: RowGroupMeta[] = [];

  const buffers = columns.map((spec) => createColumnBuffer(spec, rowGroupSize));
  let buffered = 0;
  let rowsWritten = 0;
  let state: 'open' | 'closed' | 'failed' = 'open';

  const ensureOpen = (): void => {
    if (state !== 'open') throw new Error(`skewless: training writer for ${target} is ${state}`);
  };

  try {
    writeOut(MAGIC);
  } catch (err) {
    state = 'failed';
    discard(fd, partial);
    throw err;
  }

  const flushGroup = (): void => {
    if (buffered === 0) return;
    try {
      const ctx = (encodeContext ??= new EncodeContext());
      ctx.out.pos = 0;
      ctx.fileOffset = fileOffset;
      const chunks = buffers.flatMap((buffer) => buffer.encode(buffered, ctx));
      rowGroupMetas.push({ columns: chunks, numRows: buffered, fileOffset, size: ctx.out.pos });
      writeOut(ctx.out.view0());
    } catch (err) {
      state = 'failed';
      throw err;
    }
    rowsWritten += buffered;
    buffered = 0;
  };

  const writer: TrainingWriter = {
    get rowsWritten() {
      return rowsWritten + buffered;
    },

    appendColumns(input, rowCount) {
      ensureOpen();
      if (!Number.isInteger(rowCount) || rowCount < 0) throw new RangeError(`rowCount must be a non-negative integer, got ${rowCount}`);
      for (const name of Object.keys(input)) {
        if (!columns.some((spec) => spec.name === name)) throw new Error(`skewless: training data has no column "${name}"`);
      }
      const sources = columns.map((spec) => {
        const source = input[spec.name];
        if (source === undefined && !spec.nullable) throw new Error(`skewless: required training column "${spec.name}" is missing`);
        if (source !== undefined && source.length < rowCount) {
          throw new Error(`skewless: training column "${spec.name}" has ${source.length} values, expected ${rowCount}`);
        }
        return source;
      });
      // Rows are committed a row group at a time: a rejected value drops the rows of this
      // call that are not yet in a completed row group.
      for (let done = 0; done < rowCount; ) {
        const take = Math.min(rowCount - done, rowGroupSize - buffered);
        const row = rowsWritten + buffered;
        for (let c = 0; c < buffers.length; c++) {
          const source = sources[c];
          const buffer = buffers[c];
          if (source instanceof NullableNumbers) {
            if (buffer.appendNumbers !== undefined) buffer.appendNumbers(source, done, take, buffered, row);
            else buffer.append(plainValues(source), done, take, buffered, row);
          } else buffer.append(source, done, take, buffered, row);
        }
        buffered += take;
        done += take;
        if (buffered === rowGroupSize) flushGroup();
      }
    },

    appendRow(row) {
      ensureOpen();
      const row0 = rowsWritten + buffered;
      for (let c = 0; c < buffers.length; c++) buffers[c].set(buffered, row[columns[c].name], row0);
      if (++buffered === rowGroupSize) flushGroup();
    },

    close(kv = {}) {
      ensureOpen();
      flushGroup();
      try {
        const footer = new ByteBuf(1 << 12);
        writeFileMetaData(footer, {
          schema: columns.flatMap(schemaElements),
          numRows: rowsWritten,
          rowGroups: rowGroupMetas,
          keyValue: keyValueMetadata({ ...options.metadata?.(), ...kv }),
          createdBy: 'skewless',
        });
        footer.u32(footer.pos);
        footer.append(MAGIC);
        writeOut(footer.view0());
        try {
          fsyncSync(fd);
          closeSync(fd);
          renameSync(partial, target);
        } catch (err) {
          throw new TrainingWriteError(target, err);
        }
      } catch (err) {
        state = 'failed';
        discard(fd, partial);
        throw err;
      }
      state = 'closed';
      return { path: target, rows: rowsWritten, rowGroups: rowGroupMetas.length, bytes: fileOffset };
    },

    abort() {
      if (state === 'closed') return;
      state = 'failed';
      discard(fd, partial);
    },
  };
  return writer;
}

const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]); // "PAR1"

/**
 * Scratch buffers for encoding a row group, shared by every writer of this thread: a row group
 * is encoded and written in one synchronous step, so one set is enough however many files
 * (outputs × partitions) are open at once.
 */
let encodeContext: EncodeContext | undefined;

function checkColumns(columns: readonly ColumnSpec[]): readonly ColumnSpec[] {
  const seen = new Set<string>();
  for (const { name } of columns) {
    if (name === '') throw new Error('skewless: training column names must not be empty');
    if (seen.has(name)) throw new Error(`skewless: duplicate training column "${name}"`);
    seen.add(name);
  }
  if (columns.length === 0) throw new Error('skewless: training data needs at least one column');
  return columns;
}

function keyValueMetadata(kv: Record<string, string>): { key: string; value: string }[] {
  // Sorted, so the footer bytes do not depend on the order the caller built the object in.
  return Object.keys(kv)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((key) => {
      const value = kv[key];
      if (typeof value !== 'string') throw new Error(`skewless: Parquet metadata "${key}" must be a string, got ${typeof value}`);
      return { key, value };
    });
}

function discard(fd: number, partial: string): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
  rmSync(partial, { force: true });
}
