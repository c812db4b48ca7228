import type { InputRecord, SourceValue } from '../../engine/input.js';
import type { FileRecord } from './file-record.js';
import { KeyRouter } from './key-router.js';
import { dictionaryCodesOf } from './parquet-flat-decoder.js';
import { buildRecords, errorRecords, readParquetColumns, type RowGroupColumns } from './parquet-reader.js';
import type { RecordConformer } from './record-conformer.js';
import { fieldsReadBy } from './key-fields.js';
import { compileRowBuilder, type RowBuilder } from './row-builder.js';

/**
 * A column of a slice: numbers in a typed array, strings as their row group's dictionary and
 * a code per row (-1 for null), or plain values (strings, numbers, null, bigints).
 */
export type SliceColumn = Float64Array | Int32Array | { readonly dictionary: readonly string[]; readonly codes: Int32Array } | readonly unknown[];

/** The rows of one partition in one row group of a file split by key, as columns. */
export interface PartitionSlice {
  readonly partition: number;
  /** The partition offset of the slice's first row; the others follow one by one. */
  readonly firstOffset: number;
  /** Each row's index in the file (what its dead letter points at). */
  readonly fileRows: Int32Array;
  /** In the group's `names` order. */
  readonly columns: readonly SliceColumn[];
  /** Rows of the slice that are error records: [row in the slice, error, raw text]. */
  readonly errors: ReadonlyArray<readonly [number, string, string | Uint8Array | undefined]>;
}

/** One row group's slices, by partition. */
export interface SliceGroup {
  /** Field names of the rows, in order (the reader schema's, as readParquetRecords builds them). */
  readonly names: readonly string[];
  readonly slices: readonly PartitionSlice[];
}

export interface SplitSlicesOptions {
  readonly path: string;
  readonly readerSchema?: object;
  readonly partitions: number;
  /** The Kafka record key of a value; null for an unkeyed record. */
  readonly key: (value: SourceValue) => string | null;
}

/**
 * A Parquet file split by key (see splitFile in partitioned-file-input.ts), one row group at a
 * time, as columnar slices per partition instead of records: so one thread can decode and route
 * the file once for every replay thread, each of which builds records for its own partitions
 * only. Every row is built and routed exactly as the record path routes it (records that fail
 * the schema, cannot be keyed or sit in a damaged row group go to partition 0 as error
 * records); only files of plain values (flatValuesOnly) can be sliced.
 */
export async function* splitParquetSlices(options: SplitSlicesOptions): AsyncGenerator<SliceGroup> {
  const router = new KeyRouter(options.key, options.partitions);
  const nextOffset = new Array<number>(options.partitions).fill(0);
  let buildRow: RowBuilder | undefined;
  const keyField = fieldsReadBy(options.key);
  for await (const group of readParquetColumns(options.path, { readerSchema: options.readerSchema })) {
    const { rows, groupStart, columns, conformer } = group;
    buildRow ??= compileRowBuilder(group.names);
    const partitionOf = new Int32Array(rows);
    const counts = new Int32Array(options.partitions);
    // Rows that are error records, by row in the group.
    const failed = new Map<number, InputRecord>();
    const fail = (i: number, record: InputRecord): number => {
      let p = router.partition(record);
      if (p < 0) {
        record = router.keyErrorRecord(record);
        p = 0;
      }
      if (record.error !== undefined) failed.set(i, record);
      return p;
    };
    if (columns === undefined) {
      const records = errorRecords(group.problem, groupStart, 0, rows);
      for (let i = 0; i < rows; i++) counts[(partitionOf[i] = fail(i, records[i]))]++;
    } else {
      const bad = nonconforming(columns, rows, conformer);
      const column = keyField.length === 1 ? group.names.indexOf(keyField[0]) : -1;
      const coded = column < 0 ? undefined : dictionaryCodesOf(columns.arrays[column]);
      const byCode = coded === undefined ? undefined : partitionsByCode(router, keyField[0], coded.dictionary);
      for (let i = 0; i < rows; i++) {
        let p: number;
        if (bad !== undefined && bad[i] === 1) p = fail(i, buildRecords(buildRow, columns, groupStart, i, i + 1, conformer)[0]);
        else {
          // A row of a conforming value is the record buildRecords would make: only its key is asked for.
          p = byCode === undefined ? -1 : byCode[coded!.codes[i] + 1];
          if (p < 0) p = fail(i, { offset: groupStart + i, value: buildRow(columns.arrays, i) as SourceValue });
        }
        partitionOf[i] = p;
        counts[p]++;
      }
    }
    const rowsOf = Array.from(counts, (n) => new Int32Array(n));
    const filled = new Int32Array(options.partitions);
    for (let i = 0; i < rows; i++) {
      const p = partitionOf[i];
      rowsOf[p][filled[p]++] = i;
    }
    const slices: PartitionSlice[] = [];
    for (let p = 0; p < options.partitions; p++) {
      const picked = rowsOf[p];
      if (picked.length === 0) continue;
      const errors: Array<readonly [number, string, string | Uint8Array | undefined]> = [];
      if (failed.size > 0) {
        for (let k = 0; k < picked.length; k++) {
          const r = failed.get(picked[k]) as FileRecord | undefined;
          if (r !== undefined) errors.push([k, r.error!, r.raw]);
        }
      }
      const fileRows = new Int32Array(picked.length);
      for (let k = 0; k < picked.length; k++) fileRows[k] = groupStart + picked[k];
      const sliced = columns === undefined ? group.names.map(() => new Array<unknown>(picked.length).fill(null)) : columns.arrays.map((a) => sliceColumn(a, picked));
      slices.push({ partition: p, firstOffset: nextOffset[p], fileRows, columns: sliced, errors });
      nextOffset[p] += picked.length;
    }
    yield { names: group.names, slices };
  }
}

