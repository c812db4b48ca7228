/**
 * The Thrift compact-protocol structures the training writer needs: page headers and the file
 * footer (FileMetaData), for primitive columns and the LIST / MAP groups of list and map
 * features. Field ids follow parquet.thrift.
 */
import { ByteBuf } from './parquet-encoding.js';

// Compact protocol field types.
const T_TRUE = 1;
const T_FALSE = 2;
const T_I32 = 5;
const T_I64 = 6;
const T_BINARY = 8;
const T_LIST = 9;
const T_STRUCT = 12;

export const PhysicalType = { BOOLEAN: 0, INT32: 1, INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 } as const;
export type PhysicalType = (typeof PhysicalType)[keyof typeof PhysicalType];

export const Encoding = { PLAIN: 0, RLE: 3, DELTA_BINARY_PACKED: 5, RLE_DICTIONARY: 8 } as const;
export type Encoding = (typeof Encoding)[keyof typeof Encoding];

const PageType = { DATA_PAGE: 0, DICTIONARY_PAGE: 2 } as const;
type PageType = (typeof PageType)[keyof typeof PageType];

const textEncoder = new TextEncoder();

/** Writes one struct at a time; nested structs push the last field id. */
class CompactWriter {
  private lastId = 0;
  private readonly stack: number[] = [];

  constructor(readonly out: ByteBuf) {}

  private header(id: number, type: number): void {
    const delta = id - this.lastId;
    if (delta > 0 && delta <= 15) this.out.u8((delta << 4) | type);
    else {
      this.out.u8(type);
      this.out.zigzag(id);
    }
    this.lastId = id;
  }

  i32(id: number, value: number): this {
    this.header(id, T_I32);
    this.out.zigzag(value);
    return this;
  }

  i64(id: number, value: number): this {
    this.header(id, T_I64);
    this.out.zigzag(value);
    return this;
  }

  bool(id: number, value: boolean): this {
    this.header(id, value ? T_TRUE : T_FALSE);
    return this;
  }

  binary(id: number, value: string | Uint8Array): this {
    this.header(id, T_BINARY);
    this.bytes(value);
    return this;
  }

  /** A nested struct field; close it with `end()`. */
  struct(id: number): this {
    this.header(id, T_STRUCT);
    return this.begin();
  }

  /** Starts a struct that is a list element (no field header). */
  begin(): this {
    this.stack.push(this.lastId);
    this.lastId = 0;
    return this;
  }

  end(): this {
    this.out.u8(0);
    this.lastId = this.stack.pop() ?? 0;
    return this;
  }

  list(id: number, elementType: number, size: number): this {
    this.header(id, T_LIST);
    if (size < 15) this.out.u8((size << 4) | elementType);
    else {
      this.out.u8(0xf0 | elementType);
      this.out.varint(size);
    }
    return this;
  }

  /** List elements of type i32. */
  listI32(id: number, values: readonly number[]): this {
    this.list(id, T_I32, values.length);
    for (const v of values) this.out.zigzag(v);
    return this;
  }

  listStrings(id: number, values: readonly string[]): this {
    this.list(id, T_BINARY, values.length);
    for (const v of values) this.bytes(v);
    return this;
  }

  listStructs<T>(id: number, items: readonly T[], write: (item: T) => void): this {
    this.list(id, T_STRUCT, items.length);
    for (const item of items) {
      this.begin();
      write(item);
      this.end();
    }
    return this;
  }

  private bytes(value: string | Uint8Array): void {
    const bytes = typeof value === 'string' ? textEncoder.encode(value) : value;
    this.out.varint(bytes.length);
    this.out.append(bytes);
  }
}

export interface DictionaryPageHeader {
  readonly pageSize: number;
  readonly numValues: number;
}

export interface DataPageHeader {
  readonly pageSize: number;
  /** Values including nulls. */
  readonly numValues: number;
  readonly encoding: Encoding;
}

/** PageHeader of an uncompressed dictionary page (PLAIN values). */
export function writeDictionaryPageHeader(out: ByteBuf, h: DictionaryPageHeader): void {
  const w = new CompactWriter(out).begin();
  w.i32(1, PageType.DICTIONARY_PAGE).i32(2, h.pageSize).i32(3, h.pageSize);
  w.struct(7).i32(1, h.numValues).i32(2, Encoding.PLAIN).end();
  w.end();
}

/** PageHeader of an uncompressed v1 data page (RLE levels). */
export function writeDataPageHeader(out: ByteBuf, h: DataPageHeader): void {
  const w = new CompactWriter(out).begin();
  w.i32(1, PageType.DATA_PAGE).i32(2, h.pageSize).i32(3, h.pageSize);
  w.struct(5).i32(1, h.numValues).i32(2, h.encoding).i32(3, Encoding.RLE).i32(4, Encoding.RLE).end();
  w.end();
}

/**
 * One element of the flattened schema (depth first, as FileMetaData lists it): a leaf with a
 * physical type, or a group with `children` elements following it.
 */
