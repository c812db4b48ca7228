import { statSync } from 'node:fs';
import type { InputBatch, InputRange, InputRecord, SourceValue } from '../../engine/input.js';
import { fileOpenError, FileInputError } from './file-input-error.js';
import { KeyRouter } from './key-router.js';
import { countInputRecords } from './input-record-count.js';
import type { FileRecord } from './file-record.js';
import { detectFileFormat, type FileFormat } from './input-format.js';
import { listPartitionFiles, type PartitionFile } from './partition-files.js';
import { checkBatchSize, DEFAULT_BATCH_SIZE, type RecordBatches } from './record-batches.js';
import { readFileRecords } from './read-file-records.js';
import { fieldsReadBy } from './key-fields.js';
import { dictionaryCodesOf } from './parquet-flat-decoder.js';
import { readParquetColumns, readParquetRecords } from './parquet-reader.js';

export interface FileInputOptions {
  /** Source name the batches are tagged with. */
  readonly source: string;
  /** A file, or a directory holding one file per partition. */
  readonly path: string;
  /** Overrides detection by file extension. */
  readonly format?: FileFormat;
  /** Avro only: the topology's reader schema, to resolve files written with older schemas. */
  readonly readerSchema?: object;
  /** Single file only: split it into this many partitions by `partitionKey`, like a keyed Kafka topic. */
  readonly partitions?: number;
  /** Single file only: the Kafka record key of a value; null for an unkeyed record. */
  readonly partitionKey?: (value: SourceValue) => string | null;
  /** Maximum records per batch (default 4096). */
  readonly batchSize?: number;
  /** Split input only: emit only these partitions (a replay worker's share); offsets stay those of the full split. */
  readonly partitionFilter?: (partition: number) => boolean;
}

export interface FileInput {
  /** All records as batches of one partition each, per-partition offset order. Iterable once. */
  batches(): AsyncIterable<InputBatch>;
  /** The range read so far of every partition, by partition; complete once batches() is done. */
  ranges(): InputRange[];
  /** Where a record of a partition is in its file: for dead letters. */
  position(partition: number, record: InputRecord): FilePosition | undefined;
}

/** A record's place in its file: the path and its 1-based line (NDJSON), record index (Avro) or row (Parquet), 0-based. */
export type FilePosition = {
  readonly file: string;
  readonly line?: number;
  readonly record?: number;
  readonly row?: number;
};

/** How the file(s) map to partitions. */
type Layout =
  | { readonly kind: 'files'; readonly files: readonly PartitionFile[] }
  | { readonly kind: 'split'; readonly file: PartitionFile; readonly partitions: number; readonly key: (value: SourceValue) => string | null };

/**
 * Archive files as partitioned input. Offsets are 0-based record indexes within a partition,
 * so a file replay addresses records the way a Kafka replay addresses them by offset.
 * Layout problems (missing path, unknown extension, bad options) throw here, before reading.
 */
export function openFileInput(options: FileInputOptions): FileInput {
  const batchSize = checkBatchSize(options.batchSize ?? DEFAULT_BATCH_SIZE);
  const layout = planLayout(options);
  const ranges = new Map<number, MutableRange>();
  const batches = readOnce(options.source, (): AsyncIterable<InputBatch> => {
    const readOptions = { batchSize, readerSchema: options.readerSchema };
    if (layout.kind === 'files') {
      for (const file of layout.files) ranges.set(file.partition, newRange(options.source, file.partition, file.path));
      return interleaveFiles(options.source, layout.files, readOptions, ranges);
    }
    const keep = options.partitionFilter ?? (() => true);
    for (let p = 0; p < layout.partitions; p++) if (keep(p)) ranges.set(p, newRange(options.source, p, layout.file.path));
    return splitFile(options.source, layout, readOptions, ranges, keep);
  });

  return {
    batches,
    ranges: () => rangesInOrder(ranges),
    position: (partition, record) => {
      const file = layout.kind === 'split' ? layout.file : layout.files.find((f) => f.partition === partition);
      return file === undefined ? undefined : filePosition(file, record as FileRecord);
    },
  };
}

