import {
  ByteBuf,
  bitWidthOf,
  buildNumberDictionary,
  sampleDistinct,
  setInt64,
  writeDefinitionLevels,
  writeDeltaBinaryPacked,
  writePlainBooleans,
  writePlainDoubles,
  writePlainInt32,
  writePlainInt64,
  writePlainString,
  writeRleHybrid,
} from './parquet-encoding.js';
import { ListBuffer, listSchema } from './list-column.js';
import type { NullableNumbers } from './nullable-numbers.js';
import { MapBuffer, mapSchema } from './map-column.js';
import { Encoding, PhysicalType, writeDataPageHeader, writeDictionaryPageHeader, type ChunkStatistics, type ColumnChunkMeta, type SchemaLeaf } from './parquet-thrift.js';

/** Column types of training data, each with one fixed Parquet representation. */
export type ColumnType = 'string' | 'int32' | 'int64' | 'double' | 'boolean' | 'timestamp-ms' | 'list<double>' | 'list<string>' | 'map<int64>' | 'map<double>';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable: boolean;
}

/** The column's schema elements: one leaf, or a LIST group with its levels. */
export function schemaElements({ name, type, nullable }: ColumnSpec): SchemaLeaf[] {
  const optional = nullable;
  switch (type) {
    case 'list<double>':
      return listSchema(name, nullable, 'double');
    case 'list<string>':
      return listSchema(name, nullable, 'string');
    case 'map<int64>':
      return mapSchema(name, nullable, 'int64');
    case 'map<double>':
      return mapSchema(name, nullable, 'double');
    default:
      return [schemaLeaf(name, type, optional)];
  }
}

function schemaLeaf(name: string, type: Exclude<ColumnType, 'list<double>' | 'list<string>' | 'map<int64>' | 'map<double>'>, optional: boolean): SchemaLeaf {
  switch (type) {
    case 'string':
      return { name, optional, type: PhysicalType.BYTE_ARRAY, logical: 'string' };
    case 'int32':
      return { name, optional, type: PhysicalType.INT32 };
    case 'int64':
      return { name, optional, type: PhysicalType.INT64 };
    case 'double':
      return { name, optional, type: PhysicalType.DOUBLE };
    case 'boolean':
      return { name, optional, type: PhysicalType.BOOLEAN };
    case 'timestamp-ms':
      // isAdjustedToUTC: event times are instants, so readers show them as UTC timestamps.
      return { name, optional, type: PhysicalType.INT64, logical: 'timestamp-ms-utc' };
  }
}

/** Buffers shared by the columns of one writer while a row group is encoded. */
export class EncodeContext {
  /** The row group's column chunks, written to the file after the last column. */
  readonly out = new ByteBuf(1 << 20);
  /** One page body at a time. */
  readonly page = new ByteBuf(1 << 20);
  /** File offset of `out.bytes[0]`. */
  fileOffset = 0;
  values = new Float64Array(0);
  indexes = new Int32Array(0);
  flags = new Uint8Array(0);
  readonly deltas = new Float64Array(128);
  readonly packed = new Int32Array(32);

  /** Scratch arrays of at least `n` slots. */
  reserve(n: number): void {
    if (this.values.length >= n) return;
    this.values = new Float64Array(n);
    this.indexes = new Int32Array(n);
    this.flags = new Uint8Array(n);
  }
}

/**
 * One row group's worth of one column. Values are validated as they arrive, so an error
 * names the offending row while the caller still knows what it was; numbers live in typed
 * arrays, so a 100k-row group is not 100k boxed heap numbers, and the Parquet pages are
 * encoded straight from them.
 */
