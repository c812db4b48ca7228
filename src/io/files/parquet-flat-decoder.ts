import type { ColumnChunk, FileMetaData, SchemaElement } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { CompactReader, readPageHeader } from './parquet-page-header.js';
import { decompressZstd } from './zstd-pages.js';

/**
 * A decoder for the common shape of event archives: top-level columns of numbers, timestamps
 * and strings, optional or required, in PLAIN or dictionary pages (v1 or v2), any codec
 * hyparquet-compressors knows. hyparquet decodes the same pages through its nested-data
 * assembly, a boxed BigInt per INT64 value and an array per page, which cost a replay thread
 * about a tenth of its time; this writes each column straight into one array per row group.
 *
 * It covers what it recognises and declines the rest (returns undefined): the caller then
 * decodes that row group with hyparquet, the reference it is tested against value for value.
 * The values are those hyparquet gives with the reader's parsers: numbers, timestamps as epoch
 * milliseconds (floored), dates as epoch milliseconds, strings decoded as UTF-8 with
 * replacement, null where a value is missing, and an INT64 beyond ±2^53 as a bigint, which the
 * caller turns into an error record.
 */

type ValueKind = 'int32' | 'date' | 'int64' | 'ts-ms' | 'ts-us' | 'ts-ns' | 'float' | 'double' | 'string';

/** A column chunk's values, in row order: a typed array when no value is null or a bigint. */
export type FlatColumn = Int32Array | Float64Array | unknown[];

const utf8 = new TextDecoder();

/** A string column chunk whose every data page is dictionary-encoded: its dictionary, and each row's entry (-1 for null). */
export interface StringCodes {
  readonly dictionary: readonly string[];
  readonly codes: Int32Array;
}

const stringCodes = new WeakMap<object, StringCodes>();

/**
 * The dictionary codes behind a string column decodeFlatChunk returned, when its chunk was
 * dictionary-encoded throughout: rows can then be routed and shipped to another thread as
 * small integers instead of strings. Undefined for any other column.
 */
export function dictionaryCodesOf(column: unknown): StringCodes | undefined {
  return typeof column === 'object' && column !== null ? stringCodes.get(column) : undefined;
}

/** What a top-level column decodes as, or undefined when this decoder does not cover it. */
function valueKind(element: SchemaElement): ValueKind | undefined {
  const ctype = element.converted_type;
  const ltype = element.logical_type;
  switch (element.type) {
    case 'INT32':
      if (ctype === undefined && ltype === undefined) return 'int32';
      if (ctype === 'DATE') return 'date';
      return undefined;
    case 'INT64':
      if (ctype === undefined && ltype === undefined) return 'int64';
      if (ctype === 'TIMESTAMP_MILLIS') return 'ts-ms';
      if (ctype === 'TIMESTAMP_MICROS') return 'ts-us';
      if (ctype === undefined && ltype?.type === 'TIMESTAMP') return ltype.unit === 'MILLIS' ? 'ts-ms' : ltype.unit === 'MICROS' ? 'ts-us' : 'ts-ns';
      return undefined;
    case 'FLOAT':
      return ctype === undefined && ltype === undefined ? 'float' : undefined;
    case 'DOUBLE':
      return ctype === undefined && ltype === undefined ? 'double' : undefined;
    case 'BYTE_ARRAY':
      return (ctype === undefined || ctype === 'UTF8') && (ltype === undefined || ltype.type === 'STRING') ? 'string' : undefined;
    default:
      return undefined;
  }
}

/** The leaf of each top-level column that has no children, by name. */
function flatColumns(metadata: FileMetaData): Map<string, SchemaElement> {
  const out = new Map<string, SchemaElement>();
  const schema = metadata.schema;
  // schema[0] is the root; a top-level child with num_children is a group (nested): skipped with its subtree.
  let i = 1;
  const skip = (at: number): number => {
    let next = at + 1;
    for (let c = 0; c < (schema[at].num_children ?? 0); c++) next = skip(next);
    return next;
  };
  while (i < schema.length) {
    const e = schema[i];
    if ((e.num_children ?? 0) === 0 && e.repetition_type !== 'REPEATED') out.set(e.name, e);
    i = skip(i);
  }
  return out;
}

/** The byte range of a column chunk in the file, when this decoder covers the column. */
export interface FlatChunk {
  readonly name: string;
  readonly start: number;
  readonly end: number;
  readonly kind: ValueKind;
  readonly optional: boolean;
  readonly codec: string;
}