/**
 * How much of the input each partition holds, in bytes of file: a directory's partitions are
 * its files; a split file is divided in proportion to how its records split, when it holds at
 * most `sampleRecords` records, or, a larger Parquet file, as all its rows split by the key's
 * columns alone. Any other larger split file gives undefined rather than an estimate from
 * its head: a file sorted by key would put its whole head in one partition, and the estimate
 * would be worse than none. For dividing partitions among replay threads only: no output may
 * depend on it.
 */
export async function partitionBytes(options: FileInputOptions, partitions: number, sampleRecords = 65_536): Promise<number[] | undefined> {
  const layout = planLayout(options);
  const bytes = new Array<number>(partitions).fill(0);
  if (layout.kind === 'files') {
    for (const f of layout.files) if (f.partition < partitions) bytes[f.partition] += statSync(f.path).size;
    return bytes;
  }
  // Parquet and Avro files say how many records they hold without decoding one: a file over the
  // sample is known before its first row group or block is decoded. NDJSON is read as far as needed.
  const large = layout.file.format !== 'ndjson' && (await countInputRecords(layout.file.path, layout.file.format)) > sampleRecords;
  // A large Parquet file is weighed whole from its key's columns alone: a fraction of a full read.
  const counts = large ? (layout.file.format === 'parquet' ? await keyColumnCounts(layout) : undefined) : await sampleCounts(layout, options.readerSchema, sampleRecords);
  if (counts === undefined) return undefined;
  const read = counts.reduce((a, b) => a + b, 0);
  const size = statSync(layout.file.path).size;
  for (let p = 0; p < partitions; p++) bytes[p] = read === 0 ? 0 : (size * counts[p]) / read;
  return bytes;
}

/** Records per partition of a split file, or undefined when it holds more than `sampleRecords`. */
async function sampleCounts(layout: Extract<Layout, { kind: 'split' }>, readerSchema: object | undefined, sampleRecords: number): Promise<number[] | undefined> {
  const counts = new Array<number>(layout.partitions).fill(0);
  const router = new KeyRouter(layout.key, layout.partitions);
  let read = 0;
  const records = readFileRecords(layout.file.path, layout.file.format, { batchSize: DEFAULT_BATCH_SIZE, readerSchema });
  try {
    for await (const batch of records) {
      read += batch.length;
      if (read > sampleRecords) return undefined;
      for (const record of batch) counts[Math.max(0, router.partition(record))]++;
    }
  } finally {
    await records.return(undefined);
  }
  return counts;
}

/**
 * Records per partition of a Parquet file split by key, from the columns the key reads
 * (key-fields.ts), routed as the replay routes (KeyRouter); undefined when the key reads no column the
 * file has. Rows are built from those columns alone, so a key that needs more gives rougher
 * weights, never a different split: the replay itself routes whole rows.
 */
async function keyColumnCounts(layout: Extract<Layout, { kind: 'split' }>): Promise<number[] | undefined> {
  const columns = fieldsReadBy(layout.key);
  if (columns.length === 0) return undefined;
  const counts = new Array<number>(layout.partitions).fill(0);
  const router = new KeyRouter(layout.key, layout.partitions);
  if (columns.length === 1) return singleColumnCounts(layout, columns[0], router, counts);
  for await (const batch of readParquetRecords(layout.file.path, { columns, batchSize: 65_536 })) {
    // Rows with no field: the key reads no column of this file.
    if (batch.length > 0 && batch[0].value !== undefined && Object.keys(batch[0].value).length === 0) return undefined;
    // A key that cannot be computed weighs on partition 0, where the replay sends its record.
    for (const record of batch) counts[Math.max(0, router.partition(record))]++;
  }
  return counts;
}