export interface ColumnBuffer {
  readonly spec: ColumnSpec;
  /**
   * Stores `source[from .. from+count)` (all null when `source` is undefined) at slots
   * `at ..`; `row` is the file row of `source[from]`, for error messages.
   */
  append(source: ArrayLike<unknown> | undefined, from: number, count: number, at: number, row: number): void;
  /** As append, from typed numbers (number columns only; the writer turns them into plain values for the others). */
  appendNumbers?(source: NullableNumbers, from: number, count: number, at: number, row: number): void;
  /** Stores `value` at slot `i`; `row` is the file row, for error messages. */
  set(i: number, value: unknown, row: number): void;
  /**
   * Appends the first `n` slots to `ctx.out` as the column's chunks (one per leaf: two for a
   * map); the buffer is reusable afterwards.
   */
  encode(n: number, ctx: EncodeContext): readonly ColumnChunkMeta[];
}

export function createColumnBuffer(spec: ColumnSpec, capacity: number): ColumnBuffer {
  switch (spec.type) {
    case 'string':
      return new StringBuffer(spec, capacity);
    case 'boolean':
      return new BooleanBuffer(spec, capacity);
    case 'int32':
    case 'double':
    case 'int64':
    case 'timestamp-ms':
      return new NumberBuffer(spec, capacity);
    case 'list<double>':
    case 'list<string>':
      return new ListBuffer(spec);
    case 'map<int64>':
    case 'map<double>':
      return new MapBuffer(spec);
  }
}

function reject(spec: ColumnSpec, row: number, value: unknown, expected: string): never {
  const got = typeof value === 'string' ? JSON.stringify(value) : typeof value === 'bigint' ? `${value}n` : String(value);
  const orNull = spec.nullable ? ' or null' : '';
  throw new Error(`skewless: training column "${spec.name}" (${spec.type}) row ${row}: expected ${expected}${orNull}, got ${got}`);
}

// Slots are allocated as rows arrive (up to the row group size), so a generous row group
// size costs nothing for small files.
const INITIAL_SLOTS = 4096;

function grownLength(current: number, need: number, capacity: number): number {
  let length = Math.max(current, Math.min(capacity, INITIAL_SLOTS));
  while (length < need && length < capacity) length = Math.min(capacity, length * 2);
  return length;
}

/** A copy of `arr` in a new array of the same class with room for `length` slots. */
function grownCopy<T extends Float64Array | Uint8Array>(arr: T, length: number): T {
  const next = new (arr.constructor as new (n: number) => T)(length);
  next.set(arr);
  return next;
}

/** Writes a dictionary page (if any) and one data page as a column chunk into `ctx.out`. */
function writeChunk(
  ctx: EncodeContext,
  spec: ColumnSpec,
  type: PhysicalType,
  n: number,
  encoding: Encoding,
  dictionary: { readonly body: Uint8Array; readonly count: number } | undefined,
  statistics: ChunkStatistics | undefined,
): ColumnChunkMeta {
  const out = ctx.out;
  const start = out.pos;
  let dictionaryPageOffset: number | undefined;
  if (dictionary) {
    dictionaryPageOffset = ctx.fileOffset + out.pos;
    writeDictionaryPageHeader(out, { pageSize: dictionary.body.length, numValues: dictionary.count });
    out.append(dictionary.body);
  }
  const dataPageOffset = ctx.fileOffset + out.pos;
  writeDataPageHeader(out, { pageSize: ctx.page.pos, numValues: n, encoding });
  out.append(ctx.page.view0());
  return {
    type,
    path: [spec.name],
    encodings: dictionary ? [Encoding.PLAIN, Encoding.RLE, Encoding.RLE_DICTIONARY] : [encoding, Encoding.RLE],
    numValues: n,
    size: out.pos - start,
    dataPageOffset,
    dictionaryPageOffset,
    dataEncoding: encoding,
    statistics,
  };
}

/** Dictionary indexes as a data page body: bit width, then the RLE/bit-packed hybrid. */
function writeIndexes(page: ByteBuf, indexes: Int32Array, m: number, entries: number): void {
  const bitWidth = bitWidthOf(entries - 1);
  page.u8(bitWidth);
  writeRleHybrid(page, indexes, m, bitWidth);
}

/**
 * Whether a dictionary of `entries` values of `entryBytes` total pays off against `plainBytes`
 * of PLAIN values: it must save at least a quarter (the file is not compressed, so every
 * saved byte counts; below that, PLAIN is cheaper to read).
 */