/** The chunks of `names` in row group `g`, or undefined when any is not a flat column this decoder covers. */
export function flatChunks(metadata: FileMetaData, g: number, names: readonly string[]): FlatChunk[] | undefined {
  const elements = flatColumns(metadata);
  const chunks: FlatChunk[] = [];
  for (const name of names) {
    const element = elements.get(name);
    const kind = element === undefined ? undefined : valueKind(element);
    const chunk: ColumnChunk | undefined = metadata.row_groups[g].columns.find((c) => c.meta_data?.path_in_schema.length === 1 && c.meta_data.path_in_schema[0] === name);
    const meta = chunk?.meta_data;
    if (element === undefined || kind === undefined || meta === undefined || chunk?.file_path) return undefined;
    const dict = meta.dictionary_page_offset === undefined ? undefined : Number(meta.dictionary_page_offset);
    const data = Number(meta.data_page_offset);
    const start = dict !== undefined && dict > 0 && dict < data ? dict : data;
    chunks.push({ name, start, end: start + Number(meta.total_compressed_size), kind, optional: element.repetition_type === 'OPTIONAL', codec: meta.codec });
  }
  return chunks;
}

const PLAIN = 0;
const PLAIN_DICTIONARY = 2;
const RLE = 3;
const RLE_DICTIONARY = 8;

function decompress(codec: string, input: Uint8Array, length: number): Uint8Array {
  if (codec === 'UNCOMPRESSED') return input;
  if (codec === 'ZSTD') {
    const out = decompressZstd(input, length);
    if (out !== undefined) return out;
  }
  const fn = (compressors as Record<string, ((input: Uint8Array, length: number) => Uint8Array) | undefined>)[codec];
  if (fn === undefined) throw new Error(`unsupported codec ${codec}`);
  const out = fn(input, length);
  if (out.length !== length) throw new Error(`decompressed page length ${out.length} does not match header ${length}`);
  return out;
}

/**
 * The RLE / bit-packed hybrid (levels and dictionary indexes): `count` values of `width` bits
 * from bytes[pos, end) into out[at ..]. Returns the values written.
 */
function readHybrid(bytes: Uint8Array, start: number, end: number, width: number, out: Int32Array, at: number, count: number): number {
  let n = 0;
  const byteWidth = (width + 7) >> 3;
  const reader = new CompactReader(bytes, start);
  let pos = start;
  while (n < count && pos < end) {
    reader.pos = pos;
    const header = reader.varint();
    pos = reader.pos;
    if ((header & 1) === 0) {
      const run = Math.floor(header / 2);
      let value = 0;
      for (let k = 0; k < byteWidth; k++) value |= bytes[pos++] << (8 * k);
      const take = Math.min(run, count - n);
      out.fill(value, at + n, at + n + take);
      n += take;
    } else if (width <= 24) {
      // Bit-packed run, values of at most 24 bits: whole bytes shifted into a 31-bit accumulator.
      const values = Math.floor(header / 2) * 8;
      const mask = (1 << width) - 1;
      const base = pos;
      let p = base;
      let acc = 0;
      let bits = 0;
      for (let v = 0; v < values; v++) {
        while (bits < width) {
          acc |= bytes[p++] << bits;
          bits += 8;
        }
        if (n < count) out[at + n++] = acc & mask;
        acc >>>= width;
        bits -= width;
      }
      pos = base + ((values * width) >> 3);
    } else {
      const values = Math.floor(header / 2) * 8;
      let bit = 0;
      const base = pos;
      const mask = width === 32 ? -1 : (1 << width) - 1;
      for (let v = 0; v < values; v++) {
        let value = 0;
        for (let got = 0; got < width; ) {
          const byte = bytes[base + (bit >> 3)];
          const off = bit & 7;
          const take = Math.min(8 - off, width - got);
          value |= ((byte >> off) & ((1 << take) - 1)) << got;
          got += take;
          bit += take;
        }
        if (n < count) out[at + n++] = value & mask;
      }
      pos = base + ((values * width) >> 3);
    }
  }
  if (n < count) throw new Error(`levels or indexes end after ${n} of ${count} values`);
  return n;
}

/** An INT64 as hyparquet's value with the reader's parsers: a number, or a bigint beyond ±2^53. */
function int64Value(view: DataView, pos: number, kind: ValueKind): number | bigint {
  const lo = view.getUint32(pos, true);
  const hi = view.getInt32(pos + 4, true);
  // Exact and safe as a number while -2^21 < hi < 2^21 (hi = -2^21 holds -2^53, which is not safe).
  if (hi > -0x200000 && hi < 0x200000) {
    const v = hi * 4294967296 + lo;
    if (kind === 'int64' || kind === 'ts-ms') return v;
    return floorDivExact(v, kind === 'ts-us' ? 1000 : 1_000_000);
  }
  const big = view.getBigInt64(pos, true);
  if (kind === 'int64' || kind === 'ts-ms') return big;
  const d = kind === 'ts-us' ? 1000n : 1_000_000n;
  const q = big / d;
  const floored = big < 0n && q * d !== big ? q - 1n : q;
  const n = Number(floored);
  return Number.isSafeInteger(n) ? n : floored;
}