/**
 * 1 for each row buildRecords makes an error record of (a value that could not be converted, or
 * one not of its field's type), by the same per-field checks column by column; undefined when
 * there is none.
 */
function nonconforming(columns: RowGroupColumns, rows: number, conformer: RecordConformer | undefined): Uint8Array | undefined {
  let bad: Uint8Array | undefined;
  const mark = (i: number): void => {
    (bad ??= new Uint8Array(rows))[i] = 1;
  };
  for (const i of columns.rowErrors.keys()) mark(i);
  if (conformer === undefined) return bad;
  columns.arrays.forEach((values, c) => {
    if (holdsOnlyValid(values, conformer.fieldTypes[c])) return;
    const check = conformer.fieldChecks[c];
    const coded = dictionaryCodesOf(values);
    if (coded !== undefined) {
      // Each distinct value is checked once.
      const ok = Uint8Array.from(coded.dictionary, (v) => (check(v) ? 1 : 0));
      const nullOk = check(null);
      for (let i = 0; i < coded.codes.length; i++) {
        const k = coded.codes[i];
        if (k < 0 ? !nullOk : ok[k] === 0) mark(i);
      }
    } else for (let i = 0; i < values.length; i++) if (!check(values[i])) mark(i);
  });
  return bad;
}

/** Whether every value of a typed array is of the Avro type, whatever it holds: int32s are ints, longs and doubles; any number is a double. */
function holdsOnlyValid(values: ArrayLike<unknown>, type: string): boolean {
  if (values instanceof Int32Array) return type === 'int' || type === 'long' || type === 'float' || type === 'double';
  if (values instanceof Float64Array) return type === 'float' || type === 'double';
  return false;
}

/**
 * The partition of each dictionary entry (slot 0: null, slot k + 1: entry k) for a key that
 * reads field `field` alone: the key runs on a value that answers `field` and notes any other
 * question asked of it. An entry for which the key asked anything else, or threw, gets -1: its
 * rows are routed from the whole row. A key function is pure (DESIGN.md), so one that read
 * nothing but `field` answers a whole row holding that value the same way.
 */
function partitionsByCode(router: KeyRouter, field: string, dictionary: readonly string[]): Int32Array {
  const out = new Int32Array(dictionary.length + 1);
  for (let k = -1; k < dictionary.length; k++) {
    const value = k < 0 ? null : dictionary[k];
    let other = false;
    const probe = new Proxy(
      {},
      {
        get: (_t, property) => {
          if (property === field) return value;
          other = true;
          return undefined;
        },
        has: () => (other = true) && false,
        ownKeys: () => ((other = true), []),
        getOwnPropertyDescriptor: () => ((other = true), undefined),
        getPrototypeOf: () => ((other = true), null),
      },
    );
    const p = router.partition({ offset: 0, value: probe as SourceValue });
    out[k + 1] = other || p < 0 ? -1 : p;
  }
  return out;
}

/** The values of `column` at rows `picked`, in the same representation. */
function sliceColumn(column: ArrayLike<unknown>, picked: Int32Array): SliceColumn {
  const n = picked.length;
  if (column instanceof Float64Array || column instanceof Int32Array) {
    const out = column instanceof Float64Array ? new Float64Array(n) : new Int32Array(n);
    for (let k = 0; k < n; k++) out[k] = column[picked[k]];
    return out;
  }
  const coded = dictionaryCodesOf(column);
  if (coded !== undefined) {
    const codes = new Int32Array(n);
    for (let k = 0; k < n; k++) codes[k] = coded.codes[picked[k]];
    return { dictionary: coded.dictionary, codes };
  }
  const out = new Array<unknown>(n);
  for (let k = 0; k < n; k++) out[k] = column[picked[k]];
  return out;
}

/** A slice column as the values a row builder reads. */
export function sliceValues(column: SliceColumn): ArrayLike<unknown> {
  if (column instanceof Float64Array || column instanceof Int32Array || Array.isArray(column)) return column as ArrayLike<unknown>;
  const { dictionary, codes } = column as { readonly dictionary: readonly string[]; readonly codes: Int32Array };
  const out = new Array<string | null>(codes.length);
  for (let k = 0; k < codes.length; k++) out[k] = codes[k] < 0 ? null : dictionary[codes[k]];
  return out;
}