function dictionaryWins(entries: number, entryBytes: number, m: number, plainBytes: number): boolean {
  const indexBytes = Math.ceil((m * bitWidthOf(entries - 1)) / 8);
  return 4 * (entryBytes + indexBytes) <= 3 * plainBytes;
}

/** Most entries a dictionary may have before it cannot win (and a hard cap on its size). */
function maxDictionaryEntries(m: number): number {
  return Math.min(Math.floor(m / 2), 1 << 20);
}

/** Counts nulls in the first `n` definition levels. */
function countNulls(defs: Uint8Array | undefined, n: number): number {
  if (defs === undefined) return 0;
  let present = 0;
  for (let i = 0; i < n; i++) present += defs[i];
  return n - present;
}

/**
 * int32, int64, timestamp-ms and double. Values are numbers in a Float64Array (int64: safe
 * integers; bigints beyond ±2^53 go to a side map by slot), with definition levels (1 =
 * present) for nullable columns.
 */
class NumberBuffer implements ColumnBuffer {
  private values = new Float64Array(0);
  private defs: Uint8Array | undefined;
  /** int64 values that are not safe integers, by slot. */
  private big: Map<number, bigint> | undefined;
  private readonly kind: 0 | 1 | 2; // double, int32, int64/timestamp
  private readonly expected: string;

  constructor(
    readonly spec: ColumnSpec,
    private readonly capacity: number,
  ) {
    this.kind = spec.type === 'double' ? 0 : spec.type === 'int32' ? 1 : 2;
    this.expected =
      spec.type === 'double' ? 'a number' : spec.type === 'int32' ? 'a 32-bit integer' : spec.type === 'int64' ? 'a safe integer or a 64-bit bigint' : 'epoch milliseconds (an integer) or a Date';
    if (spec.nullable) this.defs = new Uint8Array(0);
  }

  private reserve(need: number): void {
    if (need <= this.values.length) return;
    const length = grownLength(this.values.length, need, this.capacity);
    this.values = grownCopy(this.values, length);
    if (this.defs) this.defs = grownCopy(this.defs, length);
  }

  append(source: ArrayLike<unknown> | undefined, from: number, count: number, at: number, row: number): void {
    this.reserve(at + count);
    const values = this.values;
    const defs = this.defs;
    if (source === undefined) {
      if (!defs) reject(this.spec, row, undefined, this.expected);
      defs.fill(0, at, at + count);
      return;
    }
    // One loop per kind, so each stays monomorphic; anything unusual goes through set().
    if (this.kind === 0) {
      for (let k = 0; k < count; k++) {
        const v = source[from + k];
        if (typeof v === 'number') {
          values[at + k] = v;
          if (defs) defs[at + k] = 1;
        } else this.set(at + k, v, row + k);
      }
    } else if (this.kind === 1) {
      for (let k = 0; k < count; k++) {
        const v = source[from + k];
        if (typeof v === 'number' && (v | 0) === v) {
          values[at + k] = v | 0;
          if (defs) defs[at + k] = 1;
        } else this.set(at + k, v, row + k);
      }
    } else if (this.big === undefined) {
      for (let k = 0; k < count; k++) {
        const v = source[from + k];
        if (typeof v === 'number' && Number.isSafeInteger(v)) {
          values[at + k] = v + 0; // -0 becomes 0
          if (defs) defs[at + k] = 1;
        } else this.set(at + k, v, row + k);
      }
    } else {
      for (let k = 0; k < count; k++) this.set(at + k, source[from + k], row + k);
    }
  }