/** floor(v / d) for a safe integer v, exactly (a float division can round across an integer). */
function floorDivExact(v: number, d: number): number {
  let q = Math.trunc(v / d);
  const r = v - q * d;
  if (r < 0) q -= 1;
  else if (r >= d) q += 1;
  return q;
}

/** One column chunk's values (or a dictionary's) as they are decoded: numbers in a typed array, with the rare nulls and bigints beside. */
class ChunkValues {
  readonly nums: Float64Array | undefined;
  readonly strs: Array<string | null> | undefined;
  /** 1 where the value is null. */
  nulls: Uint8Array | undefined;
  bigs: Map<number, bigint> | undefined;

  constructor(
    readonly kind: ValueKind,
    readonly rows: number,
  ) {
    if (kind === 'string') this.strs = new Array<string | null>(rows);
    else this.nums = new Float64Array(rows);
  }

  setNull(i: number): void {
    if (this.strs !== undefined) this.strs[i] = null;
    else (this.nulls ??= new Uint8Array(this.rows))[i] = 1;
  }

  /** Slot i as decoded (a dictionary holds no null). */
  at(i: number): unknown {
    if (this.strs !== undefined) return this.strs[i];
    return this.bigs?.get(i) ?? this.nums![i];
  }

  set(i: number, v: unknown): void {
    if (this.strs !== undefined) this.strs[i] = v as string;
    else if (typeof v === 'number') this.nums![i] = v;
    else (this.bigs ??= new Map()).set(i, v as bigint);
  }

  /** A typed array when no value is null or a bigint (small integers as Int32, so rows hold them unboxed). */
  result(): FlatColumn {
    if (this.strs !== undefined) return this.strs;
    const nums = this.nums!;
    if (this.nulls === undefined && this.bigs === undefined) {
      if (this.kind === 'float' || this.kind === 'double') return nums;
      for (let i = 0; i < nums.length; i++) if ((nums[i] | 0) !== nums[i]) return nums;
      return Int32Array.from(nums);
    }
    const out = new Array<unknown>(nums.length);
    for (let i = 0; i < nums.length; i++) out[i] = this.nulls?.[i] === 1 ? null : (this.bigs?.get(i) ?? nums[i]);
    return out;
  }
}

/** PLAIN values of a data page into rows row.. (levels: 0 = null), from page[at ..]. */
function plainInto(page: Uint8Array, at: number, out: ChunkValues, row: number, count: number, levels: Int32Array | undefined): void {
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const end = page.length;
  const kind = out.kind;
  const nums = out.nums;
  let pos = at;
  const width = kind === 'int32' || kind === 'date' || kind === 'float' ? 4 : 8;
  for (let i = 0; i < count; i++) {
    if (levels !== undefined && levels[i] === 0) {
      out.setNull(row + i);
      continue;
    }
    if (kind === 'string') {
      const len = view.getUint32(pos, true);
      pos += 4;
      if (pos + len > end) throw new Error('string runs past its page');
      out.strs![row + i] = utf8.decode(page.subarray(pos, pos + len));
      pos += len;
      continue;
    }
    if (pos + width > end) throw new Error('values run past their page');
    if (kind === 'double') nums![row + i] = view.getFloat64(pos, true);
    else if (kind === 'int32') nums![row + i] = view.getInt32(pos, true);
    else if (kind === 'float') nums![row + i] = view.getFloat32(pos, true);
    else if (kind === 'date') nums![row + i] = view.getInt32(pos, true) * 86_400_000;
    else {
      const v = int64Value(view, pos, kind);
      if (typeof v === 'number') nums![row + i] = v;
      else out.set(row + i, v);
    }
    pos += width;
  }
}

/** out[row + i] = dict[indexes[i]] for i < count (and the codes of a string chunk), when the page has no null and the dictionary no bigint. */
function gather(indexes: Int32Array, count: number, dict: ChunkValues, out: ChunkValues, row: number, codes: Int32Array | undefined, name: string): void {
  const entries = dict.rows;
  for (let i = 0; i < count; i++) if (indexes[i] >= entries) throw new Error(`column ${name}: dictionary index ${indexes[i]} beyond its ${entries} entries`);
  if (out.strs !== undefined) {
    const strs = out.strs;
    const words = dict.strs!;
    for (let i = 0; i < count; i++) strs[row + i] = words[indexes[i]];
    if (codes !== undefined) codes.set(indexes.subarray(0, count), row);
  } else {
    const nums = out.nums!;
    const values = dict.nums!;
    for (let i = 0; i < count; i++) nums[row + i] = values[indexes[i]];
  }
}