/**
 * keyColumnCounts for a key that reads one column: its values are tallied straight from the
 * decoded column, and the key runs once per distinct value on a row holding just that field
 * (the row the record path would build), not once per row. Rows that cannot be converted
 * weigh on partition 0, where the replay sends their records.
 */
async function singleColumnCounts(layout: Extract<Layout, { kind: 'split' }>, column: string, router: KeyRouter, counts: number[]): Promise<number[] | undefined> {
  const tally = new Map<unknown, number>();
  for await (const group of readParquetColumns(layout.file.path, { columns: [column] })) {
    // The key reads no column of this file.
    if (group.names.length === 0) return undefined;
    if (group.columns === undefined) {
      counts[0] += group.rows;
      continue;
    }
    const { arrays, rowErrors } = group.columns;
    const values = arrays[0];
    const coded = dictionaryCodesOf(values);
    if (coded !== undefined && rowErrors.size === 0) {
      // Tallied by dictionary entry: a counter per entry instead of a map lookup per row.
      const perCode = new Float64Array(coded.dictionary.length + 1);
      for (let i = 0; i < coded.codes.length; i++) perCode[coded.codes[i] + 1]++;
      perCode.forEach((n, k) => {
        if (n > 0) {
          const value = k === 0 ? null : coded.dictionary[k - 1];
          tally.set(value, (tally.get(value) ?? 0) + n);
        }
      });
      continue;
    }
    for (let i = 0; i < group.rows; i++) {
      if (rowErrors.size > 0 && rowErrors.has(i)) counts[0]++;
      else tally.set(values[i], (tally.get(values[i]) ?? 0) + 1);
    }
  }
  for (const [value, n] of tally) counts[Math.max(0, router.partition({ offset: 0, value: { [column]: value } as SourceValue }))] += n;
  return counts;
}

/** Where a record is in its file, as its dead letter says it. */
export function filePosition(file: PartitionFile, record: FileRecord): FilePosition {
  const index = record.index ?? record.offset;
  switch (file.format) {
    case 'ndjson':
      return record.line === undefined ? { file: file.path, record: index } : { file: file.path, line: record.line };
    case 'avro':
      return { file: file.path, record: index };
    case 'parquet':
      return { file: file.path, row: index };
  }
}

function planLayout(options: FileInputOptions): Layout {
  const { path, partitions } = options;
  if (partitions !== undefined && (!Number.isInteger(partitions) || partitions < 1)) {
    throw new RangeError(`skewless: partitions must be a positive integer, got ${partitions}`);
  }
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch (err) {
    throw fileOpenError(path, err);
  }

  if (isDirectory) {
    // The files are the partitions; a key function has nothing to split.
    const files = listPartitionFiles(path, options.format);
    const beyond = partitions === undefined ? undefined : files.find((f) => f.partition >= partitions);
    if (beyond && partitions !== undefined) {
      throw new FileInputError(
        beyond.path,
        `maps to partition ${beyond.partition} but the source has ${partitions} partitions`,
        'Rename the file or raise the partition count',
      );
    }
    return { kind: 'files', files };
  }

  const file: PartitionFile = { partition: 0, path, format: options.format ?? detectFileFormat(path) };
  if (partitions === undefined || partitions === 1) return { kind: 'files', files: [file] };
  if (!options.partitionKey) {
    throw new FileInputError(path, `splitting one file into ${partitions} partitions needs a partition key`, "Declare the source's key, or pass a directory with one file per partition");
  }
  return { kind: 'split', file, partitions, key: options.partitionKey };
}

/** The ranges by partition, as copies (a FileInput's ranges()). */
export function rangesInOrder(ranges: ReadonlyMap<number, MutableRange>): InputRange[] {
  return [...ranges.values()].sort((a, b) => a.partition - b.partition).map((range) => ({ ...range }));
}

/** `read`, callable once: a file input's batches() (a second read would hand out the same offsets again). */
export function readOnce<T>(source: string, read: () => T): () => T {
  let started = false;
  return () => {
    if (started) throw new Error(`skewless: the file input of source "${source}" can be read only once; open it again`);
    started = true;
    return read();
  };
}