  /**
   * The same checks and slots as append() gives the same values as plain numbers and nulls.
   * One loop per kind, and doubles as two block copies: this copy of every training value ran
   * at about a tenth of the whole output's cost with the kind tested per value.
   */
  appendNumbers(source: NullableNumbers, from: number, count: number, at: number, row: number): void {
    this.reserve(at + count);
    const values = this.values;
    const defs = this.defs;
    const src = source.values;
    const present = source.present;
    if (this.big !== undefined) {
      for (let k = 0; k < count; k++) this.set(at + k, source.at(from + k), row + k);
      return;
    }
    if (this.kind === 0 && defs !== undefined && source.others === undefined) {
      // Present is 1 (a number) or 0 (null) here: the definition levels themselves. A null's value slot is never read.
      values.set(src.subarray(from, from + count), at);
      defs.set(present.subarray(from, from + count), at);
      return;
    }
    if (this.kind === 0) {
      for (let k = 0; k < count; k++) {
        if (present[from + k] === 1) {
          values[at + k] = src[from + k];
          if (defs) defs[at + k] = 1;
        } else this.set(at + k, source.at(from + k), row + k);
      }
    } else if (this.kind === 1) {
      for (let k = 0; k < count; k++) {
        const v = src[from + k];
        if (present[from + k] === 1 && (v | 0) === v) {
          values[at + k] = v | 0;
          if (defs) defs[at + k] = 1;
        } else this.set(at + k, source.at(from + k), row + k);
      }
    } else {
      for (let k = 0; k < count; k++) {
        const v = src[from + k];
        if (present[from + k] === 1 && Number.isSafeInteger(v)) {
          values[at + k] = v + 0; // -0 becomes 0
          if (defs) defs[at + k] = 1;
        } else this.set(at + k, source.at(from + k), row + k);
      }
    }
  }

  set(i: number, value: unknown, row: number): void {
    this.reserve(i + 1);
    if (this.big?.delete(i) && this.big.size === 0) this.big = undefined;
    const kind = this.kind;
    let v: number | undefined;
    if (typeof value === 'number') {
      if (kind === 0) v = value;
      else if (kind === 1 ? (value | 0) === value : Number.isSafeInteger(value)) v = value + 0;
    } else if (kind === 2 && typeof value === 'bigint' && BigInt.asIntN(64, value) === value) {
      if (value >= -9007199254740991n && value <= 9007199254740991n) v = Number(value);
      else {
        (this.big ??= new Map()).set(i, value);
        v = 0;
      }
    } else if (kind === 2 && value instanceof Date && this.spec.type === 'timestamp-ms' && Number.isSafeInteger(value.getTime())) {
      v = value.getTime() + 0;
    } else if ((value === null || value === undefined) && this.defs) {
      this.defs[i] = 0;
      return;
    }
    if (v === undefined) reject(this.spec, row, value, this.expected);
    this.values[i] = v;
    if (this.defs) this.defs[i] = 1;
  }