/**
 * The values of one column chunk (bytes from the file, `rows` rows), or an error for a page it
 * cannot read; undefined for an encoding or page kind it does not cover.
 */
export function decodeFlatChunk(bytes: Uint8Array, chunk: FlatChunk, rows: number): FlatColumn | undefined {
  let dictionary: ChunkValues | undefined;
  const out = new ChunkValues(chunk.kind, rows);
  // Scratch for a page's levels and dictionary indexes, grown to the largest page.
  let levels = new Int32Array(0);
  let indexes = new Int32Array(0);
  let row = 0;
  let pos = 0;
  // A string chunk's dictionary code per row, while every data page is dictionary-encoded.
  let codes: Int32Array | undefined = chunk.kind === 'string' ? new Int32Array(rows) : undefined;
  const reader = new CompactReader(bytes, 0);
  while (row < rows) {
    if (pos >= bytes.length) throw new Error(`column ${chunk.name} ends after ${row} of ${rows} rows`);
    reader.pos = pos;
    const h = readPageHeader(reader);
    const body = reader.pos;
    pos = body + h.compressed;
    if (h.compressed < 0 || pos > bytes.length) throw new Error(`page of column ${chunk.name} runs past its chunk`);
    if (h.type === 1) continue; // index page
    if (h.type === 2) {
      if (h.encoding !== PLAIN && h.encoding !== PLAIN_DICTIONARY) return undefined;
      const page = decompress(chunk.codec, bytes.subarray(body, pos), h.uncompressed);
      // Codes taken before a second dictionary would point into the first.
      if (row > 0) codes = undefined;
      dictionary = new ChunkValues(chunk.kind, h.numValues);
      plainInto(page, 0, dictionary, 0, h.numValues, undefined);
      continue;
    }
    if (h.type !== 0 && h.type !== 3) return undefined;
    const count = h.numValues;
    if (row + count > rows) throw new Error(`column ${chunk.name} holds more values than its row group's ${rows} rows`);
    if (chunk.optional && levels.length < count) levels = new Int32Array(count);
    let page: Uint8Array;
    let at = 0;
    if (h.type === 0) {
      page = decompress(chunk.codec, bytes.subarray(body, pos), h.uncompressed);
      if (chunk.optional) {
        if (h.defEncoding !== RLE) return undefined;
        const len = new DataView(page.buffer, page.byteOffset, page.byteLength).getUint32(0, true);
        readHybrid(page, 4, 4 + len, 1, levels, 0, count);
        at = 4 + len;
      }
    } else {
      if (h.repBytes !== 0) return undefined;
      if (chunk.optional) readHybrid(bytes, body, body + h.defBytes, 1, levels, 0, count);
      const raw = bytes.subarray(body + h.defBytes, pos);
      page = h.isCompressed ? decompress(chunk.codec, raw, h.uncompressed - h.defBytes) : raw;
    }
    const pageLevels = chunk.optional ? levels : undefined;
    if (h.encoding === PLAIN) {
      codes = undefined;
      plainInto(page, at, out, row, count, pageLevels);
    }
    else if (h.encoding === RLE_DICTIONARY || h.encoding === PLAIN_DICTIONARY) {
      if (dictionary === undefined) throw new Error(`column ${chunk.name}: dictionary-encoded page without a dictionary`);
      let present = count;
      if (pageLevels !== undefined) {
        present = 0;
        for (let i = 0; i < count; i++) present += pageLevels[i];
      }
      if (indexes.length < present) indexes = new Int32Array(present);
      const width = page[at];
      if (present > 0) {
        if (width === 0) indexes.fill(0, 0, present);
        else readHybrid(page, at + 1, page.length, width, indexes, 0, present);
      }
      const dict = dictionary;
      if (present === count && dict.bigs === undefined) {
        // No null on the page and plain dictionary values: a straight gather.
        gather(indexes, count, dict, out, row, codes, chunk.name);
        row += count;
        continue;
      }
      let v = 0;
      for (let i = 0; i < count; i++) {
        if (pageLevels !== undefined && pageLevels[i] === 0) {
          out.setNull(row + i);
          if (codes !== undefined) codes[row + i] = -1;
          continue;
        }
        const k = indexes[v++];
        if (k >= dict.rows) throw new Error(`column ${chunk.name}: dictionary index ${k} beyond its ${dict.rows} entries`);
        out.set(row + i, dict.at(k));
        if (codes !== undefined) codes[row + i] = k;
      }
    } else return undefined;
    row += count;
  }
  const result = out.result();
  if (codes !== undefined && dictionary?.strs !== undefined) stringCodes.set(result, { dictionary: dictionary.strs as string[], codes });
  return result;
}