/** A partition's range read so far, grown as batches go out. */
export interface MutableRange {
  source: string;
  partition: number;
  origin: string;
  firstOffset: number;
  endOffset: number;
}

export function newRange(source: string, partition: number, origin: string): MutableRange {
  return { source, partition, origin, firstOffset: 0, endOffset: 0 };
}

/** The partition's range now ends after the last of `records`. */
export function recordRead(ranges: Map<number, MutableRange>, partition: number, records: readonly InputRecord[]): void {
  const range = ranges.get(partition);
  if (range && records.length > 0) range.endOffset = records[records.length - 1].offset + 1;
}

/**
 * One file per partition, read a batch at a time from each file in turn (by partition), so
 * every partition's task makes progress instead of waiting for the files before it. Each
 * file keeps its own order; the record index within the file is the offset.
 */
async function* interleaveFiles(
  source: string,
  files: readonly PartitionFile[],
  options: { batchSize: number; readerSchema?: object },
  ranges: Map<number, MutableRange>,
): AsyncGenerator<InputBatch> {
  const open = files.map((file) => ({ partition: file.partition, records: readFileRecords(file.path, file.format, options) }));
  try {
    while (open.length > 0) {
      for (let k = 0; k < open.length; ) {
        const { partition, records } = open[k];
        const next = await records.next();
        if (next.done) {
          open.splice(k, 1);
          continue;
        }
        recordRead(ranges, partition, next.value);
        yield { source, partition, records: next.value };
        k++;
      }
    }
  } finally {
    await Promise.all(open.map(({ records }) => records.return(undefined)));
  }
}

/**
 * One file split into keyed partitions: every record goes to Kafka's default partition for
 * its key and is numbered within that partition, i.e. the file replays as if it had been
 * produced to a keyed topic. Batches go out as they fill, the rest at the end by partition.
 */
async function* splitFile(
  source: string,
  layout: Extract<Layout, { kind: 'split' }>,
  options: { batchSize: number; readerSchema?: object },
  ranges: Map<number, MutableRange>,
  keep: (partition: number) => boolean,
): AsyncGenerator<InputBatch> {
  const { file, partitions, key } = layout;
  const router = new KeyRouter(key, partitions);
  const kept = Array.from({ length: partitions }, (_, p) => keep(p));
  const pending: InputRecord[][] = Array.from({ length: partitions }, () => []);
  const nextOffset = new Array<number>(partitions).fill(0);
  const records: RecordBatches = readFileRecords(file.path, file.format, options);

  for await (const batch of records) {
    for (const record of batch) {
      const partition = router.partition(record);
      const routed = partition >= 0 ? record : router.keyErrorRecord(record);
      const p = partition >= 0 ? partition : 0;
      if (!kept[p]) {
        nextOffset[p]++;
        continue;
      }
      const renumbered = withOffset(routed, nextOffset[p]++);
      const queue = pending[p];
      queue.push(renumbered);
      if (queue.length >= options.batchSize) {
        pending[p] = [];
        recordRead(ranges, p, queue);
        yield { source, partition: p, records: queue };
      }
    }
  }
  for (let partition = 0; partition < partitions; partition++) {
    const queue = pending[partition];
    if (queue.length === 0) continue;
    pending[partition] = [];
    recordRead(ranges, partition, queue);
    yield { source, partition, records: queue };
  }
}

/** The record renumbered within its partition; it keeps its index in the file (and NDJSON line and text) for its dead letter. */
function withOffset(record: FileRecord, offset: number): FileRecord {
  const index = record.index ?? record.offset;
  const { line, raw } = record;
  if (record.error !== undefined) {
    if (line !== undefined) return { offset, index, line, error: record.error, raw };
    return raw === undefined ? { offset, index, error: record.error } : { offset, index, error: record.error, raw };
  }
  return line === undefined ? { offset, index, value: record.value } : { offset, index, line, value: record.value, raw };
}