  encode(n: number, ctx: EncodeContext): readonly ColumnChunkMeta[] {
    const { spec, kind } = this;
    const defs = this.defs;
    const nulls = countNulls(defs, n);
    const m = n - nulls;
    // Non-null values, compacted; bigints re-keyed by compacted position.
    let vals = this.values;
    let big: Map<number, bigint> | undefined;
    if (this.big) {
      ctx.reserve(n);
      vals = ctx.values;
      let j = 0;
      for (let i = 0; i < n; i++) {
        if (defs && defs[i] === 0) continue;
        const b = this.big.get(i);
        if (b !== undefined) (big ??= new Map()).set(j, b);
        vals[j++] = this.values[i];
      }
      this.big = undefined;
    } else if (nulls > 0) {
      ctx.reserve(n);
      vals = ctx.values;
      const values = this.values;
      let j = 0;
      for (let i = 0; i < n; i++) {
        vals[j] = values[i];
        j += defs![i];
      }
    }

    const page = ctx.page;
    page.pos = 0;
    if (defs) writeDefinitionLevels(page, defs, n);
    const valueBytes = kind === 1 ? 4 : 8;
    const type = kind === 0 ? PhysicalType.DOUBLE : kind === 1 ? PhysicalType.INT32 : PhysicalType.INT64;
    const writePlain = (target: ByteBuf, values: Float64Array, count: number) => {
      if (kind === 0) writePlainDoubles(target, values, count);
      else if (kind === 1) writePlainInt32(target, values, count);
      else writePlainInt64(target, values, count, big);
    };

    let encoding: Encoding = Encoding.PLAIN;
    let dictionary: { body: Uint8Array; count: number } | undefined;
    const levelsEnd = page.pos;
    if (big === undefined && m >= 16) {
      // A dictionary is tried unless an evenly spread sample has no repeats at all (ids,
      // offsets, sorted times: those go to delta or PLAIN without building anything).
      const sample = sampleDistinct(vals, m);
      if (sample.distinct < sample.sampled) {
        ctx.reserve(m);
        const firsts = buildNumberDictionary(vals, m, maxDictionaryEntries(m), ctx.indexes);
        if (firsts && dictionaryWins(firsts.length, firsts.length * valueBytes, m, m * valueBytes)) {
          const entries = new Float64Array(firsts.length);
          for (let e = 0; e < firsts.length; e++) entries[e] = vals[firsts[e]];
          const body = new ByteBuf(firsts.length * valueBytes + 8);
          writePlain(body, entries, entries.length);
          dictionary = { body: body.view0(), count: entries.length };
          writeIndexes(page, ctx.indexes, m, entries.length);
          encoding = Encoding.RLE_DICTIONARY;
        }
      }
      if (!dictionary && kind === 2) {
        if (writeDeltaBinaryPacked(page, vals, m, ctx.deltas, ctx.packed) && page.pos - levelsEnd < m * 8) encoding = Encoding.DELTA_BINARY_PACKED;
        else page.pos = levelsEnd;
      }
    }
    if (encoding === Encoding.PLAIN) writePlain(page, vals, m);

    let statistics: ChunkStatistics = { nullCount: nulls };
    // Min/max of feature values (doubles) hardly ever prune a read; integers keep them.
    if (kind !== 0 && m > 0) statistics = { nullCount: nulls, ...integerMinMax(vals, m, big, kind === 1) };
    return [writeChunk(ctx, spec, type, n, encoding, dictionary, statistics)];
  }
}

function integerMinMax(vals: Float64Array, m: number, big: Map<number, bigint> | undefined, int32: boolean): { min: Uint8Array; max: Uint8Array } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < m; i++) {
    const v = vals[i];
    if (v < min && !big?.has(i)) min = v;
    if (v > max && !big?.has(i)) max = v;
  }
  const bytes = (v: number | bigint): Uint8Array => {
    const b = new Uint8Array(int32 ? 4 : 8);
    const view = new DataView(b.buffer);
    if (typeof v === 'bigint') view.setBigInt64(0, v, true);
    else if (int32) view.setInt32(0, v, true);
    else setInt64(view, 0, v);
    return b;
  };
  let bigMin: bigint | undefined;
  let bigMax: bigint | undefined;
  for (const b of big?.values() ?? []) {
    if (bigMin === undefined || b < bigMin) bigMin = b;
    if (bigMax === undefined || b > bigMax) bigMax = b;
  }
  return {
    min: bytes(bigMin !== undefined && (min === Infinity || bigMin < BigInt(min)) ? bigMin : min),
    max: bytes(bigMax !== undefined && (max === -Infinity || bigMax > BigInt(max)) ? bigMax : max),
  };
}

class BooleanBuffer implements ColumnBuffer {
  private values = new Uint8Array(0);
  private defs: Uint8Array | undefined;

  constructor(
    readonly spec: ColumnSpec,
    private readonly capacity: number,
  ) {
    if (spec.nullable) this.defs = new Uint8Array(0);
  }

  private reserve(need: number): void {
    if (need <= this.values.length) return;
    const length = grownLength(this.values.length, need, this.capacity);
    this.values = grownCopy(this.values, length);
    if (this.defs) this.defs = grownCopy(this.defs, length);
  }

  append(source: ArrayLike<unknown> | undefined, from: number, count: number, at: number, row: number): void {
    this.reserve(at + count);
    if (source === undefined) {
      if (!this.defs) reject(this.spec, row, undefined, 'a boolean');
      this.defs.fill(0, at, at + count);
      return;
    }
    const values = this.values;
    const defs = this.defs;
    for (let k = 0; k < count; k++) {
      const v = source[from + k];
      if (v === true || v === false) {
        values[at + k] = v ? 1 : 0;
        if (defs) defs[at + k] = 1;
      } else this.set(at + k, v, row + k);
    }
  }