export interface SchemaLeaf {
  readonly name: string;
  readonly type?: PhysicalType;
  readonly optional: boolean;
  /** The repeated level of a LIST or MAP group. */
  readonly repeated?: boolean;
  readonly children?: number;
  readonly logical?: 'string' | 'timestamp-ms-utc' | 'list' | 'map';
}

export interface ChunkStatistics {
  readonly nullCount: number;
  /** Physical min/max bytes (PLAIN representation); absent when unknown. */
  readonly min?: Uint8Array;
  readonly max?: Uint8Array;
}

export interface ColumnChunkMeta {
  readonly type: PhysicalType;
  /** Path of the leaf in the schema: [name] for a flat column, [name, 'list', 'element'] in a list. */
  readonly path: readonly string[];
  /** Encodings used, in the order they appear. */
  readonly encodings: readonly Encoding[];
  readonly numValues: number;
  readonly size: number;
  readonly dataPageOffset: number;
  readonly dictionaryPageOffset?: number;
  readonly dataEncoding: Encoding;
  readonly statistics?: ChunkStatistics;
}

export interface RowGroupMeta {
  readonly columns: readonly ColumnChunkMeta[];
  readonly numRows: number;
  readonly fileOffset: number;
  readonly size: number;
}

export interface FileMeta {
  readonly schema: readonly SchemaLeaf[];
  readonly numRows: number;
  readonly rowGroups: readonly RowGroupMeta[];
  readonly keyValue: readonly { key: string; value: string }[];
  readonly createdBy: string;
}

const CONVERTED_UTF8 = 0;
const CONVERTED_MAP = 1;
const CONVERTED_LIST = 3;
const CONVERTED_TIMESTAMP_MILLIS = 9;

/** How many top-level columns a flattened schema has (groups count once, with their subtree). */
function topLevelCount(schema: readonly SchemaLeaf[]): number {
  let top = 0;
  let pending = 0;
  for (const e of schema) {
    if (pending === 0) top++;
    else pending--;
    pending += e.children ?? 0;
  }
  return top;
}

/** FileMetaData, as Parquet files end with it (without the length and magic). */
export function writeFileMetaData(out: ByteBuf, meta: FileMeta): void {
  const w = new CompactWriter(out).begin();
  w.i32(1, 2);
  w.list(2, T_STRUCT, meta.schema.length + 1);
  w.begin().binary(4, 'root').i32(5, topLevelCount(meta.schema)).end();
  for (const leaf of meta.schema) {
    w.begin();
    if (leaf.type !== undefined) w.i32(1, leaf.type);
    w.i32(3, leaf.repeated ? 2 : leaf.optional ? 1 : 0).binary(4, leaf.name);
    if (leaf.children !== undefined) w.i32(5, leaf.children);
    if (leaf.logical === 'string') w.i32(6, CONVERTED_UTF8).struct(10).struct(1).end().end();
    else if (leaf.logical === 'timestamp-ms-utc') {
      w.i32(6, CONVERTED_TIMESTAMP_MILLIS).struct(10).struct(8).bool(1, true).struct(2).struct(1).end().end().end().end();
    } else if (leaf.logical === 'list') w.i32(6, CONVERTED_LIST).struct(10).struct(3).end().end();
    else if (leaf.logical === 'map') w.i32(6, CONVERTED_MAP).struct(10).struct(2).end().end();
    w.end();
  }
  w.i64(3, meta.numRows);
  w.listStructs(4, meta.rowGroups, (rg) => {
    w.listStructs(1, rg.columns, (c) => {
      w.i64(2, c.dictionaryPageOffset ?? c.dataPageOffset);
      w.struct(3);
      w.i32(1, c.type).listI32(2, c.encodings).listStrings(3, c.path).i32(4, 0);
      w.i64(5, c.numValues).i64(6, c.size).i64(7, c.size).i64(9, c.dataPageOffset);
      if (c.dictionaryPageOffset !== undefined) w.i64(11, c.dictionaryPageOffset);
      const s = c.statistics;
      if (s) {
        w.struct(12).i64(3, s.nullCount);
        if (s.max && s.min) w.binary(5, s.max).binary(6, s.min);
        w.end();
      }
      const stats: [PageType, Encoding][] = c.dictionaryPageOffset === undefined ? [] : [[PageType.DICTIONARY_PAGE, Encoding.PLAIN]];
      stats.push([PageType.DATA_PAGE, c.dataEncoding]);
      w.listStructs(13, stats, ([pageType, encoding]) => void w.i32(1, pageType).i32(2, encoding).i32(3, 1));
      w.end();
    });
    w.i64(2, rg.size).i64(3, rg.numRows).i64(5, rg.fileOffset).i64(6, rg.size);
  });
  if (meta.keyValue.length > 0) w.listStructs(5, meta.keyValue, (kv) => void w.binary(1, kv.key).binary(2, kv.value));
  w.binary(6, meta.createdBy);
  // ColumnOrder: TypeDefinedOrder for every leaf, so readers trust min/max statistics.
  w.listStructs(7, meta.schema.filter((e) => e.children === undefined), () => void w.struct(1).end());
  w.end();
}
