import { ByteBuf, writeLevels, writePlainDoubles, writePlainString } from './parquet-encoding.js';
import { Encoding, PhysicalType, writeDataPageHeader, type ColumnChunkMeta, type SchemaLeaf } from './parquet-thrift.js';
import type { ColumnBuffer, ColumnSpec, EncodeContext } from './training-columns.js';

/** Parquet's 3-level LIST: definition 0 = null list, 1 = empty list, 2 = an element. */
const NULL_LIST = 0;
const EMPTY_LIST = 1;
const ELEMENT = 2;

/**
 * A list feature as Parquet's standard LIST group, which pyarrow, pandas and DuckDB read as
 * lists: `optional group <name> (LIST) { repeated group list { required <type> element } }`.
 */
export function listSchema(name: string, nullable: boolean, elements: 'double' | 'string'): SchemaLeaf[] {
  return [
    { name, optional: nullable, children: 1, logical: 'list' },
    { name: 'list', optional: false, repeated: true, children: 1 },
    elements === 'double' ? { name: 'element', optional: false, type: PhysicalType.DOUBLE } : { name: 'element', optional: false, type: PhysicalType.BYTE_ARRAY, logical: 'string' },
  ];
}

/** Repetition and definition levels of one leaf under one repeated level, built row by row. */
export class RepeatedLevels {
  reps = new Uint8Array(1024);
  defs = new Uint8Array(1024);
  n = 0;

  push(rep: number, def: number): void {
    if (this.n === this.reps.length) {
      const reps = new Uint8Array(this.n * 2);
      reps.set(this.reps);
      this.reps = reps;
      const defs = new Uint8Array(this.n * 2);
      defs.set(this.defs);
      this.defs = defs;
    }
    this.reps[this.n] = rep;
    this.defs[this.n++] = def;
  }

  /** One row's levels: a null, an empty, or `count` entries. */
  row(value: { length: number } | null, count: number): void {
    if (value === null) this.push(0, NULL_LIST);
    else if (count === 0) this.push(0, EMPTY_LIST);
    else for (let i = 0; i < count; i++) this.push(i === 0 ? 0 : 1, ELEMENT);
  }
}

/**
 * Writes one leaf of a repeated column as a chunk: a v1 data page with repetition levels
 * (bit width 1), definition levels (bit width 2) and PLAIN values. No statistics: the
 * elements are features, and a min/max over them never prunes a read.
 */
export function writeRepeatedChunk(ctx: EncodeContext, path: readonly string[], levels: RepeatedLevels, type: PhysicalType, writeValues: (page: ByteBuf) => void): ColumnChunkMeta {
  const page = ctx.page;
  page.pos = 0;
  writeLevels(page, levels.reps, levels.n, 1);
  writeLevels(page, levels.defs, levels.n, 2);
  writeValues(page);
  const out = ctx.out;
  const start = out.pos;
  const dataPageOffset = ctx.fileOffset + out.pos;
  writeDataPageHeader(out, { pageSize: page.pos, numValues: levels.n, encoding: Encoding.PLAIN });
  out.append(page.view0());
  return { type, path, encodings: [Encoding.PLAIN, Encoding.RLE], numValues: levels.n, size: out.pos - start, dataPageOffset, dataEncoding: Encoding.PLAIN };
}

/**
 * A column with a repeated value per row (a list, a map's entries), held as given until the
 * row group is encoded; `accept` checks and converts one row's value.
 */
export abstract class RepeatedBuffer<T extends { readonly length: number }> implements ColumnBuffer {
  protected values: Array<T | null> = [];

  constructor(readonly spec: ColumnSpec) {}

  /** The row's value, or undefined when it does not fit the column (with `expected` saying what would). */
  protected abstract accept(value: unknown): T | undefined;
  protected abstract readonly expected: string;

  append(source: ArrayLike<unknown> | undefined, from: number, count: number, at: number, row: number): void {
    for (let k = 0; k < count; k++) this.set(at + k, source === undefined ? null : source[from + k], row + k);
  }

  set(i: number, value: unknown, row: number): void {
    while (this.values.length <= i) this.values.push(null);
    if ((value === null || value === undefined) && this.spec.nullable) {
      this.values[i] = null;
      return;
    }
    const accepted = this.accept(value);
    if (accepted === undefined) {
      const got = Array.isArray(value) ? `[${value.map((x) => JSON.stringify(x)).join(', ')}]` : JSON.stringify(value) ?? String(value);
      throw new Error(`skewless: training column "${this.spec.name}" (${this.spec.type}) row ${row}: expected ${this.expected}${this.spec.nullable ? ' or null' : ''}, got ${got}`);
    }
    this.values[i] = accepted;
  }

  /** Repetition and definition levels of the first n rows, and how many items they hold. */
  protected levels(n: number): { levels: RepeatedLevels; count: number } {
    const levels = new RepeatedLevels();
    let count = 0;
    for (let i = 0; i < n; i++) {
      const v = this.values[i] ?? null;
      levels.row(v, v?.length ?? 0);
      count += v?.length ?? 0;
    }
    return { levels, count };
  }

  abstract encode(n: number, ctx: EncodeContext): readonly ColumnChunkMeta[];
}

/** A list<double> or list<string> column: one array (or null) per row. */
export class ListBuffer extends RepeatedBuffer<readonly unknown[]> {
  private readonly elements: 'double' | 'string' = this.spec.type === 'list<string>' ? 'string' : 'double';
  protected readonly expected = `an array of ${this.elements === 'double' ? 'number' : 'string'}s`;

  protected accept(value: unknown): readonly unknown[] | undefined {
    const type = this.elements === 'double' ? 'number' : 'string';
    return Array.isArray(value) && value.every((x) => typeof x === type) ? value : undefined;
  }

  encode(n: number, ctx: EncodeContext): readonly ColumnChunkMeta[] {
    const { levels, count } = this.levels(n);
    const path = [this.spec.name, 'list', 'element'];
    const rows = this.values;
    let chunk: ColumnChunkMeta;
    if (this.elements === 'double') {
      const doubles = new Float64Array(count);
      let j = 0;
      for (let i = 0; i < n; i++) for (const x of rows[i] ?? []) doubles[j++] = x as number;
      chunk = writeRepeatedChunk(ctx, path, levels, PhysicalType.DOUBLE, (page) => writePlainDoubles(page, doubles, count));
    } else {
      chunk = writeRepeatedChunk(ctx, path, levels, PhysicalType.BYTE_ARRAY, (page) => {
        for (let i = 0; i < n; i++) for (const x of rows[i] ?? []) writePlainString(page, x as string);
      });
    }
    this.values = [];
    return [chunk];
  }
}