  set(i: number, value: unknown, row: number): void {
    this.reserve(i + 1);
    if (typeof value === 'boolean') {
      this.values[i] = value ? 1 : 0;
      if (this.defs) this.defs[i] = 1;
    } else if ((value === null || value === undefined) && this.defs) this.defs[i] = 0;
    else reject(this.spec, row, value, 'a boolean');
  }

  encode(n: number, ctx: EncodeContext): readonly ColumnChunkMeta[] {
    const defs = this.defs;
    const nulls = countNulls(defs, n);
    const m = n - nulls;
    let vals = this.values;
    if (nulls > 0) {
      ctx.reserve(n);
      vals = ctx.flags;
      let j = 0;
      for (let i = 0; i < n; i++) if (defs![i] === 1) vals[j++] = this.values[i];
    }
    let trues = 0;
    for (let i = 0; i < m; i++) trues += vals[i];
    const page = ctx.page;
    page.pos = 0;
    if (defs) writeDefinitionLevels(page, defs, n);
    writePlainBooleans(page, vals, m);
    const statistics: ChunkStatistics =
      m === 0 ? { nullCount: nulls } : { nullCount: nulls, min: Uint8Array.of(trues === m ? 1 : 0), max: Uint8Array.of(trues > 0 ? 1 : 0) };
    return [writeChunk(ctx, this.spec, PhysicalType.BOOLEAN, n, Encoding.PLAIN, undefined, statistics)];
  }
}

/** Longest string min/max kept in statistics, in UTF-8 bytes; longer bounds are left out. */
const MAX_STRING_STATISTIC = 64;

/**
 * Strings are dictionary-encoded when they repeat enough (keys, versions, categories), else
 * PLAIN. Either way they are UTF-8 encoded straight into the page.
 */
class StringBuffer implements ColumnBuffer {
  private values: (string | null)[] = [];

  constructor(
    readonly spec: ColumnSpec,
    private readonly capacity: number,
  ) {}

  private reserve(need: number): void {
    if (need <= this.values.length) return;
    const values = new Array<string | null>(grownLength(this.values.length, need, this.capacity)).fill(null);
    for (let i = 0; i < this.values.length; i++) values[i] = this.values[i];
    this.values = values;
  }

  append(source: ArrayLike<unknown> | undefined, from: number, count: number, at: number, row: number): void {
    this.reserve(at + count);
    const values = this.values;
    if (source === undefined) {
      if (!this.spec.nullable) reject(this.spec, row, undefined, 'a string');
      for (let k = 0; k < count; k++) values[at + k] = null;
      return;
    }
    for (let k = 0; k < count; k++) {
      const v = source[from + k];
      if (typeof v === 'string') values[at + k] = v;
      else this.set(at + k, v, row + k);
    }
  }

  set(i: number, value: unknown, row: number): void {
    this.reserve(i + 1);
    if (typeof value === 'string') this.values[i] = value;
    else if ((value === null || value === undefined) && this.spec.nullable) this.values[i] = null;
    else reject(this.spec, row, value, 'a string');
  }

