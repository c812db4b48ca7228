import { writePlainDoubles, writePlainInt64, writePlainString } from './parquet-encoding.js';
import { PhysicalType, type ColumnChunkMeta, type SchemaLeaf } from './parquet-thrift.js';
import { RepeatedBuffer, RepeatedLevels, writeRepeatedChunk } from './list-column.js';
import type { EncodeContext } from './training-columns.js';

/** Definition level of a map<double> value that is null (the mean of an empty bucket): the entry is there, its value is not. */
const NULL_VALUE = 2;
const VALUE = 3;

/**
 * A map feature as Parquet's standard MAP group, which pyarrow, pandas and DuckDB read as
 * maps: `optional group <name> (MAP) { repeated group key_value { required binary key (UTF8);
 * required int64 value } }` for map<int64>, with an `optional double value` for map<double>
 * (a mean per category is null for an empty bucket). Two leaves; entries in the map's own key
 * order.
 */
export function mapSchema(name: string, nullable: boolean, values: 'int64' | 'double'): SchemaLeaf[] {
  return [
    { name, optional: nullable, children: 1, logical: 'map' },
    { name: 'key_value', optional: false, repeated: true, children: 2 },
    { name: 'key', optional: false, type: PhysicalType.BYTE_ARRAY, logical: 'string' },
    values === 'int64' ? { name: 'value', optional: false, type: PhysicalType.INT64 } : { name: 'value', optional: true, type: PhysicalType.DOUBLE },
  ];
}

type Entries = ReadonlyArray<readonly [string, number | null]>;

/** A map<int64> or map<double> column: one object of string → number (or null) per row, entries in its key order. */
export class MapBuffer extends RepeatedBuffer<Entries> {
  private readonly doubles = this.spec.type === 'map<double>';
  protected readonly expected = this.doubles ? 'an object of string → number or null' : 'an object of string → integer';

  protected accept(value: unknown): Entries | undefined {
    const entries = value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : undefined;
    const fits = this.doubles ? (v: unknown): boolean => v === null || typeof v === 'number' : Number.isSafeInteger;
    return entries !== undefined && entries.every(([, v]) => fits(v)) ? (entries as Array<[string, number | null]>) : undefined;
  }

  encode(n: number, ctx: EncodeContext): readonly ColumnChunkMeta[] {
    const { levels, count } = this.levels(n);
    const rows = this.values;
    const name = this.spec.name;
    const keys = writeRepeatedChunk(ctx, [name, 'key_value', 'key'], levels, PhysicalType.BYTE_ARRAY, (page) => {
      for (let i = 0; i < n; i++) for (const [k] of rows[i] ?? []) writePlainString(page, k);
    });
    const numbers = new Float64Array(count);
    let j = 0;
    let values: ColumnChunkMeta;
    if (this.doubles) {
      // The value leaf is one level deeper than the key: a null value has the entry's level.
      const valueLevels = new RepeatedLevels();
      for (let i = 0; i < n; i++) {
        const row = rows[i] ?? null;
        if (row === null || row.length === 0) valueLevels.row(row, 0);
        else {
          row.forEach(([, v], e) => {
            valueLevels.push(e === 0 ? 0 : 1, v === null ? NULL_VALUE : VALUE);
            if (v !== null) numbers[j++] = v;
          });
        }
      }
      values = writeRepeatedChunk(ctx, [name, 'key_value', 'value'], valueLevels, PhysicalType.DOUBLE, (page) => writePlainDoubles(page, numbers, j));
    } else {
      for (let i = 0; i < n; i++) for (const [, v] of rows[i] ?? []) numbers[j++] = v!;
      values = writeRepeatedChunk(ctx, [name, 'key_value', 'value'], levels, PhysicalType.INT64, (page) => writePlainInt64(page, numbers, count));
    }
    this.values = [];
    return [keys, values];
  }
}
