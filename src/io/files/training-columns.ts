import type { ParquetWriter } from 'hyparquet-writer';

/** Column types of training data, each with one fixed Parquet representation. */
export type ColumnType = 'string' | 'int32' | 'int64' | 'double' | 'boolean' | 'timestamp-ms';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable: boolean;
}

// hyparquet-writer bundles its own hyparquet, so take its types from the writer itself.
type WriterOptions = ConstructorParameters<typeof ParquetWriter>[0];
export type SchemaElement = WriterOptions['schema'][number];
export type ColumnSource = Parameters<ParquetWriter['write']>[0]['columnData'][number];

export function schemaElement({ name, type, nullable }: ColumnSpec): SchemaElement {
  const repetition_type = nullable ? 'OPTIONAL' : 'REQUIRED';
  switch (type) {
    case 'string':
      return { name, repetition_type, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
    case 'int32':
      return { name, repetition_type, type: 'INT32' };
    case 'int64':
      return { name, repetition_type, type: 'INT64' };
    case 'double':
      return { name, repetition_type, type: 'DOUBLE' };
    case 'boolean':
      return { name, repetition_type, type: 'BOOLEAN' };
    case 'timestamp-ms':
      // isAdjustedToUTC: event times are instants, so readers show them as UTC timestamps.
      return {
        name,
        repetition_type,
        type: 'INT64',
        converted_type: 'TIMESTAMP_MILLIS',
        logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MILLIS' },
      };
  }
}

/**
 * One row group's worth of one column. Values are validated as they arrive, so an error
 * names the offending row while the caller still knows what it was; numbers live in typed
 * arrays so a 100k-row group does not become 100k boxed heap numbers until it is encoded.
 */
export interface ColumnBuffer {
  readonly spec: ColumnSpec;
  /** Stores `value` at slot `i`; `row` is the file row, for error messages. */
  set(i: number, value: unknown, row: number): void;
  /** The first `n` slots in the form hyparquet-writer encodes; the buffer is reusable afterwards. */
  take(n: number): ColumnSource['data'];
}

export function createColumnBuffer(spec: ColumnSpec, capacity: number): ColumnBuffer {
  switch (spec.type) {
    case 'string':
      return new StringBuffer(spec, capacity);
    case 'boolean':
      return new BooleanBuffer(spec, capacity);
    case 'int32':
    case 'double':
      return new NumberBuffer(spec, capacity);
    case 'int64':
    case 'timestamp-ms':
      return new Int64Buffer(spec, capacity);
  }
}

function reject(spec: ColumnSpec, row: number, value: unknown, expected: string): never {
  const got = typeof value === 'string' ? JSON.stringify(value) : typeof value === 'bigint' ? `${value}n` : String(value);
  const orNull = spec.nullable ? ' or null' : '';
  throw new Error(`skewless: training column "${spec.name}" (${spec.type}) row ${row}: expected ${expected}${orNull}, got ${got}`);
}

class BooleanBuffer implements ColumnBuffer {
  private values: (boolean | null)[];

  constructor(
    readonly spec: ColumnSpec,
    private readonly capacity: number,
  ) {
    this.values = new Array<boolean | null>(capacity);
  }

  set(i: number, value: unknown, row: number): void {
    if (typeof value === 'boolean') this.values[i] = value;
    else if ((value === null || value === undefined) && this.spec.nullable) this.values[i] = null;
    else reject(this.spec, row, value, 'a boolean');
  }

  take(n: number): ColumnSource['data'] {
    const out = n === this.capacity ? this.values : this.values.slice(0, n);
    this.values = new Array<boolean | null>(this.capacity);
    return out as ColumnSource['data'];
  }
}

/**
 * Strings are handed to hyparquet-writer already UTF-8 encoded, as views into one buffer per
 * row group, one view per distinct string. Left as JS strings, the writer encodes each value
 * with its own TextEncoder allocation, which made string columns several times slower than
 * everything else; with shared views its dictionary detection also hits by identity.
 */
class StringBuffer implements ColumnBuffer {
  private values: (string | null)[];

  constructor(
    readonly spec: ColumnSpec,
    private readonly capacity: number,
  ) {
    this.values = new Array<string | null>(capacity);
  }

  set(i: number, value: unknown, row: number): void {
    if (typeof value === 'string') this.values[i] = value;
    else if ((value === null || value === undefined) && this.spec.nullable) this.values[i] = null;
    else reject(this.spec, row, value, 'a string');
  }

  take(n: number): ColumnSource['data'] {
    const strings = this.values;
    this.values = new Array<string | null>(this.capacity);
    let chars = 0;
    for (let i = 0; i < n; i++) chars += strings[i]?.length ?? 0;
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes.
    const bytes = Buffer.allocUnsafe(chars * 3);
    const out = new Array<Uint8Array | null>(n);
    const views = mostlyRepeated(strings, n) ? new Map<string, Uint8Array>() : undefined;
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const s = strings[i];
      if (s === null || s === undefined) {
        out[i] = null;
        continue;
      }
      let view = views?.get(s);
      if (view === undefined) {
        const length = bytes.write(s, pos, 'utf8');
        view = new Uint8Array(bytes.buffer, bytes.byteOffset + pos, length);
        pos += length;
        views?.set(s, view);
      }
      out[i] = view;
    }
    return out as ColumnSource['data'];
  }
}

