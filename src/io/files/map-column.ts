import { writePlainInt64, writePlainString } from './parquet-encoding.js';
import { PhysicalType, type ColumnChunkMeta, type SchemaLeaf } from './parquet-thrift.js';
import { RepeatedBuffer, writeRepeatedChunk } from './list-column.js';
import type { EncodeContext } from './training-columns.js';

/**
 * A map feature (string → int64) as Parquet's standard MAP group, which pyarrow, pandas and
 * DuckDB read as maps: `optional group <name> (MAP) { repeated group key_value { required
 * binary key (UTF8); required int64 value } }`. Two leaves with the same levels; entries in the
 * map's own key order.
 */
export function mapSchema(name: string, nullable: boolean): SchemaLeaf[] {
  return [
    { name, optional: nullable, children: 1, logical: 'map' },
    { name: 'key_value', optional: false, repeated: true, children: 2 },
    { name: 'key', optional: false, type: PhysicalType.BYTE_ARRAY, logical: 'string' },
    { name: 'value', optional: false, type: PhysicalType.INT64 },
  ];
}

/** A map<int64> column: one object of string → integer (or null) per row, entries in its key order. */
export class MapBuffer extends RepeatedBuffer<ReadonlyArray<readonly [string, number]>> {
  protected readonly expected = 'an object of string → integer';

  protected accept(value: unknown): ReadonlyArray<readonly [string, number]> | undefined {
    const entries = value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : undefined;
    return entries !== undefined && entries.every(([, v]) => Number.isSafeInteger(v)) ? (entries as Array<[string, number]>) : undefined;
  }

  encode(n: number, ctx: EncodeContext): readonly ColumnChunkMeta[] {
    const { levels, count } = this.levels(n);
    const rows = this.values;
    const name = this.spec.name;
    const keys = writeRepeatedChunk(ctx, [name, 'key_value', 'key'], levels, PhysicalType.BYTE_ARRAY, (page) => {
      for (let i = 0; i < n; i++) for (const [k] of rows[i] ?? []) writePlainString(page, k);
    });
    const ints = new Float64Array(count);
    let j = 0;
    for (let i = 0; i < n; i++) for (const [, v] of rows[i] ?? []) ints[j++] = v;
    const values = writeRepeatedChunk(ctx, [name, 'key_value', 'value'], levels, PhysicalType.INT64, (page) => writePlainInt64(page, ints, count));
    this.values = [];
    return [keys, values];
  }
}