  encode(n: number, ctx: EncodeContext): readonly ColumnChunkMeta[] {
    const strings = this.values;
    const page = ctx.page;
    page.pos = 0;
    let nulls = 0;
    if (this.spec.nullable) {
      ctx.reserve(n);
      const defs = ctx.flags;
      for (let i = 0; i < n; i++) {
        const present = strings[i] === null ? 0 : 1;
        defs[i] = present;
        nulls += 1 - present;
      }
      writeDefinitionLevels(page, defs, n);
    }
    const m = n - nulls;
    const levelsEnd = page.pos;

    // Try a dictionary: entries in first-occurrence order, PLAIN-encoded as they are met.
    let dictionary: { body: Uint8Array; count: number } | undefined;
    let entries: string[] | undefined = [];
    if (m >= 2) {
      ctx.reserve(n);
      const indexes = ctx.indexes;
      const ids = new Map<string, number>();
      const body = new ByteBuf(4096);
      const maxEntries = maxDictionaryEntries(m);
      // PLAIN size: every occurrence carries its own bytes and 4-byte length.
      const plainSizes: number[] = [];
      let plainBytes = 0;
      let j = 0;
      let previous: string | null = null;
      let previousId = 0;
      let checkpoint = 8192;
      for (let i = 0; i < n; i++) {
        const s = strings[i];
        if (s === null) continue;
        if (j === checkpoint) {
          // Values still more than 90% distinct this far in (ids) will not end up at half.
          if (entries.length * 10 > j * 9) {
            entries = undefined;
            break;
          }
          checkpoint *= 2;
        }
        // Runs of one value (a constant column, sorted keys) skip the map.
        let id = s === previous ? previousId : ids.get(s);
        if (id === undefined) {
          if (entries.length === maxEntries) {
            entries = undefined;
            break;
          }
          id = entries.length;
          ids.set(s, id);
          entries.push(s);
          const before = body.pos;
          writePlainString(body, s);
          plainSizes.push(body.pos - before);
        }
        plainBytes += plainSizes[id];
        indexes[j++] = id;
        previous = s;
        previousId = id;
      }
      if (entries) {
        if (dictionaryWins(entries.length, body.pos, m, plainBytes)) {
          dictionary = { body: body.view0(), count: entries.length };
          writeIndexes(page, indexes, m, entries.length);
        }
      }
    }
    if (!dictionary) {
      page.pos = levelsEnd;
      for (let i = 0; i < n; i++) {
        const s = strings[i];
        if (s !== null) writePlainString(page, s);
      }
    }
    const statistics = stringStatistics(dictionary ? entries! : strings, dictionary ? entries!.length : n, nulls);
    return [writeChunk(ctx, this.spec, PhysicalType.BYTE_ARRAY, n, dictionary ? Encoding.RLE_DICTIONARY : Encoding.PLAIN, dictionary, statistics)];
  }
}

function stringStatistics(values: readonly (string | null)[], count: number, nullCount: number): ChunkStatistics {
  let min: string | undefined;
  let max: string | undefined;
  for (let i = 0; i < count; i++) {
    const s = values[i];
    if (s === null) continue;
    if (min === undefined || compareUtf8(s, min) < 0) min = s;
    if (max === undefined || compareUtf8(s, max) > 0) max = s;
  }
  if (min === undefined || max === undefined) return { nullCount };
  const minBytes = Buffer.from(min, 'utf8');
  const maxBytes = Buffer.from(max, 'utf8');
  if (minBytes.length > MAX_STRING_STATISTIC || maxBytes.length > MAX_STRING_STATISTIC) return { nullCount };
  return { nullCount, min: minBytes, max: maxBytes };
}

/**
 * Compares strings in UTF-8 byte order, which is code point order. JavaScript's `<` compares
 * UTF-16 code units, which misorders supplementary characters against U+E000..U+FFFF; lone
 * surrogates compare as U+FFFD, as they are encoded.
 */
function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  let i = 0;
  while (i < length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === length) return a.length - b.length;
  const ca = a.charCodeAt(i);
  const cb = b.charCodeAt(i);
  if (ca < 0xd800 && cb < 0xd800) return ca - cb;
  // Back up to the start of a surrogate pair and compare code points from there.
  if (i > 0 && (a.charCodeAt(i - 1) & 0xfc00) === 0xd800) i--;
  for (;;) {
    if (i >= a.length || i >= b.length) return a.length - b.length;
    const pa = codePoint(a, i);
    const pb = codePoint(b, i);
    if (pa !== pb) return pa - pb;
    i += pa > 0xffff ? 2 : 1;
  }
}

function codePoint(s: string, i: number): number {
  const c = s.codePointAt(i) ?? 0xfffd;
  return c >= 0xd800 && c <= 0xdfff ? 0xfffd : c;
}