/**
 * Whether a column chunk is worth deduplicating (categorical values rather than ids), judged
 * on an evenly spread sample like hyparquet-writer's own dictionary decision. Either answer
 * gives the same file; it only decides whether identical strings share one view.
 */
function mostlyRepeated(strings: readonly (string | null)[], n: number): boolean {
  const sample = Math.min(n, 1000);
  const distinct = new Set<string | null>();
  for (let i = 0; i < sample; i++) distinct.add(strings[Math.floor((i * n) / sample)]);
  return distinct.size * 2 <= sample;
}

/** int32 and double: a typed array plus a null mask. */
class NumberBuffer implements ColumnBuffer {
  private readonly values: Int32Array | Float64Array;
  private readonly nulls: Uint8Array;
  private hasNulls = false;

  constructor(
    readonly spec: ColumnSpec,
    capacity: number,
  ) {
    this.values = spec.type === 'int32' ? new Int32Array(capacity) : new Float64Array(capacity);
    this.nulls = new Uint8Array(spec.nullable ? capacity : 0);
  }

  set(i: number, value: unknown, row: number): void {
    if (typeof value === 'number' && (this.spec.type === 'double' || (Number.isInteger(value) && value >= -2147483648 && value <= 2147483647))) {
      this.values[i] = value;
      if (this.spec.nullable) this.nulls[i] = 0;
    } else if ((value === null || value === undefined) && this.spec.nullable) {
      this.nulls[i] = 1;
      this.hasNulls = true;
    } else {
      reject(this.spec, row, value, this.spec.type === 'int32' ? 'a 32-bit integer' : 'a number');
    }
  }

  take(n: number): ColumnSource['data'] {
    if (!this.hasNulls) return this.values.slice(0, n);
    // hyparquet-writer marks nulls by null entries, so a column with nulls must be an Array.
    const out = new Array<number | null>(n);
    for (let i = 0; i < n; i++) out[i] = this.nulls[i] ? null : this.values[i];
    this.hasNulls = false;
    return out as ColumnSource['data'];
  }
}

/**
 * int64 and timestamp-ms: safe integers, bigints or (timestamps) Dates, stored as bigint.
 * A plain array of bigints rather than a BigInt64Array: the writer reads every value several
 * times (statistics, range check, encoding) and each BigInt64Array read allocates a new bigint.
 */
class Int64Buffer implements ColumnBuffer {
  private values: (bigint | null)[];

  constructor(
    readonly spec: ColumnSpec,
    private readonly capacity: number,
  ) {
    this.values = new Array<bigint | null>(capacity);
  }

  set(i: number, value: unknown, row: number): void {
    if (typeof value === 'number' && Number.isSafeInteger(value)) this.values[i] = BigInt(value);
    else if (typeof value === 'bigint' && BigInt.asIntN(64, value) === value) this.values[i] = value;
    else if (value instanceof Date && this.spec.type === 'timestamp-ms' && Number.isSafeInteger(value.getTime())) this.values[i] = BigInt(value.getTime());
    else if ((value === null || value === undefined) && this.spec.nullable) this.values[i] = null;
    else reject(this.spec, row, value, this.spec.type === 'int64' ? 'a safe integer or a 64-bit bigint' : 'epoch milliseconds (an integer) or a Date');
  }

  take(n: number): ColumnSource['data'] {
    const out = n === this.capacity ? this.values : this.values.slice(0, n);
    this.values = new Array<bigint | null>(this.capacity);
    return out as ColumnSource['data'];
  }
}
